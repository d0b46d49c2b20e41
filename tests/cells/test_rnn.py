"""RNNCell: torch.nn.RNNCell's equations after a weight copy, and float64 gradcheck."""

import pytest
import torch
from torch import nn

from rnnkit import RNNCell
from tests.reference import gradcheck_cell, assert_same_forward_and_grads

B, D, H = 3, 4, 5


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("given_state", [True, False])
def test_equals_torch_rnn_cell(nonlinearity, bias, given_state):
    theirs = nn.RNNCell(D, H, bias, nonlinearity).double()
    ours = RNNCell(D, H, bias, nonlinearity).double()
    ours.load_state_dict(theirs.state_dict())  # same names and shapes: the copy is the whole conversion
    x, h = torch.randn(B, D, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    inputs = [x, h] if given_state else [x]
    assert_same_forward_and_grads(ours, theirs, inputs, dict(ours.named_parameters()),
                                  dict(theirs.named_parameters()))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck(nonlinearity, bias):
    cell = RNNCell(3, 4, bias, nonlinearity).double()
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    assert gradcheck_cell(cell, x, h)


def test_zero_state_is_the_default():
    cell = RNNCell(D, H)
    x = torch.randn(B, D)
    torch.testing.assert_close(cell(x), cell(x, torch.zeros(B, H)))


def test_unknown_nonlinearity_is_an_error():
    with pytest.raises(ValueError, match="nonlinearity='gelu'"):
        RNNCell(D, H, nonlinearity="gelu")
