"""Initialization schemes shared by every cell.

- ``"torch"``: every parameter drawn from U(-k, k) with k = 1/sqrt(hidden_size), exactly as
  torch.nn.RNN/LSTM/GRU do; layer-norm gains start at 1 and layer-norm biases at 0.
- ``"keras"``: the Keras defaults for recurrent layers: input weights Glorot/Xavier uniform, each
  gate's recurrent block orthogonal (Saxe et al. 2014), biases zero, and for the LSTM the forget-gate
  bias set to 1 (Keras ``unit_forget_bias=True``, after Jozefowicz et al. 2015).

A cell applies its ``forget_bias`` option after either scheme, so ``init="torch", forget_bias=1.0``
is torch's initialization with the Jozefowicz forget bias.
"""

import math

import torch
from torch import nn

INIT_SCHEMES = ("torch", "keras")


@torch.no_grad()
def init_recurrent(cell: nn.Module, scheme: str) -> None:
    """Initialize ``cell`` in place. ``weight_ih``/``weight_hh`` are stacks of ``cell.num_gates``
    blocks of ``hidden_size`` rows; parameters whose name starts with ``ln_`` are layer-norm gains
    (``*_weight``, set to 1) and biases (``*_bias``, set to 0)."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init={scheme!r}: expected one of {INIT_SCHEMES}")
    k = 1.0 / math.sqrt(cell.hidden_size)
    for name, p in cell.named_parameters():
        if name.startswith("ln_"):
            nn.init.ones_(p) if name.endswith("_weight") else nn.init.zeros_(p)
        elif scheme == "torch":
            nn.init.uniform_(p, -k, k)
        elif name == "weight_ih":
            nn.init.xavier_uniform_(p)
        elif name == "weight_hh":
            for block in p.split(cell.hidden_size, dim=0):  # one square-ish block per gate
                nn.init.orthogonal_(block)
        elif name.startswith("bias"):
            nn.init.zeros_(p)
        else:  # projection and peephole weights
            nn.init.uniform_(p, -k, k)
    if scheme == "keras" and cell.bias and hasattr(cell, "forget_gate"):
        cell.bias_ih[cell.forget_gate] = 1.0
