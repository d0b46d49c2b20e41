"""GRUCell: torch.nn.GRUCell after a weight copy; Cho et al.'s form against its equation written out;
float64 gradcheck for both forms."""

import pytest
import torch
from torch import nn

from rnnkit import GRUCell
from tests.reference import gradcheck_cell, assert_same_forward_and_grads

B, D, H = 3, 4, 5


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("given_state", [True, False])
def test_equals_torch_gru_cell(bias, given_state):
    theirs = nn.GRUCell(D, H, bias).double()
    ours = GRUCell(D, H, bias).double()
    ours.load_state_dict(theirs.state_dict())
    x, h = torch.randn(B, D, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    assert_same_forward_and_grads(ours, theirs, [x, h] if given_state else [x],
                                  dict(ours.named_parameters()), dict(theirs.named_parameters()))


def cho_gru_by_hand(cell, x, h):
    """Cho et al. 2014, written out from the docstring: the reset gate scales h before W_hn."""
    W_ir, W_iz, W_in = cell.weight_ih.chunk(3)
    W_hr, W_hz, W_hn = cell.weight_hh.chunk(3)
    if cell.bias:
        b_ir, b_iz, b_in = cell.bias_ih.chunk(3)
        b_hr, b_hz, b_hn = cell.bias_hh.chunk(3)
    else:
        b_ir = b_iz = b_in = b_hr = b_hz = b_hn = torch.zeros(cell.hidden_size, dtype=x.dtype)
    r = torch.sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = torch.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
    return (1 - z) * n + z * h


@pytest.mark.parametrize("bias", [True, False])
def test_reset_before_equals_cho_equations(bias):
    cell = GRUCell(D, H, bias, reset_after=False).double()
    params = dict(cell.named_parameters())
    x, h = torch.randn(B, D, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    assert_same_forward_and_grads(cell, lambda x, h: cho_gru_by_hand(cell, x, h), [x, h], params, params)


def test_the_two_forms_differ():
    """Same weights, different equation: guards against reset_after being ignored."""
    torch_form = GRUCell(D, H, reset_after=True)
    cho_form = GRUCell(D, H, reset_after=False)
    cho_form.load_state_dict(torch_form.state_dict())
    x, h = torch.randn(B, D), torch.randn(B, H)
    assert not torch.allclose(torch_form(x, h), cho_form(x, h), atol=1e-4)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck(reset_after, bias):
    cell = GRUCell(3, 3, bias, reset_after).double()
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64)
    assert gradcheck_cell(cell, x, h)
