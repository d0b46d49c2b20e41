"""GRU cell (Cho et al. 2014) in both published forms, gates in torch's order r, z, n.

torch / cuDNN form (``reset_after=True``, Keras ``reset_after=True``): the reset gate scales the
recurrent product after the matrix multiply, which lets all three recurrent products be one matmul:
    r  = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
    z  = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
    n  = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
    h' = (1 - z) * n + z * h
Original form (``reset_after=False``, Cho et al. 2014, Keras ``reset_after=False``): the reset gate
scales h before the multiply, so the n-gate's product waits for r:
    n  = tanh(x W_in^T + b_in + (r * h) W_hn^T + b_hn)

Shapes: x (B, D), h (B, H).
Parameters (torch.nn.GRUCell's names; rows stacked r, z, n):
    weight_ih (3H, D), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,)  [biases only if bias=True]
"""

from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .init import init_recurrent
from .linear import linear
from .step import cell_step


def gru_core(gx: Tensor, gh: Tensor, state: tuple, p: dict, *, reset_after: bool) -> tuple:
    """gx = x W_ih^T + b_ih (B, 3H); gh = h W_hh^T (B, 3H), or only its r and z rows (B, 2H)
    when reset_after=False (then p["weight_hn"] (H, H) is applied to r * h here, h masked by
    p["recurrent_mask"] (B, H) when the layer uses recurrent dropout). Returns (h',)."""
    (h,) = state
    H = h.shape[-1]
    bias_hh = p.get("bias_hh")
    if bias_hh is not None:
        gh = gh + bias_hh[: gh.shape[-1]]
    x_r, x_z, x_n = gx.chunk(3, -1)
    r = torch.sigmoid(x_r + gh[..., :H])
    z = torch.sigmoid(x_z + gh[..., H:2 * H])
    if reset_after:
        n = torch.tanh(x_n + r * gh[..., 2 * H:])
    else:
        h_in = h * p["recurrent_mask"] if "recurrent_mask" in p else h  # recurrent dropout, as on W_hh's other rows
        h_n = F.linear(r * h_in, p["weight_hn"], None if bias_hh is None else bias_hh[2 * H:])
        n = torch.tanh(x_n + h_n)
    return ((1 - z) * n + z * h,)


class GRUCell(nn.Module):
    num_gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 reset_after: bool = True, init: str = "torch"):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.reset_after = reset_after
        self.state_sizes = (hidden_size,)
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        self.core = partial(gru_core, reset_after=reset_after)
        init_recurrent(self, init)

    def project_input(self, x: Tensor) -> Tensor:
        return linear(x, self.weight_ih, self.bias_ih if self.bias else None)  # (..., 3H)

    def recurrent_weight(self, weight_hh: Tensor = None) -> Tensor:
        """``weight_hh`` overrides the parameter (a DropConnect copy). The original form can only
        multiply h by the r and z rows ahead of the gates."""
        weight_hh = self.weight_hh if weight_hh is None else weight_hh
        return weight_hh if self.reset_after else weight_hh[: 2 * self.hidden_size]

    def core_params(self, weight_hh: Tensor = None) -> dict:
        params = {"bias_hh": self.bias_hh} if self.bias else {}
        if not self.reset_after:
            params["weight_hn"] = (self.weight_hh if weight_hh is None else weight_hh)[2 * self.hidden_size:]
        return params

    def forward(self, x: Tensor, h: Tensor = None) -> Tensor:
        """One step: x (B, D), h (B, H) or None for zeros -> h' (B, H)."""
        return cell_step(self, x, h)
