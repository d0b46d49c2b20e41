"""One step of any cell: the cell's equations, split the way every execution path uses them.

Each cell provides
  project_input(x)  -> gx      the input part of the pre-activations; it does not depend on the
                               state, so a layer computes it for all T steps as one matrix product
  recurrent_weight() -> W      (G_r, P) the weight multiplied with the previous h each step
  core_params()     -> dict    every other parameter the step reads
                               (both take an optional weight_hh: DropConnect's dropped copy)
  core(gx, gh, state, params)  a pure function of tensors: the rest of the equations, with
                               gh = h W^T; pure so it can be compiled and differentiated by torch.func
"""

import torch.nn.functional as F
from torch import Tensor, nn

from .state import as_parts, from_parts, zero_parts


def cell_step(cell: nn.Module, x: Tensor, state=None):
    """Run ``cell`` one step on x (B, D) from ``state`` (zeros if None); returns the new state."""
    parts = zero_parts(cell.state_sizes, x.shape[0], x) if state is None else as_parts(state)
    gh = F.linear(parts[0], cell.recurrent_weight())  # (B, G_r)
    return from_parts(cell.core(cell.project_input(x), gh, parts, cell.core_params()))
