"""Training: the loop, schedules, checkpoints, logs and config resolution. Knows nothing of any model."""

from .config import ConfigError, build, resolve
from .trainer import Callback, TrainConfig, Trainer, TrainingDiverged

__all__ = ["ConfigError", "build", "resolve", "Callback", "TrainConfig", "Trainer", "TrainingDiverged"]
