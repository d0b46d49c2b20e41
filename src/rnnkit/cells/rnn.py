"""Elman RNN cell (Elman 1990), torch.nn.RNNCell's equations and parameters.

    h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)        act = tanh or relu

Shapes: x (B, D), h (B, H).
Parameters (torch.nn.RNNCell's names):
    weight_ih (H, D), weight_hh (H, H), bias_ih (H,), bias_hh (H,)  [biases only if bias=True]
    initialized by ``init`` (see cells/init.py).
"""

from functools import partial

import torch
from torch import Tensor, nn

from .init import init_recurrent
from .linear import linear
from .step import cell_step

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


def rnn_core(gx: Tensor, gh: Tensor, state: tuple, p: dict, *, nonlinearity: str) -> tuple:
    """gx = x W_ih^T + b_ih (B, H); gh = h W_hh^T (B, H); returns (h',)."""
    pre = gx + gh + p["bias_hh"] if "bias_hh" in p else gx + gh
    return (NONLINEARITIES[nonlinearity](pre),)


class RNNCell(nn.Module):
    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", init: str = "torch"):
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity={nonlinearity!r}: expected one of {tuple(NONLINEARITIES)}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.nonlinearity = nonlinearity
        self.state_sizes = (hidden_size,)
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        self.core = partial(rnn_core, nonlinearity=nonlinearity)
        init_recurrent(self, init)

    def project_input(self, x: Tensor) -> Tensor:
        return linear(x, self.weight_ih, self.bias_ih if self.bias else None)  # (..., H)

    def recurrent_weight(self, weight_hh: Tensor = None) -> Tensor:
        """``weight_hh`` overrides the parameter (a DropConnect copy)."""
        return self.weight_hh if weight_hh is None else weight_hh

    def core_params(self, weight_hh: Tensor = None) -> dict:
        return {"bias_hh": self.bias_hh} if self.bias else {}

    def forward(self, x: Tensor, h: Tensor = None) -> Tensor:
        """One step: x (B, D), h (B, H) or None for zeros -> h' (B, H)."""
        return cell_step(self, x, h)
