"""Task models: one per file, each with its config dataclass, its loss and its decoding."""

from .language_model import LanguageModel, LanguageModelConfig

__all__ = ["LanguageModel", "LanguageModelConfig"]
