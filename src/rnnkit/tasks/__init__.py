"""The tasks the CLI knows, by name: an explicit dict, no registry magic."""

from . import classification, forecasting, language_modeling, tagging

TASKS = {"lm": language_modeling, "classify": classification, "tag": tagging, "forecast": forecasting}

__all__ = ["TASKS"]
