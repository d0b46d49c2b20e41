"""Recurrent states. An LSTM state is ``LSTMState(h, c)``; an RNN or GRU state is the tensor ``h``.

Inside the package every state travels as a tuple of tensors (``LSTMState`` is one, an RNN/GRU
state is ``(h,)``) so that the time loops need no ``isinstance`` checks; the few conversions live here.
"""

from typing import NamedTuple, Sequence, Union

import torch
from torch import Tensor


class LSTMState(NamedTuple):
    h: Tensor  # (..., P) hidden state; P = proj_size if the LSTM projects, else H
    c: Tensor  # (..., H) cell state


State = Union[Tensor, LSTMState]


def as_parts(state: State) -> tuple:
    """Public state -> tuple of tensors."""
    return tuple(state) if isinstance(state, tuple) else (state,)


def from_parts(parts: Sequence[Tensor]) -> State:
    """Tuple of tensors -> public state (two parts: LSTMState, one part: the tensor)."""
    return LSTMState(*parts) if len(parts) == 2 else parts[0]


def zero_parts(sizes: Sequence[int], batch: int, like: Tensor) -> tuple:
    """Zero state parts of widths ``sizes`` for ``batch`` rows, on ``like``'s device."""
    dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
    return tuple(like.new_zeros(batch, size, dtype=dtype) for size in sizes)
