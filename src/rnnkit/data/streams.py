"""Contiguous token streams for language models, cut into truncated-BPTT windows.

As in the classic word-language-model: the token sequence is cut into B equal streams laid side by
side, and each batch is the next window of every stream, so the hidden state at the end of one batch
is the right start for the next (carried, detached). With ``random_bptt`` the window length varies
as in AWD-LSTM (Merity et al. 2018): ``bptt`` with probability 0.95, else ``bptt / 2``, then
normally distributed around it with std 5, so that every token sometimes starts a window.
"""

from typing import Dict, Iterator, Tuple

import torch
from torch import Tensor


def batchify(ids: Tensor, batch_size: int) -> Tensor:
    """1-D ids (N,) -> (B, N // B): B contiguous streams; the remainder is dropped."""
    steps = ids.numel() // batch_size
    return ids[: steps * batch_size].view(batch_size, steps)


class TokenStream:
    """Endless training batches ``({"input": (B, T), "target": (B, T)}, reset)`` over ``ids``;
    ``reset`` is True at the start of every epoch (the carried state must be dropped there).
    Its position and RNG travel in checkpoints (``state`` / ``load_state``)."""

    def __init__(self, ids: Tensor, batch_size: int, bptt: int, random_bptt: bool = False, seed: int = 0):
        if ids.numel() < 2 * batch_size:
            raise ValueError(f"{ids.numel()} tokens are too few for batch_size={batch_size}: each of the "
                             f"{batch_size} streams needs at least 2 tokens")
        self.streams = batchify(ids, batch_size)  # (B, N)
        self.bptt, self.random_bptt = bptt, random_bptt
        self.generator = torch.Generator().manual_seed(seed)
        self.position, self.epoch = 0, 0

    @property
    def epochs(self) -> float:
        """Epochs done, as a fraction."""
        return self.epoch + self.position / max(self.streams.size(1) - 1, 1)

    def window(self) -> int:
        if not self.random_bptt:
            return self.bptt
        base = self.bptt if torch.rand((), generator=self.generator) < 0.95 else self.bptt / 2
        return max(5, int(torch.normal(float(base), 5.0, (), generator=self.generator)))

    def next(self) -> Tuple[Dict[str, Tensor], bool]:
        length = self.window()
        start, last = self.position, self.streams.size(1) - 1  # the last column is only ever a target
        end = min(start + length, last)
        self.position = end
        if self.position >= last:  # no target left in this epoch: the next window starts the next one
            self.position, self.epoch = 0, self.epoch + 1
        return {"input": self.streams[:, start:end], "target": self.streams[:, start + 1:end + 1]}, start == 0

    def state(self) -> Tuple[dict, Dict[str, Tensor]]:
        return {"position": self.position, "epoch": self.epoch}, {"generator": self.generator.get_state()}

    def load_state(self, data: dict, tensors: Dict[str, Tensor]) -> None:
        self.position, self.epoch = data["position"], data["epoch"]
        self.generator.set_state(tensors["generator"])


def eval_windows(ids: Tensor, batch_size: int, length: int, limit: float = 1.0) -> Iterator[Dict[str, Tensor]]:
    """Evaluation windows over ``ids`` as contiguous streams (state carried by the caller); ``limit``
    < 1 evaluates only that leading fraction (faster, for frequent checks during training)."""
    streams = batchify(ids, batch_size)
    end = max(2, int((streams.size(1) - 1) * limit) + 1)
    for start in range(0, end - 1, length):
        stop = min(start + length, end - 1)
        yield {"input": streams[:, start:stop], "target": streams[:, start + 1:stop + 1]}
