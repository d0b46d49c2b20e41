"""The regularizers torch.nn.LSTM lacks, as small functions of (tensor, rate, training).

- standard dropout between layers: a new mask at every step (torch.nn.LSTM's ``dropout``);
- locked / variational dropout (Gal & Ghahramani 2016; AWD-LSTM's LockedDropout): one mask per
  sequence, the same at every time step;
- DropConnect on the recurrent weights (Wan et al. 2013; AWD-LSTM's WeightDrop): one mask on W_hh per
  forward call, applied functionally to the weight the kernel reads, so the parameter itself is never
  replaced (AWD-LSTM's version re-registered parameters and broke flatten_parameters);
- recurrent dropout masks (Gal & Ghahramani 2016): one mask per sequence on the h fed to W_hh;
- zoneout (Krueger et al. 2016): each unit keeps its previous value with probability z at each step;
  in eval mode the state is the expectation z * old + (1 - z) * new.
All are identities (or the expectation, for zoneout) in eval mode.
"""

import torch
import torch.nn.functional as F
from torch import Tensor


def sequence_dropout(x: Tensor, p: float, training: bool, locked: bool) -> Tensor:
    """x (B, T, D); locked: one mask (B, 1, D) for all steps, else a new mask per element (B, T, D).
    The mask is drawn over the logical shape, not x's memory layout, so every path (whose outputs
    differ in strides) drops the same elements for the same seed."""
    if not training or p == 0.0:
        return x
    B, T, D = x.shape
    mask = x.new_empty(B, 1 if locked else T, D).bernoulli_(1 - p) / (1 - p)
    return x * mask


def drop_connect(weight: Tensor, p: float, training: bool) -> Tensor:
    """One dropout mask over the whole recurrent weight matrix, for this forward call."""
    return F.dropout(weight, p, True) if training and p > 0.0 else weight


def recurrent_mask(batch: int, size: int, p: float, like: Tensor):
    """(B, P) mask scaled by 1/(1-p), constant over time; None when there is nothing to drop."""
    if p == 0.0:
        return None
    return like.new_empty(batch, size).bernoulli_(1 - p) / (1 - p)


def zoneout_keep(steps: int, batch: int, size: int, z: float, training: bool, like: Tensor) -> Tensor:
    """Training: (T, B, size), 1 where a unit keeps its old value. Eval: (T, B, 1) of z, the same for
    every unit (it broadcasts), instead of a (T, B, size) tensor filled on every call."""
    if training:  # uniform < z: the same Bernoulli(z) as bernoulli_, drawn in half the time on a CPU
        return (torch.rand(steps, batch, size, device=like.device) < z).to(like.dtype)
    return like.new_full((steps, batch, 1), z)
