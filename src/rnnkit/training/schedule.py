"""Learning-rate schedules as plain functions of training progress, so resuming needs no hidden state
(except reduce-on-plateau, whose two numbers travel in the checkpoint's JSON)."""

import math
from dataclasses import dataclass

SCHEDULES = ("constant", "cosine", "plateau")


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Linear warmup from 1/warmup_steps to 1 over the first ``warmup_steps`` optimizer steps."""
    return min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0


def cosine_factor(progress: float, min_ratio: float) -> float:
    """Cosine decay (Loshchilov & Hutter 2017, without restarts) from 1 at progress 0 to ``min_ratio``
    at progress 1."""
    progress = min(max(progress, 0.0), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class Plateau:
    """Reduce on plateau (as torch.optim.lr_scheduler.ReduceLROnPlateau, mode='min', rel threshold):
    after more than ``patience`` evaluations without a relative improvement of ``threshold``, the
    learning rate is multiplied by ``factor`` (down to ``min_scale``)."""

    factor: float
    patience: int
    min_scale: float
    threshold: float = 1e-4
    scale: float = 1.0
    best: float = math.inf
    bad: int = 0

    def update(self, loss: float) -> bool:
        """Record one evaluation; True when the learning rate was just reduced."""
        margin = abs(self.best) * self.threshold if math.isfinite(self.best) else 0.0
        if loss < self.best - margin:  # torch's relative threshold, also right for values < 0
            self.best, self.bad = loss, 0
            return False
        self.bad += 1
        if self.bad > self.patience and self.scale > self.min_scale:
            self.scale, self.bad = max(self.scale * self.factor, self.min_scale), 0
            return True
        return False

    def state(self) -> dict:
        return {"scale": self.scale, "best": self.best if math.isfinite(self.best) else None, "bad": self.bad}

    def load(self, state: dict) -> None:
        self.scale, self.bad = state["scale"], state["bad"]
        self.best = math.inf if state["best"] is None else state["best"]
