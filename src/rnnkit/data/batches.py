"""Batches of variable-length sequences: truncated, bucketed by length, padded with id 0.

Bucketing (as torchtext's BucketIterator and AllenNLP's bucket sampler do): each epoch the examples
are shuffled, cut into pools of ``pool`` batches, each pool sorted by length and cut into batches,
and the batches shuffled. Rows of a batch have similar lengths, so little time goes into padding, and
the order still changes every epoch. With ``balanced`` the epoch's examples are drawn with replacement,
each class equally likely (for imbalanced data).

The order of an epoch is a function of (seed, epoch) only, so the position is two integers and a
resumed run sees exactly the batches of an uninterrupted one.
"""

import random
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch

TRUNCATIONS = ("head", "tail", "head_tail")


def truncate(ids: List[int], max_length: int, how: str = "head") -> List[int]:
    """At most ``max_length`` ids: the first ones (head), the last ones (tail), or the first quarter and
    the last three quarters (head_tail; Sun et al. 2019 found it best for long reviews with BERT)."""
    if max_length <= 0 or len(ids) <= max_length:
        return ids
    if how == "head":
        return ids[:max_length]
    if how == "tail":
        return ids[-max_length:]
    head = max_length // 4
    return ids[:head] + ids[len(ids) - (max_length - head):]


def pad(sequences: Sequence[List[int]]) -> Tuple[torch.Tensor, torch.Tensor]:
    """(ids (B, T) padded with 0, lengths (B,))."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    ids = torch.zeros(len(sequences), int(lengths.max()), dtype=torch.long)
    for row, s in enumerate(sequences):
        ids[row, :len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, lengths


class BucketBatches:
    """The training data for the Trainer: ``next() -> (collate(rows), reset)`` where ``rows`` are the
    indices of one batch's examples and ``lengths[i]`` is example i's length; ``reset`` is always False
    (no state is carried between texts). ``labels`` (ints) are needed only for balanced sampling."""

    def __init__(self, lengths: Sequence[int], collate: Callable[[List[int]], dict], batch_size: int,
                 seed: int = 0, pool: int = 50, balanced: bool = False, labels: Optional[Sequence[int]] = None):
        if not lengths:
            raise ValueError("no examples to batch")
        if min(lengths) < 1:
            raise ValueError("every example needs a length of at least 1")
        if balanced and labels is None:
            raise ValueError("balanced sampling needs the labels")
        self.lengths, self.collate = list(lengths), collate
        self.labels = None if labels is None else [int(label) for label in labels]
        self.batch_size, self.seed, self.pool, self.balanced = batch_size, seed, pool, balanced
        self.epoch, self.position = 0, 0
        self._order = self._epoch_batches(0)

    def _epoch_batches(self, epoch: int) -> List[List[int]]:
        rng = random.Random(self.seed * 1_000_003 + epoch)
        n = len(self.lengths)
        if self.balanced:
            by_class: Dict[int, List[int]] = {}
            for i, label in enumerate(self.labels):
                by_class.setdefault(label, []).append(i)
            classes = sorted(by_class)
            indices = [rng.choice(by_class[rng.choice(classes)]) for _ in range(n)]
        else:
            indices = list(range(n))
            rng.shuffle(indices)
        size = self.batch_size
        batches = []
        for start in range(0, n, size * self.pool):
            pool = sorted(indices[start:start + size * self.pool], key=lambda i: self.lengths[i])
            batches += [pool[k:k + size] for k in range(0, len(pool), size)]
        rng.shuffle(batches)
        return batches

    @property
    def batches_per_epoch(self) -> int:
        return len(self._order)

    @property
    def epochs(self) -> float:
        return self.epoch + self.position / len(self._order)

    def next(self):
        if self.position >= len(self._order):
            self.epoch, self.position = self.epoch + 1, 0
            self._order = self._epoch_batches(self.epoch)
        rows = self._order[self.position]
        self.position += 1
        return self.collate(rows), False

    def state(self):
        return {"epoch": self.epoch, "position": self.position}, {}

    def load_state(self, data: dict, tensors: dict) -> None:
        self.epoch, self.position = data["epoch"], data["position"]
        self._order = self._epoch_batches(self.epoch)


def labeled_batches(sequences: List[List[int]], labels: torch.Tensor, batch_size: int, seed: int = 0,
                    pool: int = 50, balanced: bool = False) -> BucketBatches:
    """Bucketed batches of id sequences with one label each: {"ids" (B, T), "lengths" (B,), "labels" (B,)}."""
    def collate(rows):
        ids, lengths = pad([sequences[i] for i in rows])
        return {"ids": ids, "lengths": lengths, "labels": labels[rows]}

    return BucketBatches([len(s) for s in sequences], collate, batch_size, seed, pool, balanced, labels.tolist())


def sorted_batches(sequences: List[List[int]], batch_size: int) -> Iterator[Tuple[List[int], Dict[str, torch.Tensor]]]:
    """For evaluation and prediction: (row indices, batch) in order of length, so each batch is padded
    as little as possible; the indices put the results back in the input's order."""
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        ids, lengths = pad([sequences[i] for i in rows])
        yield rows, {"ids": ids, "lengths": lengths}
