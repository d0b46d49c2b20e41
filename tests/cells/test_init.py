"""Initialization: torch's U(-1/sqrt(H), 1/sqrt(H)); Keras' Glorot input weights, orthogonal recurrent
blocks, zero biases with LSTM forget bias 1; the forget_bias option after either."""

import math

import pytest
import torch

from rnnkit import GRUCell, LSTM, LSTMCell, RNNCell
from rnnkit.cells import init_recurrent

D, H, P = 4, 6, 3
CELLS = {
    "rnn": lambda **kw: RNNCell(D, H, **kw),
    "lstm": lambda **kw: LSTMCell(D, H, **kw),
    "lstm peephole+layer_norm+proj": lambda **kw: LSTMCell(D, H, proj_size=P, peephole=True, layer_norm=True, **kw),
    "gru": lambda **kw: GRUCell(D, H, **kw),
    "gru cho": lambda **kw: GRUCell(D, H, reset_after=False, **kw),
}


@pytest.mark.parametrize("make", CELLS.values(), ids=CELLS.keys())
def test_torch_init_is_uniform_in_one_over_sqrt_hidden(make):
    cell = make(init="torch")
    k = 1 / math.sqrt(H)
    for name, p in cell.named_parameters():
        if name.startswith("ln_"):
            expected = torch.ones_like(p) if name.endswith("_weight") else torch.zeros_like(p)
            torch.testing.assert_close(p.detach(), expected, rtol=0, atol=0)
        else:
            assert p.abs().max() <= k, name
            assert p.std() > k / 4, f"{name} looks constant"  # U(-k, k) has std k/sqrt(3)


@pytest.mark.parametrize("make", CELLS.values(), ids=CELLS.keys())
def test_keras_init(make):
    cell = make(init="keras")
    G = cell.num_gates
    bound = math.sqrt(6 / (D + G * H))  # Glorot uniform on (G*H, D)
    assert cell.weight_ih.abs().max() <= bound + 1e-7
    assert cell.weight_ih.std() > bound / 4
    for block in cell.weight_hh.detach().split(H):  # (H, P) per gate
        gram = block @ block.T if block.shape[0] <= block.shape[1] else block.T @ block
        torch.testing.assert_close(gram, torch.eye(gram.shape[0]), atol=1e-5, rtol=0)
    expected_bias_ih = torch.zeros(G * H)
    if isinstance(cell, LSTMCell):
        expected_bias_ih[H:2 * H] = 1.0  # Keras' unit_forget_bias
    torch.testing.assert_close(cell.bias_ih.detach(), expected_bias_ih, rtol=0, atol=0)
    torch.testing.assert_close(cell.bias_hh.detach(), torch.zeros(G * H), rtol=0, atol=0)


def test_projected_lstm_recurrent_blocks_have_orthonormal_columns():
    """weight_hh (4H, P) with P < H: each (H, P) block can only have orthonormal columns."""
    cell = LSTMCell(D, H, proj_size=P, init="keras")
    for block in cell.weight_hh.detach().split(H):
        torch.testing.assert_close(block.T @ block, torch.eye(P), atol=1e-5, rtol=0)


@pytest.mark.parametrize("init", ["torch", "keras"])
@pytest.mark.parametrize("forget_bias", [1.0, 2.5])
def test_forget_bias(init, forget_bias):
    torch.manual_seed(3)
    reference = LSTMCell(D, H, init=init)
    torch.manual_seed(3)
    cell = LSTMCell(D, H, init=init, forget_bias=forget_bias)
    forget = slice(H, 2 * H)
    assert torch.all(cell.bias_ih[forget] == forget_bias)
    assert torch.all(cell.bias_hh[forget] == 0.0)
    # Nothing else moves: the other gates keep the scheme's values.
    others = torch.cat([torch.arange(H), torch.arange(2 * H, 4 * H)])
    torch.testing.assert_close(cell.bias_ih[others], reference.bias_ih[others], rtol=0, atol=0)
    torch.testing.assert_close(cell.bias_hh[others], reference.bias_hh[others], rtol=0, atol=0)
    torch.testing.assert_close(cell.weight_hh, reference.weight_hh, rtol=0, atol=0)


def test_layer_options_reach_every_cell():
    layer = LSTM(D, H, num_layers=2, bidirectional=True, init="keras", forget_bias=2.0)
    for cell in layer.cells:
        assert torch.all(cell.bias_ih[H:2 * H] == 2.0)
        block = cell.weight_hh.detach()[:H]
        torch.testing.assert_close(block @ block.T, torch.eye(H), atol=1e-5, rtol=0)


def test_unknown_scheme_is_an_error():
    with pytest.raises(ValueError, match="init='xavier'"):
        init_recurrent(RNNCell(D, H), "xavier")
    with pytest.raises(ValueError, match="init='xavier'"):
        LSTMCell(D, H, init="xavier")
