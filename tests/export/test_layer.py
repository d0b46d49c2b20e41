"""Every recurrent layer that ONNX's operators can compute exports as one node and runs in onnxruntime
as it runs in PyTorch: LSTM (with peepholes), GRU in both forms, RNN tanh/relu, without biases, stacked,
bidirectional, with variable lengths and an initial state, at batch and time sizes other than the
example's. What cannot be exported is named."""

import numpy as np
import pytest
import torch

from rnnkit import Recurrent, RecurrentConfig
from rnnkit.layers.exportable import export_problem

ort = pytest.importorskip("onnxruntime", reason="the export extra: pip install -e '.[export]'")
pytest.importorskip("onnxscript")
from rnnkit.export.onnx import save_onnx  # noqa: E402


class Layer(torch.nn.Module):
    """x, lengths, h0, c0 -> y, h, c (c is h but for an LSTM)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x, lengths, h0, c0):
        lstm = self.layer.config.cell == "lstm"
        y, final = self.layer(x, (h0, c0) if lstm else h0, lengths)
        return (y, final.h, final.c) if lstm else (y, final, final)


CASES = [("lstm", {}), ("lstm", {"peephole": True}), ("gru", {}), ("gru", {"reset_after": False}),
         ("rnn_tanh", {}), ("rnn_relu", {"bias": False}), ("lstm", {"num_layers": 2, "bidirectional": True}),
         ("gru", {"num_layers": 2, "bidirectional": True, "reset_after": False}),
         ("lstm", {"dropout": 0.3, "recurrent_dropout": 0.2, "weight_dropout": 0.2, "input_dropout": 0.1})]


@pytest.mark.parametrize("cell, options", CASES, ids=[f"{c}-{'-'.join(o) or 'plain'}" for c, o in CASES])
def test_a_layer_runs_in_onnxruntime_as_in_pytorch(cell, options, tmp_path):
    torch.manual_seed(0)
    config = RecurrentConfig(cell, input_size=5, hidden_size=7, **options)
    layer = Recurrent(config).eval()  # the regularizers are identities in eval mode
    for c in layer.cells:  # peepholes start at zero: make them count
        for name in ("weight_ci", "weight_cf", "weight_co"):
            if hasattr(c, name):
                torch.nn.init.normal_(getattr(c, name))
    L = config.num_layers * config.num_directions
    example = (torch.randn(3, 6, 5), torch.tensor([6, 2, 4]), torch.randn(L, 3, 7), torch.randn(L, 3, 7))
    names = ["x", "lengths", "h0", "c0"]
    path = save_onnx(Layer(layer), example, str(tmp_path / "layer.onnx"), names, ["y", "h", "c"],
                     {"x": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "h0": {1: "batch"}, "c0": {1: "batch"}})
    import onnx

    graph = onnx.load(path).graph
    stored = {t.name for t in graph.initializer}
    recurrent = [n for n in graph.node if n.op_type in ("LSTM", "GRU", "RNN")]
    assert len(recurrent) == config.num_layers  # one operator per layer, both directions in it
    assert all(n.input[1] in stored and n.input[2] in stored for n in recurrent), "W and R reordered per call"
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for B, T, lengths in ((4, 9, [9, 1, 3, 7]), (1, 1, [1]), (2, 12, [12, 12])):
        inputs = (torch.randn(B, T, 5), torch.tensor(lengths), torch.randn(L, B, 7), torch.randn(L, B, 7))
        got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs)})
        with torch.no_grad():
            expected = Layer(layer)(*inputs)
        for name, a, b in zip(["y", "h", "c"][:3 if cell == "lstm" else 2], got, expected):
            np.testing.assert_allclose(a, b.numpy(), atol=1e-5, err_msg=f"{name} at B={B}, T={T}")


def test_the_operator_run_eagerly_is_the_layer():
    """rnnkit::recurrent outside an export: the same numbers as the layer it stands for."""
    from rnnkit.layers.exportable import operator_weights

    torch.manual_seed(1)
    layer = Recurrent(RecurrentConfig("gru", input_size=4, hidden_size=6, num_layers=2, bidirectional=True,
                                      reset_after=False)).eval()
    x, lengths, h0 = torch.randn(3, 5, 4), torch.tensor([5, 1, 3]), torch.randn(4, 3, 6)
    y, h, _ = torch.ops.rnnkit.recurrent(x, lengths, h0, h0, operator_weights(layer), "gru", 2, True, 6, True, False,
                                         False)
    with torch.no_grad():
        expected_y, expected_h = layer(x, h0, lengths)
    torch.testing.assert_close(y, expected_y)
    torch.testing.assert_close(h, expected_h)


@pytest.mark.parametrize("options, name", [({"layer_norm": True}, "layer_norm"), ({"zoneout": 0.1}, "zoneout"),
                                           ({"zoneout_cell": 0.1}, "zoneout_cell"), ({"proj_size": 3}, "proj_size")])
def test_what_onnx_cannot_compute_is_named(options, name):
    config = RecurrentConfig("lstm", input_size=4, hidden_size=6, **options)
    assert export_problem(config).startswith(f"RecurrentConfig.{name}=")
    assert export_problem(RecurrentConfig("lstm", input_size=4, hidden_size=6)) is None


def test_example_inputs_that_share_memory_are_refused(tmp_path):
    layer = Layer(Recurrent(RecurrentConfig("lstm", input_size=2, hidden_size=3)))
    state = torch.zeros(1, 2, 3)
    with pytest.raises(ValueError, match="share memory"):
        save_onnx(layer, (torch.randn(2, 4, 2), torch.tensor([4, 2]), state, state), str(tmp_path / "x.onnx"),
                  ["x", "lengths", "h0", "c0"], ["y", "h", "c"], {})
