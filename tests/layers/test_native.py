"""The C++ LSTM scan (layers/native.py, lstm_scan.cpp) equals the readable reference path: forward and
every gradient in float64 (eval, and train mode with the same seed), float64 gradcheck, float32 against
torch.nn.LSTM where the cell is torch's, and the same result on several threads as on one.

Skipped only where no C++ compiler exists; with a compiler, a failing build fails these tests."""

import pytest
import torch

from rnnkit import LSTM, Recurrent, RecurrentConfig
from rnnkit.layers import native
from tests.layers.test_fast_vs_reference import (B, D, LAYOUTS, LENGTHS, TRAIN_VARIANTS, VARIANTS, T,
                                                 assert_seed_matters,
                                                 compare, twins)
from tests.layers.test_gradcheck import gradcheck_layer
from tests.reference import randomize_layer_norm

pytestmark = pytest.mark.skipif(native._compiler() is None, reason="no C++ compiler")

LSTM_VARIANTS = {name: v for name, v in VARIANTS.items() if v[0] == "lstm" and "proj_size" not in v[1]}
LSTM_VARIANTS["lstm peephole+layer_norm+zoneout"] = ("lstm", {"peephole": True, "layer_norm": True, "zoneout": 0.3,
                                                              "zoneout_cell": 0.2})
LSTM_TRAIN_VARIANTS = {name: v for name, v in TRAIN_VARIANTS.items() if v[0] == "lstm"}
LSTM_TRAIN_VARIANTS["lstm layer_norm+recurrent_dropout+zoneout"] = (
    "lstm", {"layer_norm": True, "recurrent_dropout": 0.3, "zoneout": 0.2, "zoneout_cell": 0.3})


def test_the_library_builds():
    assert native.available(), native.unavailable_reason()


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("variant", LSTM_VARIANTS.values(), ids=LSTM_VARIANTS.keys())
def test_native_equals_reference(variant, layout, lengths):
    mode, options = variant
    fast, reference = twins(mode, options, ("native", "reference"), *layout)
    compare(fast, reference, lengths)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("variant", LSTM_TRAIN_VARIANTS.values(), ids=LSTM_TRAIN_VARIANTS.keys())
def test_native_equals_reference_in_train_mode_with_the_same_seed(variant, lengths):
    mode, options = variant
    fast, reference = twins(mode, options, ("native", "reference"), *LAYOUTS["L2 bi"])
    x, state = compare(fast, reference, lengths, train=True, seed=7)
    assert_seed_matters(fast, x, state, lengths)


GRADCHECK = {
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "everything": {"peephole": True, "layer_norm": True, "zoneout": 0.3, "zoneout_cell": 0.2, "bias": False},
}


@pytest.mark.parametrize("options", GRADCHECK.values(), ids=GRADCHECK.keys())
def test_native_gradcheck(options):
    layer = Recurrent(RecurrentConfig("lstm", input_size=2, hidden_size=3, bidirectional=True, backend="native", **options))
    randomize_layer_norm(layer)
    gradcheck_layer(layer.double(), [3, 1])


def test_native_float32_equals_torch_lstm_with_the_same_weights():
    """With no variant option the C++ scan computes exactly torch.nn.LSTM: outputs and gradients."""
    torch.manual_seed(1)
    reference = torch.nn.LSTM(5, 19, batch_first=True)  # 19: a vector width's tail in every row
    ours = Recurrent.from_torch(reference, backend="native")
    x = torch.randn(6, 7, 5, requires_grad=True)
    y, (h, c) = ours(x)
    y_ref, (h_ref, c_ref) = reference(x)
    torch.testing.assert_close((y, h, c), (y_ref, h_ref, c_ref))
    grads = torch.autograd.grad((y ** 2).sum() + c.sum(), [x, *ours.parameters()])
    grads_ref = torch.autograd.grad((y_ref ** 2).sum() + c_ref.sum(), [x, *reference.parameters()])
    torch.testing.assert_close(grads, grads_ref)


def test_native_saturates_as_torch_does():
    """Pre-activations far outside exp's float range (|x| ~ 1e3): the loop's own exp clamps its input, so
    the gates saturate to 0 and 1 exactly as torch.nn.LSTM's do, with no inf or NaN anywhere."""
    torch.manual_seed(2)
    reference = torch.nn.LSTM(3, 21, batch_first=True)
    ours = Recurrent.from_torch(reference, backend="native")
    x = torch.randn(4, 6, 3) * 1000
    y, (h, c) = ours(x)
    y_ref, (h_ref, c_ref) = reference(x)
    assert torch.isfinite(y).all() and torch.isfinite(c).all()
    torch.testing.assert_close((y, h, c), (y_ref, h_ref, c_ref))


def test_several_threads_compute_what_one_does():
    """The batch rows are split over threads; each must get exactly its rows' result."""
    layer = LSTM(4, 37, layer_norm=True, peephole=True, zoneout=0.2, backend="native").double().train()
    x = torch.randn(9, 6, 4, dtype=torch.float64, requires_grad=True)
    results = []
    threads = torch.get_num_threads()
    try:
        for n in (1, 3):
            torch.set_num_threads(n)
            torch.manual_seed(5)
            y, _ = layer(x, lengths=[6, 2, 5, 6, 1, 3, 6, 4, 6])
            results.append((y, *torch.autograd.grad(y.square().sum(), [x, *layer.parameters()])))
    finally:
        torch.set_num_threads(threads)
    torch.testing.assert_close(results[0], results[1])  # a row given another's result would be off by O(1)


def test_native_refuses_what_it_does_not_compute():
    layer = LSTM(3, 4, peephole=True, backend="native")
    with pytest.raises(ValueError, match="CPU in float32 or float64 .*torch.compile, got torch.float16"):
        layer.half()(torch.randn(2, 3, 3).half())


def test_kept_buffers_are_never_handed_out_while_in_use():
    """The C++ loop keeps its large buffers between calls; one still held (an output, a saved tensor of
    a graph not yet run backward, a view) must never be reused. Two graphs alive at once, outputs kept
    across calls, then both backward: everything equals the reference path."""
    fast, reference = (layer.eval() for layer in twins("lstm", {"peephole": True, "layer_norm": True, "zoneout": 0.2},
                                                     ("native", "reference")))
    xs = [torch.randn(B, T, D, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    with torch.no_grad():
        kept = [fast(x)[0] for x in xs]  # inference outputs, all held
    expected = [reference(x)[0] for x in xs]
    torch.testing.assert_close(kept, [e.detach() for e in expected])
    view = fast(xs[0])[0][:, 1:]  # only a view of the output held
    graphs = [fast(x)[0] for x in xs[1:]]  # two graphs alive
    torch.testing.assert_close(view, expected[0][:, 1:].detach())
    grads = [torch.autograd.grad(y.square().sum(), [x, *fast.parameters()]) for y, x in zip(graphs, xs[1:])]
    ref_grads = [torch.autograd.grad(y.square().sum(), [x, *reference.parameters()]) for y, x in zip(expected[1:], xs[1:])]
    torch.testing.assert_close(grads, ref_grads)


def test_a_model_inside_torch_compile_runs_the_traceable_scan():
    """torch.compile traces the model: the C++ op (no fake-tensor kernel) and the private oneDNN product
    (no inductor lowering) step aside for the compiled scan and F.linear; same results, both ways."""
    torch.manual_seed(4)
    layer = LSTM(4, 8, peephole=True, zoneout=0.2).eval()
    assert layer.path == "native"
    x = torch.randn(2, 5, 4, requires_grad=True)
    y, _ = torch.compile(layer)(x)
    y_eager, _ = layer(x)
    torch.testing.assert_close(y, y_eager)
    torch.testing.assert_close(torch.autograd.grad(y.sum(), x), torch.autograd.grad(y_eager.sum(), x))


def test_kept_buffers_do_not_pile_up_when_shapes_change():
    """Batches of varying length each need buffers of another shape: the free ones of other shapes are
    let go, so what stays kept is one call's worth, whatever the number of distinct shapes seen."""
    layer = LSTM(3, 16, peephole=True, backend="native").train()
    held = []
    for steps in range(5, 25):
        x = torch.randn(4, steps, 3, requires_grad=True)
        layer(x)[0].sum().backward()
        held.append(torch.ops.rnnkit.kept_free_bytes())
    one_call = 4 * 24 * 4 * (16 + 16 + 64 + 64)  # hs, cs, ghs, da at the longest T, in float32
    assert 0 < held[-1] <= one_call
