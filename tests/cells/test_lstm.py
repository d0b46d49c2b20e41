"""LSTMCell: torch.nn.LSTMCell after a weight copy; the projection against torch.nn.LSTM(proj_size);
peephole and layer norm (which torch lacks) against their equations written out; float64 gradcheck
of every variant."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit import LSTMCell, LSTMState
from tests.reference import gradcheck_cell, assert_same_forward_and_grads, randomize_layer_norm

B, D, H, P = 3, 4, 5, 3
f64 = torch.float64


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("given_state", [True, False])
def test_equals_torch_lstm_cell(bias, given_state):
    theirs = nn.LSTMCell(D, H, bias).double()
    ours = LSTMCell(D, H, bias).double()
    ours.load_state_dict(theirs.state_dict())
    x, h, c = (torch.randn(B, n, dtype=f64) for n in (D, H, H))
    if given_state:
        ours_fn, theirs_fn, inputs = (lambda x, h, c: ours(x, LSTMState(h, c))), (lambda x, h, c: theirs(x, (h, c))), [x, h, c]
    else:
        ours_fn, theirs_fn, inputs = ours, theirs, [x]
    assert_same_forward_and_grads(ours_fn, theirs_fn, inputs, dict(ours.named_parameters()),
                                  dict(theirs.named_parameters()))


def test_returns_a_typed_state():
    h, c = LSTMCell(D, H, proj_size=P)(torch.randn(B, D))
    assert isinstance(LSTMCell(D, H)(torch.randn(B, D)), LSTMState)
    assert h.shape == (B, P) and c.shape == (B, H)


@pytest.mark.parametrize("bias", [True, False])
def test_projection_equals_one_step_of_torch_lstm(bias):
    """torch has no LSTMCell with proj_size: one step of nn.LSTM(proj_size=P) is the reference."""
    theirs = nn.LSTM(D, H, bias=bias, proj_size=P, batch_first=True).double()
    ours = LSTMCell(D, H, bias, proj_size=P).double()
    ours.load_state_dict({name[:-len("_l0")]: p for name, p in theirs.state_dict().items()})
    x, h, c = torch.randn(B, D, dtype=f64), torch.randn(B, P, dtype=f64), torch.randn(B, H, dtype=f64)

    def theirs_fn(x, h, c):
        y, (h1, c1) = theirs(x[:, None], (h[None], c[None]))
        return h1[0], c1[0]

    assert_same_forward_and_grads(lambda x, h, c: ours(x, LSTMState(h, c)), theirs_fn, [x, h, c],
                                  {n + "_l0": p for n, p in ours.named_parameters()}, dict(theirs.named_parameters()))


def layer_norm_by_hand(v, weight, bias=None, eps=1e-5):
    mean = v.mean(-1, keepdim=True)
    var = ((v - mean) ** 2).mean(-1, keepdim=True)
    out = (v - mean) / torch.sqrt(var + eps) * weight
    return out if bias is None else out + bias


def lstm_by_hand(cell, x, h, c):
    """The docstring's equations, written out independently of lstm_core."""
    x_part, h_part = x @ cell.weight_ih.T, h @ cell.weight_hh.T  # (B, 4H) each
    if cell.layer_norm:
        x_part = layer_norm_by_hand(x_part, cell.ln_ih_weight)
        h_part = layer_norm_by_hand(h_part, cell.ln_hh_weight)
    gates = x_part + h_part + (cell.bias_ih + cell.bias_hh if cell.bias else 0)
    i, f, g, o = gates.chunk(4, -1)
    if cell.peephole:
        i, f = i + cell.weight_ci * c, f + cell.weight_cf * c
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    if cell.peephole:
        o = o + cell.weight_co * c_new
    c_hat = layer_norm_by_hand(c_new, cell.ln_cell_weight, cell.ln_cell_bias) if cell.layer_norm else c_new
    h_new = torch.sigmoid(o) * torch.tanh(c_hat)
    if cell.proj_size:
        h_new = h_new @ cell.weight_hr.T
    return h_new, c_new


VARIANTS = {
    "plain": {},
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "peephole+layer_norm": {"peephole": True, "layer_norm": True},
    "proj": {"proj_size": P},
    "all": {"peephole": True, "layer_norm": True, "proj_size": P},
    "layer_norm, no bias": {"layer_norm": True, "bias": False},
}


@pytest.mark.parametrize("options", VARIANTS.values(), ids=VARIANTS.keys())
def test_equals_its_equations(options):
    cell = LSTMCell(D, H, **options).double()
    randomize_layer_norm(cell)
    params = dict(cell.named_parameters())
    Pout = cell.state_sizes[0]
    x, h, c = torch.randn(B, D, dtype=f64), torch.randn(B, Pout, dtype=f64), torch.randn(B, H, dtype=f64)
    assert_same_forward_and_grads(lambda x, h, c: cell(x, LSTMState(h, c)), lambda x, h, c: lstm_by_hand(cell, x, h, c),
                                  [x, h, c], params, params)


def test_layer_norm_uses_torch_layer_norm_semantics():
    """The hand-written layer norm above is itself checked against F.layer_norm."""
    v, w, b = torch.randn(3, 8, dtype=f64), torch.randn(8, dtype=f64), torch.randn(8, dtype=f64)
    torch.testing.assert_close(layer_norm_by_hand(v, w, b), F.layer_norm(v, (8,), w, b, 1e-5))


def test_peephole_with_zero_peephole_weights_is_torch_lstm_cell():
    theirs = nn.LSTMCell(D, H).double()
    ours = LSTMCell(D, H, peephole=True).double()
    ours.load_state_dict({**theirs.state_dict(), **{n: torch.zeros(H, dtype=f64) for n in ("weight_ci", "weight_cf", "weight_co")}})
    x, h, c = torch.randn(B, D, dtype=f64), torch.randn(B, H, dtype=f64), torch.randn(B, H, dtype=f64)
    torch.testing.assert_close(tuple(ours(x, LSTMState(h, c))), theirs(x, (h, c)))


@pytest.mark.parametrize("options", VARIANTS.values(), ids=VARIANTS.keys())
def test_gradcheck(options):
    cell = LSTMCell(2, 3, **{**options, "proj_size": 2 if options.get("proj_size") else 0}).double()
    randomize_layer_norm(cell)
    P_, H_ = cell.state_sizes
    x, h, c = torch.randn(2, 2, dtype=f64), torch.randn(2, P_, dtype=f64), torch.randn(2, H_, dtype=f64)
    assert gradcheck_cell(cell, x, h, c)


def test_invalid_options_are_errors():
    with pytest.raises(ValueError, match="proj_size=5"):
        LSTMCell(D, H, proj_size=H)
    with pytest.raises(ValueError, match="forget_bias needs bias=True"):
        LSTMCell(D, H, bias=False, forget_bias=1.0)
