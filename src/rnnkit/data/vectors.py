"""Pretrained word vectors from a user's text file: GloVe (``word v1 ... vD`` per line) or word2vec text
format (the same lines after a ``count D`` header). Only the vocabulary's words are kept, so a large
file costs one pass and little memory. A cased file serves a lower-cased vocabulary: a word missing as
such is looked up lower-cased (word2vec's GoogleNews vectors are cased, GloVe's are not).
"""

import math
from dataclasses import dataclass
from typing import List

import torch

from .labeled import stream_lines
from .text import DataError

FLOAT32_MAX = torch.finfo(torch.float32).max  # the embedding's dtype: a larger number would become inf


@dataclass
class Vectors:
    weight: torch.Tensor     # (V, E): found rows hold the vectors, the others are zero
    found: torch.Tensor      # (V,) bool
    dimension: int

    def report(self, counts=None) -> str:
        """How much of the vocabulary (and, given token counts per id, of the running text) was found."""
        found, size = int(self.found[2:].sum()), self.found.numel() - 2  # <pad> and <unk> never are
        line = f"{found:,} of {size:,} vocabulary words have a pretrained vector ({100 * found / max(size, 1):.1f}%)"
        if counts is not None:
            counts = torch.as_tensor(counts, dtype=torch.float64)
            line += f", covering {100 * float(counts[self.found].sum() / counts.sum().clamp(min=1)):.1f}% of the tokens"
        return line


def load_vectors(path: str, symbols: List[str]) -> Vectors:
    """The rows of ``path`` for the words in ``symbols`` (id order)."""
    index = {s: i for i, s in enumerate(symbols)}
    rows, dimension = {}, None
    for number, line in stream_lines(path):
        parts = line.rstrip("\r\n").rstrip(" ").split(" ")
        if number == 1 and len(parts) == 2 and all(p.isdigit() and len(p) < 10 for p in parts):
            dimension = int(parts[1])  # the word2vec header: count, dimension
            continue
        if len(parts) < 2:
            if not line.strip():
                continue
            raise DataError(f"{path}:{number}: expected a word then its vector's numbers, got one field")
        if dimension is None:
            dimension = len(parts) - 1
        if len(parts) - 1 != dimension:
            raise DataError(f"{path}:{number}: {len(parts) - 1} numbers, the vectors before have {dimension}")
        word = parts[0]
        i = index.get(word)
        if i is None or (i in rows and rows[i][0]):  # an exact match beats a lower-cased one
            lower = index.get(word.lower())
            if lower is None or lower in rows:
                continue
            i, exact = lower, False
        else:
            exact = True
        try:
            values = [float(v) for v in parts[1:]]
        except ValueError:
            raise DataError(f"{path}:{number}: the vector of {word!r} holds something that is not a number") from None
        if not all(math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in values):
            raise DataError(f"{path}:{number}: the vector of {word!r} holds NaN, an infinity or a number beyond "
                            "float32's range (about 3.4e38); expected finite numbers")
        rows[i] = (exact, values)
    if dimension is None:
        raise DataError(f"{path}: no vectors in the file")
    weight = torch.zeros(len(symbols), dimension)
    found = torch.zeros(len(symbols), dtype=torch.bool)
    for i, (_, values) in rows.items():
        weight[i] = torch.tensor(values)
        found[i] = True
    found[:2] = False
    weight[:2] = 0.0
    return Vectors(weight, found, dimension)
