"""The tasks the CLI knows, by name: an explicit dict, no registry magic."""

from . import language_modeling

TASKS = {"lm": language_modeling}

__all__ = ["TASKS"]
