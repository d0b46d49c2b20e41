"""Streaming and the cell loop: two chunks with a carried state equal one run; step() fed one step at a
time equals one run; a layer equals its cell stepped by hand."""

import pytest
import torch

from rnnkit import LSTMState, Recurrent, RecurrentConfig
from rnnkit.cells.state import as_parts, from_parts
from rnnkit.layers import KINDS
from tests.reference import random_state, randomize_layer_norm

B, T, D, H = 3, 7, 3, 4
CONFIGS = {
    **{cell: (cell, {}) for cell in KINDS},  # every kind of cell (layers/kinds.py), on its own path
    "lstm proj fused": ("lstm", {"proj_size": 2}),
    "lstm peephole+layer_norm+zoneout eager": ("lstm", {"peephole": True, "layer_norm": True, "zoneout": 0.2,
                                                        "zoneout_cell": 0.3, "backend": "eager"}),
    "gru cho eager": ("gru", {"reset_after": False, "backend": "eager"}),
    "gru reference": ("gru", {"backend": "reference"}),
}


def make(mode, options, num_layers=2):
    layer = Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, num_layers=num_layers, **options))
    randomize_layer_norm(layer)
    return layer.double().eval()


@pytest.mark.parametrize("split", [1, 3, 6])
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_two_chunks_equal_one_run(config, split):
    layer = make(*config)
    x = torch.randn(B, T, D, dtype=torch.float64)
    state = from_parts(random_state(layer, B))
    y, final = layer(x, state)
    y1, carried = layer(x[:, :split], state)
    y2, final2 = layer(x[:, split:], carried)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y)
    torch.testing.assert_close(as_parts(final2), as_parts(final))


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_chunks_carry_gradients(config):
    """Truncated BPTT across chunks needs the carried state to stay in the graph."""
    layer = make(*config)
    x = torch.randn(B, T, D, dtype=torch.float64, requires_grad=True)
    y, _ = layer(x)
    y[:, -1].sum().backward()
    expected = x.grad.clone()
    x.grad = None
    _, carried = layer(x[:, :3])
    y2, _ = layer(x[:, 3:], carried)
    y2[:, -1].sum().backward()
    torch.testing.assert_close(x.grad, expected)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_step_by_step_equals_one_run(config):
    layer = make(*config)
    x = torch.randn(B, T, D, dtype=torch.float64)
    y, final = layer(x)
    state, outputs = None, []
    for t in range(T):
        y_t, state = layer.step(x[:, t], state)
        outputs.append(y_t)
    torch.testing.assert_close(torch.stack(outputs, 1), y)
    torch.testing.assert_close(as_parts(state), as_parts(final))
    assert type(state) is type(final)


CELL_CONFIGS = {
    "lstm": ("lstm", {}),
    "lstm peephole": ("lstm", {"peephole": True}),
    "lstm layer_norm": ("lstm", {"layer_norm": True}),
    "lstm proj no bias": ("lstm", {"proj_size": 2, "bias": False}),
    "gru": ("gru", {}),
    "gru cho": ("gru", {"reset_after": False}),
    "rnn_relu": ("rnn_relu", {}),
}


@pytest.mark.parametrize("backend", ["auto", "eager", "reference"])
@pytest.mark.parametrize("config", CELL_CONFIGS.values(), ids=CELL_CONFIGS.keys())
def test_layer_equals_its_cell_stepped_by_hand(config, backend, eager_only):
    """backend="auto" is the fused kernel where the cell allows it, else (compiling off) the eager scan."""
    mode, options = config
    layer = make(mode, {**options, "backend": backend}, num_layers=1)
    cell = layer.cells[0]
    x = torch.randn(B, T, D, dtype=torch.float64)
    initial = random_state(layer, B)
    y, final = layer(x, from_parts(initial))
    state = from_parts(tuple(p[0] for p in initial))
    for t in range(T):
        state = cell(x[:, t], state)
        torch.testing.assert_close(y[:, t], as_parts(state)[0])
    torch.testing.assert_close(tuple(p[0] for p in as_parts(final)), as_parts(state))


def test_step_returns_the_new_hidden_state():
    layer = make("lstm", {"proj_size": 2}, num_layers=1)
    y_t, state = layer.step(torch.randn(B, D, dtype=torch.float64))
    assert isinstance(state, LSTMState)
    assert y_t.shape == (B, 2) and state.h.shape == (1, B, 2) and state.c.shape == (1, B, H)
    torch.testing.assert_close(y_t, state.h[0])
