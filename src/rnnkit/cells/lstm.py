"""LSTM cell (Hochreiter & Schmidhuber 1997) with torch.nn.LSTMCell's gates, names and projection,
plus peephole connections and layer normalization.

Standard (torch.nn.LSTMCell; with proj_size as torch.nn.LSTM):
    i  = sigmoid(x W_ii^T + b_ii + h W_hi^T + b_hi)
    f  = sigmoid(x W_if^T + b_if + h W_hf^T + b_hf)
    g  = tanh   (x W_ig^T + b_ig + h W_hg^T + b_hg)
    o  = sigmoid(x W_io^T + b_io + h W_ho^T + b_ho)
    c' = f * c + i * g
    h' = o * tanh(c')                       then h' = h' W_hr^T if proj_size > 0
Peephole (Gers & Schmidhuber 2000; diagonal weights): i and f also see c, o sees c':
    i += weight_ci * c,   f += weight_cf * c,   o += weight_co * c'      (before the sigmoids)
Layer norm (Ba et al. 2016, sec. 3.1): the input and recurrent pre-activations are normalized
separately over all 4H gates, and the cell is normalized before its tanh:
    gates = LN(x W_ih^T; ln_ih_weight) + b_ih + LN(h W_hh^T; ln_hh_weight) + b_hh
    h'    = o * tanh(LN(c'; ln_cell_weight, ln_cell_bias))

Shapes: x (B, D), h (B, P), c (B, H); P = proj_size if proj_size > 0 else H.
Parameters (rows of the stacked weights in gate order i, f, g, o):
    weight_ih (4H, D), weight_hh (4H, P), bias_ih (4H,), bias_hh (4H,)   [biases if bias=True]
    weight_hr (P, H)                                    if proj_size > 0
    weight_ci, weight_cf, weight_co (H,)                if peephole
    ln_ih_weight, ln_hh_weight (4H,), ln_cell_weight, ln_cell_bias (H,)   if layer_norm
Initialization by ``init`` (cells/init.py); ``forget_bias`` then sets b_if = forget_bias and
b_hf = 0, so the forget gate starts open (Jozefowicz et al. 2015; Gers et al. 2000).
"""

from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .init import init_recurrent
from .linear import linear
from .state import LSTMState
from .step import cell_step

LN_EPS = 1e-5


def lstm_core(gx: Tensor, gh: Tensor, state: tuple, p: dict, *, peephole: bool,
              layer_norm: bool) -> LSTMState:
    """gx = input pre-activations incl. b_ih (B, 4H); gh = h W_hh^T (B, 4H). Returns (h', c')."""
    h, c = state
    if layer_norm:
        gh = F.layer_norm(gh, gh.shape[-1:], p["ln_hh_weight"], None, LN_EPS)
    gates = gx + gh + p["bias_hh"] if "bias_hh" in p else gx + gh
    i, f, g, o = gates.chunk(4, -1)  # each (B, H)
    if peephole:
        i = i + p["weight_ci"] * c
        f = f + p["weight_cf"] * c
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    if peephole:
        o = o + p["weight_co"] * c
    c_out = F.layer_norm(c, c.shape[-1:], p["ln_cell_weight"], p["ln_cell_bias"], LN_EPS) if layer_norm else c
    h = torch.sigmoid(o) * torch.tanh(c_out)
    if "weight_hr" in p:
        h = F.linear(h, p["weight_hr"])  # (B, P)
    return LSTMState(h, c)


class LSTMCell(nn.Module):
    num_gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, proj_size: int = 0,
                 peephole: bool = False, layer_norm: bool = False, forget_bias: float = None,
                 init: str = "torch"):
        super().__init__()
        if not 0 <= proj_size < hidden_size:
            raise ValueError(f"proj_size={proj_size}: expected 0 <= proj_size < hidden_size={hidden_size}")
        if forget_bias is not None and not bias:
            raise ValueError("forget_bias needs bias=True")
        H, P = hidden_size, proj_size or hidden_size
        self.input_size, self.hidden_size, self.proj_size, self.bias = input_size, H, proj_size, bias
        self.peephole, self.layer_norm = peephole, layer_norm
        self.state_sizes = (P, H)
        self.forget_gate = slice(H, 2 * H)
        self.weight_ih = nn.Parameter(torch.empty(4 * H, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, P))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(4 * H))
            self.bias_hh = nn.Parameter(torch.empty(4 * H))
        if proj_size:
            self.weight_hr = nn.Parameter(torch.empty(P, H))
        if peephole:
            self.weight_ci, self.weight_cf, self.weight_co = (nn.Parameter(torch.empty(H)) for _ in range(3))
        if layer_norm:
            self.ln_ih_weight = nn.Parameter(torch.empty(4 * H))
            self.ln_hh_weight = nn.Parameter(torch.empty(4 * H))
            self.ln_cell_weight = nn.Parameter(torch.empty(H))
            self.ln_cell_bias = nn.Parameter(torch.empty(H))
        self.core = partial(lstm_core, peephole=peephole, layer_norm=layer_norm)
        init_recurrent(self, init)
        if forget_bias is not None:
            with torch.no_grad():
                self.bias_ih[self.forget_gate] = forget_bias
                self.bias_hh[self.forget_gate] = 0.0

    def project_input(self, x: Tensor) -> Tensor:
        if self.layer_norm:
            bias = self.bias_ih if self.bias else None  # LN(x W_ih^T) * g_ih + b_ih: layer_norm's own shift
            return F.layer_norm(linear(x, self.weight_ih), (4 * self.hidden_size,), self.ln_ih_weight, bias,
                                LN_EPS)  # (..., 4H)
        return linear(x, self.weight_ih, self.bias_ih if self.bias else None)  # (..., 4H)

    def recurrent_weight(self, weight_hh: Tensor = None) -> Tensor:
        """``weight_hh`` overrides the parameter (a DropConnect copy)."""
        return self.weight_hh if weight_hh is None else weight_hh

    def core_params(self, weight_hh: Tensor = None) -> dict:
        names = ["bias_hh"] * self.bias + ["weight_hr"] * bool(self.proj_size)
        names += ["weight_ci", "weight_cf", "weight_co"] * self.peephole
        names += ["ln_hh_weight", "ln_cell_weight", "ln_cell_bias"] * self.layer_norm
        return {name: getattr(self, name) for name in names}

    def forward(self, x: Tensor, state: LSTMState = None) -> LSTMState:
        """One step: x (B, D), state (h (B, P), c (B, H)) or None for zeros -> LSTMState(h', c')."""
        return cell_step(self, x, state)
