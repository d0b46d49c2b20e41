"""Series -> model inputs: a value transform, standardization fitted on the training rows only, and
windows cut at forecast origins.

A window at origin o (an index into the T rows) has C context rows [o-C, o) and K horizon rows
[o, o+K): the model sees the context (and the known covariates of the horizon) and forecasts the
horizon. Training uses every origin whose horizon ends inside the training rows; validation and test
origins lie in their spans, their context may reach back into earlier rows (as in the Informer
benchmark's data loader), never their horizon.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .text import DataError

TRANSFORMS = ("none", "log", "log1p", "sqrt")
_FORWARD = {"none": lambda v: v, "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt}
_INVERSE = {"none": lambda v: v, "log": np.exp, "log1p": np.expm1, "sqrt": lambda v: np.square(np.maximum(v, 0))}
_DOMAIN = {"log": (lambda v: v > 0, "> 0"), "log1p": (lambda v: v > -1, "> -1"), "sqrt": (lambda v: v >= 0, ">= 0")}


def apply_transform(name: str, values: np.ndarray, columns: Sequence[str], where: str = "",
                    lines: Optional[np.ndarray] = None) -> np.ndarray:
    """values (T, D) -> transformed; a value outside the transform's domain is an error naming it."""
    if name in _DOMAIN:
        ok, expected = _DOMAIN[name]
        bad = np.argwhere(~ok(values))
        if len(bad):
            row, column = bad[0]
            line = f" line {int(lines[row])}" if lines is not None and lines[row] else f" row {row}"
            raise DataError(f"{where}{line}: {columns[column]} = {values[row, column]:g}, but data.transform="
                            f"{name} needs values {expected} ({len(bad)} such values)")
    return _FORWARD[name](values)


def invert_transform(name: str, values: np.ndarray) -> np.ndarray:
    return _INVERSE[name](values)


@dataclass
class Scaler:
    """Standardization per column: (v - mean) / std with the training rows' statistics (a constant
    column keeps std 1)."""
    mean: np.ndarray  # (D,)
    std: np.ndarray   # (D,)

    @classmethod
    def fit(cls, values: np.ndarray, enabled: bool = True) -> "Scaler":
        D = values.shape[1]
        if not enabled or len(values) == 0:
            return cls(np.zeros(D), np.ones(D))
        std = values.std(0)
        return cls(values.mean(0), np.where(std > 0, std, 1.0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.std + self.mean

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> "Scaler":
        return cls(np.asarray(data["mean"], dtype=np.float64), np.asarray(data["std"], dtype=np.float64))


class Windows:
    """targets (T, D), past-only covariates (T, Fp) and known covariates (T, Fk), already scaled; a batch
    of origins becomes the model's dict:
        past (B, C, D), past_covariates (B, C, Fp + Fk), future_covariates (B, K, Fk), future (B, K, D)
    ``future`` only when every horizon row exists (a forecast past the end has none; its ``known`` then
    has K rows more than ``targets``)."""

    def __init__(self, targets: np.ndarray, past: np.ndarray, known: np.ndarray, context: int, horizon: int):
        self.targets = torch.as_tensor(targets, dtype=torch.float32)
        rows = len(targets)  # known may run K rows further: the horizon of a forecast past the end
        self.covariates = torch.as_tensor(np.concatenate([past, known[:rows]], 1), dtype=torch.float32)  # (T, Fp+Fk)
        self.known = torch.as_tensor(known, dtype=torch.float32)
        self.context, self.horizon = context, horizon

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, origins: Sequence[int]) -> Dict[str, torch.Tensor]:
        o = torch.as_tensor(list(origins), dtype=torch.long)[:, None]
        past = o + torch.arange(-self.context, 0)                    # (B, C) row indices
        ahead = o + torch.arange(self.horizon)                       # (B, K)
        batch = {"past": self.targets[past], "past_covariates": self.covariates[past],
                 "future_covariates": self.known[ahead]}
        if int(ahead.max()) < len(self.targets):
            batch["future"] = self.targets[ahead]
        return batch


def origins(start: int, end: int, context: int, horizon: int, stride: int = 1) -> List[int]:
    """Forecast origins o with o >= max(start, context) and o + horizon <= end, every ``stride``,
    counted back from the last one (so the most recent window is always included)."""
    first, last = max(start, context), end - horizon
    if last < first:
        return []
    return list(range(last, first - 1, -stride))[::-1]
