"""The tasks the CLI knows, by name: an explicit dict, no registry magic."""

from . import classification, forecasting, language_modeling, seq2seq, tagging

TASKS = {"lm": language_modeling, "classify": classification, "tag": tagging, "forecast": forecasting,
         "seq2seq": seq2seq}

__all__ = ["TASKS"]
