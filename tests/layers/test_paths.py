"""Which path runs (Recurrent.path) and why (explain()); the LSTM variants run the C++ scan where it
applies; RNNKIT_COMPILE=0 and a missing compiler fall back to the eager scan; a failing torch.compile falls back with a warning; the scan's no-grad
inference loop equals its autograd forward."""

from types import SimpleNamespace

import pytest
import torch

import rnnkit.layers.native as native_module
import rnnkit.layers.paths as paths
import rnnkit.layers.scan as scan_module
from rnnkit import GRU, LSTM, Recurrent, RecurrentConfig
from rnnkit.cells.state import as_parts

B, T, D, H = 2, 4, 3, 4
FUSABLE = {
    "lstm": ("lstm", {}),
    "lstm proj bi L2": ("lstm", {"proj_size": 2, "bidirectional": True, "num_layers": 2}),
    "lstm no bias keras forget_bias": ("lstm", {"bias": False, "init": "keras"}),
    "lstm forget_bias": ("lstm", {"forget_bias": 1.0}),
    "lstm weight_dropout": ("lstm", {"weight_dropout": 0.5}),
    "lstm all dropouts variational": ("lstm", {"dropout": 0.2, "input_dropout": 0.2, "output_dropout": 0.2,
                                               "variational": True, "weight_dropout": 0.2, "num_layers": 2}),
    "gru": ("gru", {}),
    "gru weight_dropout": ("gru", {"weight_dropout": 0.3}),
    "rnn_tanh": ("rnn_tanh", {}),
    "rnn_relu dropout": ("rnn_relu", {"dropout": 0.3, "num_layers": 2}),
}
BLOCKED = {
    "lstm peephole": ("lstm", {"peephole": True}, "peephole"),
    "lstm layer_norm": ("lstm", {"layer_norm": True}, "layer normalization"),
    "lstm zoneout": ("lstm", {"zoneout": 0.1}, "zoneout"),
    "lstm zoneout_cell": ("lstm", {"zoneout_cell": 0.1}, "zoneout"),
    "lstm recurrent_dropout": ("lstm", {"recurrent_dropout": 0.1}, "recurrent dropout"),
    "gru cho": ("gru", {"reset_after": False}, "reset_after=False"),
    "gru zoneout": ("gru", {"zoneout": 0.1}, "zoneout"),
    "rnn_tanh recurrent_dropout": ("rnn_tanh", {"recurrent_dropout": 0.1}, "recurrent dropout"),
}


def layer(mode, options):
    return Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, **options))


@pytest.mark.parametrize("config", FUSABLE.values(), ids=FUSABLE.keys())
def test_plain_configurations_are_fused(config):
    fused = layer(*config)
    assert fused.path == "fused"
    explanation = fused.explain()
    assert explanation.startswith("path: fused")
    assert f"torch._VF.{fused.config.cell}" in explanation


@pytest.fixture
def no_native(monkeypatch):
    """RNNKIT_NATIVE=0: the LSTM variants take the compiled (or eager) scan, as every other variant."""
    monkeypatch.setenv("RNNKIT_NATIVE", "0")


@pytest.mark.parametrize("config", BLOCKED.values(), ids=BLOCKED.keys())
def test_other_variants_are_compiled_and_say_why(config, monkeypatch, no_native):
    monkeypatch.delenv("RNNKIT_COMPILE", raising=False)
    monkeypatch.setattr(scan_module.shutil, "which", lambda name: "/usr/bin/" + name)  # a compiler "exists"
    mode, options, reason = config
    blocked = layer(mode, options)
    assert blocked.path == "compiled"
    explanation = blocked.explain()
    assert explanation.startswith("path: compiled")
    assert "not fused because" in explanation and reason in explanation


@pytest.mark.parametrize("config", BLOCKED.values(), ids=BLOCKED.keys())
def test_rnnkit_compile_0_runs_the_eager_scan(config, monkeypatch, no_native):
    monkeypatch.setenv("RNNKIT_COMPILE", "0")
    mode, options, reason = config
    blocked = layer(mode, options)
    assert blocked.path == "eager"
    explanation = blocked.explain()
    assert reason in explanation and "RNNKIT_COMPILE=0" in explanation
    assert blocked(torch.randn(B, T, D))[0].shape == (B, T, H)
    assert layer("lstm", {}).path == "fused", "the fused path does not need a compiler"


def test_no_compiler_runs_the_eager_scan(monkeypatch, no_native):
    monkeypatch.delenv("RNNKIT_COMPILE", raising=False)
    monkeypatch.setattr(scan_module.shutil, "which", lambda name: None)
    assert not scan_module.compile_available()
    assert LSTM(D, H, peephole=True).path == "eager"
    assert LSTM(D, H, backend="compiled").path == "eager"


@pytest.mark.parametrize("backend", ["fused", "eager", "reference", "compiled"])
def test_a_requested_backend_is_the_path(backend, monkeypatch):
    monkeypatch.setattr(scan_module.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.delenv("RNNKIT_COMPILE", raising=False)
    requested = GRU(D, H, backend=backend)
    assert requested.path == backend
    if backend != "fused":
        assert f"backend={backend!r} was asked for" in requested.explain()


NATIVE = {name: config for name, config in BLOCKED.items() if config[0] == "lstm"}


@pytest.mark.skipif(not native_module.available(), reason=f"no C++ LSTM scan: {native_module.unavailable_reason()}")
@pytest.mark.parametrize("config", NATIVE.values(), ids=NATIVE.keys())
def test_lstm_variants_run_the_cpp_scan_and_say_why(config):
    mode, options, reason = config
    variant = layer(mode, options)
    assert variant.path == "native"
    explanation = variant.explain()
    assert explanation.startswith("path: native")
    assert "not fused because" in explanation and reason in explanation and "C++" in explanation
    assert variant.double().path == "native"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert variant.path != "native", "autocast runs the compiled scan, which keeps its matmul in bf16"
    assert layer(mode, {**options, "proj_size": 2}).path != "native", "projection is not in the C++ scan"


def surroundings(**changes):
    """What paths.choose reads besides the config, as plain values: no build, no compiler asked."""
    facts = {"device": "cpu", "dtype": torch.float32, "autocast": False, "tracing": False, "native_ready": True,
             "native_problem": "", "compile_problem": None}
    return SimpleNamespace(**{**facts, **changes})


@pytest.mark.parametrize("where, path, reason", [
    ({}, "native", None),
    ({"dtype": torch.float64}, "native", None),
    ({"dtype": torch.float16}, "compiled", None),
    ({"device": "cuda"}, "compiled", None),
    ({"autocast": True}, "compiled", None),
    ({"tracing": True}, "compiled", "traced by an outer torch.compile"),
    ({"native_ready": False, "native_problem": "boom"}, "compiled", "the C++ scan is unavailable (boom)"),
    ({"device": "cuda", "compile_problem": "no C++ compiler"}, "eager", "torch.compile is unavailable (no C++"),
])
def test_the_choice_is_a_function_of_config_and_surroundings(where, path, reason):
    config = RecurrentConfig("lstm", input_size=D, hidden_size=H, peephole=True)
    choice = paths.choose(config, surroundings(**where))
    assert choice.path == path
    assert "not fused because peephole connections are not in torch's fused LSTM kernel" in choice.reasons
    assert reason is None or any(reason in line for line in choice.reasons), choice.reasons
    projected = RecurrentConfig("lstm", input_size=D, hidden_size=H, peephole=True, proj_size=2)
    assert paths.choose(projected, surroundings(**where)).path != "native", "no projection in the C++ scan"
    assert paths.choose(RecurrentConfig("lstm", input_size=D, hidden_size=H), surroundings(**where)).path == "fused"


@pytest.mark.parametrize("config", [*FUSABLE.values(), *((m, o) for m, o, _ in BLOCKED.values())],
                         ids=[*FUSABLE, *BLOCKED])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_path_and_explain_agree(config, dtype):
    built = layer(*config).to(dtype)
    assert built.explain().splitlines()[0] == f"path: {built.path}"


def test_an_unavailable_cpp_scan_falls_back_and_says_why(monkeypatch):
    monkeypatch.setattr(native_module, "_state", {"loaded": False, "error": "g++ failed on lstm_scan.cpp: boom"})
    monkeypatch.setattr(scan_module.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.delenv("RNNKIT_COMPILE", raising=False)
    peephole = LSTM(D, H, peephole=True)
    assert peephole.path == "compiled"
    assert "the C++ scan is unavailable (g++ failed on lstm_scan.cpp: boom)" in peephole.explain()
    with pytest.raises(RuntimeError, match="C\\+\\+ LSTM scan is unavailable .*boom"):
        LSTM(D, H, peephole=True, backend="native")(torch.randn(B, T, D))


def test_a_failing_build_is_reported_once_and_leaves_no_library(monkeypatch, tmp_path):
    monkeypatch.setattr(native_module, "_state", {"loaded": False, "error": None})
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", "false")  # a "compiler" that always fails
    with pytest.warns(UserWarning, match="C\\+\\+ LSTM scan is unavailable, using the compiled scan .*false failed"):
        assert not native_module.available()
    assert not native_module.available()  # no second attempt, no second warning
    assert list(tmp_path.rglob("*.so")) == [], "nothing half-built is left behind"


@pytest.mark.parametrize("config", [("gru", {"reset_after": False}), ("lstm", {"peephole": True, "proj_size": 2})])
def test_backend_native_is_refused_where_it_does_not_apply(config):
    mode, options = config
    with pytest.raises(ValueError, match="backend='native' is impossible: (there is no C.. scan for cell='gru'|"
                                         "the C.. scan has no projection)"):
        layer(mode, {**options, "backend": "native"})


def test_every_blocker_is_named():
    explanation = LSTM(D, H, peephole=True, layer_norm=True, zoneout=0.1, recurrent_dropout=0.1,
                       backend="eager").explain()
    for reason in ("peephole", "layer normalization", "zoneout", "recurrent dropout"):
        assert reason in explanation


def test_a_failing_compiler_falls_back_to_the_eager_scan_with_a_warning(monkeypatch, no_native):
    """Fresh step-function cache, and a torch.compile whose functions raise: the layer warns once,
    returns the eager result, and from then on reports the eager path with the error."""
    monkeypatch.setattr(scan_module, "_FUNCTIONS", {})
    monkeypatch.setattr(scan_module.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.delenv("RNNKIT_COMPILE", raising=False)

    def broken_compile(fn, **kwargs):
        def compiled(*args, **kw):
            raise RuntimeError("no toolchain here")
        return compiled

    monkeypatch.setattr(torch, "compile", broken_compile)
    peephole = LSTM(D, H, peephole=True)
    eager = LSTM(D, H, peephole=True, backend="eager")
    eager.load_state_dict(peephole.state_dict())
    assert peephole.path == "compiled"
    x = torch.randn(B, T, D, requires_grad=True)
    with pytest.warns(UserWarning, match="torch.compile failed, using the eager scan .*no toolchain here"):
        y, _ = peephole(x)
    torch.testing.assert_close(y, eager(x)[0], rtol=0, atol=0)
    y.sum().backward()
    assert peephole.path == "eager"
    assert "RuntimeError: no toolchain here" in peephole.explain()


INFERENCE_VARIANTS = {
    "lstm peephole+layer_norm": ("lstm", {"peephole": True, "layer_norm": True}),
    "lstm zoneout bi lengths": ("lstm", {"zoneout": 0.2, "zoneout_cell": 0.3, "bidirectional": True}),
    "gru cho recurrent_dropout": ("gru", {"reset_after": False, "recurrent_dropout": 0.3}),
    "rnn_relu": ("rnn_relu", {}),
}


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("variant", INFERENCE_VARIANTS.values(), ids=INFERENCE_VARIANTS.keys())
def test_inference_loop_equals_the_autograd_forward(variant, train):
    """Under no_grad (or with nothing requiring grad) the scan skips autograd and saves nothing; it must
    compute the same thing. Train mode: same seed, same masks."""
    mode, options = variant
    scan_layer = layer(mode, {**options, "backend": "eager"}).double().train(train)
    x = torch.randn(B, T, D, dtype=torch.float64)
    lengths = [T, 2]

    def run():
        torch.manual_seed(3)
        y, final = scan_layer(x, lengths=lengths)
        return (y, *as_parts(final))

    expected = run()
    assert expected[0].requires_grad
    with torch.no_grad():
        no_grad = run()
    scan_layer.requires_grad_(False)
    frozen = run()
    for got in (no_grad, frozen):
        assert not got[0].requires_grad
        torch.testing.assert_close(got, tuple(t.detach() for t in expected), rtol=0, atol=0)
