"""The tasks the CLI knows, by name: an explicit dict, no registry magic."""

from . import classification, language_modeling, tagging

TASKS = {"lm": language_modeling, "classify": classification, "tag": tagging}

__all__ = ["TASKS"]
