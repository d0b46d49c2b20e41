"""The CUDA paths, run only where a GPU is (CI has none; these are skipped there and run on a lent GPU,
`bash bench/gpu.sh`): the fused path on cuDNN equals torch.nn on cuDNN, outputs and every gradient,
in float64; the compiled scan on CUDA equals the readable reference path; bf16 autocast runs; and each
of the five task pipelines trains with train.device=cuda and evaluates its result."""

import warnings

import pytest
import torch
from torch import nn

from rnnkit import LSTMState, Recurrent, RecurrentConfig
from rnnkit.cli import main
from tests.reference import assert_same_forward_and_grads, random_state, randomize_layer_norm, run_torch, torch_names

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

B, T, D, H = 4, 7, 3, 5
LENGTHS = [3, 7, 1, 6]


def torch_module(mode, num_layers, bidirectional, proj_size=0):
    common = dict(num_layers=num_layers, batch_first=True, bidirectional=bidirectional)
    if mode == "lstm":
        return nn.LSTM(D, H, proj_size=proj_size, **common)
    return nn.GRU(D, H, **common) if mode == "gru" else nn.RNN(D, H, nonlinearity=mode[4:], **common)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("layout", [(1, False), (2, True)], ids=["L1", "L2-bi"])
@pytest.mark.parametrize("mode, proj", [("lstm", 0), ("lstm", 2), ("gru", 0), ("rnn_tanh", 0), ("rnn_relu", 0)])
def test_fused_equals_torch_nn_on_cudnn(mode, proj, layout, lengths):
    theirs = torch_module(mode, *layout, proj_size=proj).double().cuda()
    ours = Recurrent.from_torch(theirs)
    assert ours.path == "fused" and next(ours.parameters()).is_cuda
    x = torch.randn(B, T, D, dtype=torch.float64, device="cuda")
    state = [s.cuda() for s in random_state(ours, B)]
    lstm = mode == "lstm"

    def ours_fn(x, *state):
        return ours(x, LSTMState(*state) if lstm else state[0], lengths)

    def theirs_fn(x, *state):
        return run_torch(theirs, x, tuple(state) if lstm else state[0], lengths)

    assert_same_forward_and_grads(ours_fn, theirs_fn, [x, *state], torch_names(ours), dict(theirs.named_parameters()))


@pytest.mark.parametrize("dropout, buffers", [(0.0, 1), (0.2, 2)], ids=["one call", "a call per layer"])
def test_cudnn_reads_the_parameters_in_place(dropout, buffers):
    """After .cuda() the parameters are views of one buffer in cuDNN's layout, as torch.nn keeps them
    (one per layer when dropout between the layers makes them run a call each), so cuDNN does not copy
    them at every call; loading and optimizer steps keep them there."""
    ours = Recurrent(RecurrentConfig("lstm", input_size=D, hidden_size=H, num_layers=2, bidirectional=True, dropout=dropout)).cuda()
    storages = {p.untyped_storage().data_ptr() for p in ours.parameters()}
    assert len(storages) == buffers
    ours.load_state_dict({k: torch.randn_like(v) for k, v in ours.state_dict().items()})
    optimizer = torch.optim.AdamW(ours.parameters())
    ours(torch.randn(B, T, D, device="cuda"))[0].sum().backward()
    optimizer.step()
    assert {p.untyped_storage().data_ptr() for p in ours.parameters()} == storages
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours(torch.randn(B, T, D, device="cuda"))
        ours.eval()(torch.randn(B, T, D, device="cuda"))
    copies = [str(w.message) for w in caught if "contiguous chunk of memory" in str(w.message)]
    assert not copies, copies


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_between_layer_dropout_on_cuda_is_rnnkit_s_own(mode):
    """Training with dropout between layers on cuDNN: rnnkit draws the masks (not cuDNN, whose
    generator no checkpoint holds), so the fused path equals the reference path from the same seed."""
    cfg = RecurrentConfig(mode, input_size=D, hidden_size=H, num_layers=3, bidirectional=True, dropout=0.4)
    fast, slow = Recurrent(cfg), Recurrent(RecurrentConfig(**{**cfg.__dict__, "backend": "reference"}))
    slow.load_state_dict(fast.state_dict())
    fast, slow = fast.double().cuda(), slow.double().cuda()
    assert fast.path == "fused"
    x = torch.randn(B, T, D, dtype=torch.float64, device="cuda")

    def seeded(module):
        def fn(x):
            torch.manual_seed(3)
            return module(x)
        return fn

    assert_same_forward_and_grads(seeded(fast), seeded(slow), [x], torch_names(fast), torch_names(slow))
    assert not torch.allclose(seeded(fast)(x)[0], fast.eval()(x)[0])


VARIANTS = {
    "lstm peephole": ("lstm", {"peephole": True}),
    "lstm layer_norm": ("lstm", {"layer_norm": True}),
    "lstm zoneout": ("lstm", {"zoneout": 0.3, "zoneout_cell": 0.2}),
    "lstm recurrent_dropout": ("lstm", {"recurrent_dropout": 0.3}),
    "gru cho": ("gru", {"reset_after": False}),
    "rnn_tanh zoneout": ("rnn_tanh", {"zoneout": 0.25}),
}


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", VARIANTS)
def test_compiled_scan_on_cuda_equals_the_reference_path(name, training):
    mode, options = VARIANTS[name]
    cfg = RecurrentConfig(mode, input_size=D, hidden_size=H, num_layers=2, bidirectional=True, **options)
    fast, slow = Recurrent(cfg), Recurrent(RecurrentConfig(**{**cfg.__dict__, "backend": "reference"}))
    randomize_layer_norm(fast)
    slow.load_state_dict(fast.state_dict())
    fast, slow = fast.double().cuda().train(training), slow.double().cuda().train(training)
    assert fast.path == "compiled"
    x = torch.randn(B, T, D, dtype=torch.float64, device="cuda")
    lengths = torch.tensor(LENGTHS, device="cuda")

    def run(layer):
        def fn(x):
            torch.manual_seed(5)  # the same masks on both paths (drawn in the same order)
            return layer(x, None, lengths)
        return fn

    assert_same_forward_and_grads(run(fast), run(slow), [x], torch_names(fast), torch_names(slow))


@pytest.mark.parametrize("options", [{}, {"peephole": True}], ids=["fused", "compiled"])
def test_bf16_autocast_on_cuda_is_close_to_float32(options):
    layer = Recurrent(RecurrentConfig("lstm", input_size=16, hidden_size=32, num_layers=2, **options)).cuda()
    x = torch.randn(8, 20, 16, device="cuda")
    reference, _ = layer(x)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        y, state = layer(x)
        y.float().sum().backward()
    # cuDNN's RNN under autocast computes in float16, whatever the autocast dtype (torch.nn.LSTM too);
    # the scan keeps its state in the input's dtype (tests/layers/test_autocast.py)
    assert y.dtype in (torch.float16, torch.float32) and state.h.shape == (2, 8, 32)
    assert (y.float() - reference).abs().max() < 0.05
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())


# --- the task pipelines with train.device=cuda -------------------------------------------------------

GPU = ["--set", "train.device=cuda", "--set", "train.bf16=true"]


def test_language_model_trains_on_cuda_resumes_and_generates(tmp_path, capsys):
    """Checkpoints of a model whose parameters share cuDNN's buffer save and load, and a run resumed
    from its step-3 checkpoint on the GPU ends as close to the uninterrupted run as a second
    uninterrupted run does (GPU kernels need not be bitwise deterministic; on a CPU resuming is
    bit-exact, tests/training/test_resume.py)."""
    from safetensors.torch import load_file

    from rnnkit.training import checkpoint as ckpt
    from tests.test_cli_lm import TEXT, TINY
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")

    def train(name):
        out = str(tmp_path / name)
        assert main(["train", "lm", "--data", str(corpus), "--out", out, "--quiet", *TINY, *GPU,
                     "--set", "train.restore_best=false"]) == 0
        return out, tmp_path / name / "checkpoints"

    def weights(checkpoints, step):
        return load_file(str(checkpoints / f"step-{step:08d}" / "model.safetensors"))

    out, checkpoints = train("run")
    first, step3 = weights(checkpoints, 6), weights(checkpoints, 3)
    second = weights(train("again")[1], 6)
    ckpt.set_pointer(str(checkpoints), "last", str(checkpoints / "step-00000003"))
    assert main(["resume", out, "--quiet"]) == 0
    resumed = weights(checkpoints, 6)
    assert resumed.keys() == first.keys()
    for name in resumed:
        off, repeat = (resumed[name] - first[name]).norm(), (second[name] - first[name]).norm()
        moved = (first[name] - step3[name]).norm()
        assert off <= 3 * repeat + 1e-4 * moved, (
            f"{name}: the resumed run ends {off:.3g} from the first run, a repeated run {repeat:.3g} "
            f"(steps 4-6 moved it {moved:.3g})")
    capsys.readouterr()
    assert main(["generate", out, "--prompt", "line", "--max-tokens", "20", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("line")


def test_classifier_trains_on_cuda(tmp_path, capsys):
    from tests.test_cli_classify import TINY, reviews, write_csv
    data = write_csv(tmp_path / "train.csv", reviews(240))
    out = str(tmp_path / "run")
    assert main(["train", "classify", "--data", data, "--out", out, "--quiet", *TINY, *GPU,
                 "--set", "train.max_epochs=8", "--set", "train.eval_every=30", "--set", "train.monitor=accuracy"]) == 0
    assert main(["evaluate", out, "--data", write_csv(tmp_path / "test.csv", reviews(60, seed=1))]) == 0


def test_tagger_trains_on_cuda(tmp_path):
    from tests.test_cli_tag import TINY, sentences, write_conll
    train, valid = write_conll(tmp_path / "train.txt", sentences(200)), write_conll(tmp_path / "valid.txt", sentences(40, 1))
    assert main(["train", "tag", "--data", train, "--valid", valid, "--out", str(tmp_path / "run"), "--quiet", *TINY,
                 *GPU, "--set", "train.max_epochs=2", "--set", "train.eval_every=20", "--set", "train.monitor=f1"]) == 0


def test_seq2seq_trains_on_cuda(tmp_path):
    from tests.test_cli_seq2seq import TINY, pairs, write_pairs
    files = write_pairs(tmp_path, "train", pairs(400)) + write_pairs(tmp_path, "valid", pairs(40, seed=1))
    assert main(["train", "seq2seq", "--source", files[0], "--target", files[1], "--valid-source", files[2],
                 "--valid-target", files[3], "--out", str(tmp_path / "run"), "--quiet", *TINY, *GPU,
                 "--set", "train.max_steps=20", "--set", "train.eval_every=10"]) == 0


def test_forecaster_trains_on_cuda(tmp_path):
    from tests.test_cli_forecast import TINY, write_series
    data = write_series(tmp_path / "series.csv")
    assert main(["train", "forecast", "--data", data, "--target", "load", "--target", "temp", "--covariates", "wind",
                 "--horizon", "6", "--context", "24", "--out", str(tmp_path / "run"), "--quiet", *TINY, *GPU,
                 "--set", "model.likelihood=gaussian", "--set", "train.max_steps=20", "--set", "train.eval_every=10",
                 "--set", "data.train_size=0.6", "--set", "data.valid_size=0.2"]) == 0

