"""What a task module provides: the one contract that the CLI, the shared run handling (tasks/runs.py)
and the contract test over every task (tests/test_tasks.py) read. After Hugging Face's one contract per
model family: a new task is a module that provides these names, plus its line in tasks/__init__.py.

  NAME          the task's name on the command line and in every saved run ("lm")
  SUMMARY       what it trains, for `rnnkit train --help`
  RUNS          how its runs are called in messages ("language-model")
  DOCS          its page in docs/ ("language-modeling.md"), which documents every key of its config
  RATE          what the progress bar calls model.loss's count per second ("tok_s")
  VERB          the command that puts a trained run to work ("generate", "predict", "tag", ...)
  TRAIN_FLAGS   its `rnnkit train` options: Flags whose ``dest`` is a key of its data section
  EVALUATE_FLAGS its own `rnnkit evaluate` options beyond --data, --batch-size, --checkpoint and --json:
                Flags whose ``dest`` is a keyword of its ``evaluate``
  RunConfig     its frozen config: sections train, data, model (and any of its own)

  Task(config, **restored)          reads the data and builds the model; .config, .model, .describe(),
                                    .evaluate(), .meta(), .trainer(run_dir, callbacks), and .notes and
                                    .skipped for the CLI to report; ``restored`` is restore(meta)'s
  restore(meta) -> dict             what Task needs from a checkpoint's meta to rebuild its run exactly
                                    (vocabularies, classes, the training data's digest)
  build_model(config, meta)         the model of a checkpoint, from its meta alone (reads no data)
  format_eval(record) -> str        one evaluation during training, as the progress bar prints it
  finish(task, run_dir, summary)    after training: the task's reports written; the lines to print
  evaluate(path, which, data, batch_size, **options) -> Report
                                    a trained run (its ``which`` checkpoint) measured on a file
  load_trained(path, which)         a trained run ready to predict, through runs.load: what VERB uses
                                    (the model, and the task's vocabularies, classes or scaling)
"""

import argparse
import math
from typing import Callable, List, NamedTuple, Optional

from ..data import DataError


class Flag(NamedTuple):
    """A command-line option of one task's."""
    name: str                          # "--text-column"
    dest: str                          # the data key (train) or evaluate's keyword it sets
    help: str
    metavar: Optional[str] = None
    type: Callable = str
    repeat: bool = False               # may be given several times: a list
    many: bool = False                 # takes one or more values: a list
    switch: bool = False               # takes no value: true when given
    choices: Optional[tuple] = None

    @property
    def option(self) -> str:
        """The argparse destination: the flag's own name ("text_column")."""
        return self.name.lstrip("-").replace("-", "_")


class Report(NamedTuple):
    """What `rnnkit evaluate` prints: the metrics (one JSON object with --json), else the lines; the notes
    go to stderr either way."""
    metrics: dict
    lines: List[str]
    notes: List[str]


def need_data(data: Optional[str], name: str, path: str) -> str:
    if not data:
        raise DataError(f"--data FILE is needed: the data to evaluate the {name!r} run {path} on")
    return data


def unknown_note(unknown, what: str) -> List[str]:
    """A note on the symbols that were not in a model's vocabulary (a Counter), or none."""
    if not unknown:
        return []
    shown = ", ".join(f"{s!r} x{n}" for s, n in unknown.most_common(10))
    return [f"{sum(unknown.values())} {what} not in the model's vocabulary ({shown}{', ...' if len(unknown) > 10 else ''})"]


def skipped_notes(skipped: dict) -> List[str]:
    """Per file, the rows a reader skipped (path -> Counter of reasons)."""
    return [f"{path}: {sum(counts.values())} rows skipped ({', '.join(f'{kind} x{n}' for kind, n in counts.most_common())})"
            for path, counts in skipped.items() if counts]


# the types of numeric options, a task's and the verbs' alike: argparse refuses a value out of range
# (exit code 2) with a message naming the option

def whole(low: int = 1):
    """An argparse type: an integer >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value
    return parse


def number(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False):
    """An argparse type: a finite number in the interval from ``low`` to ``high`` (open where said)."""
    shown = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open or high == math.inf else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        inside = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
        if not (math.isfinite(value) and inside):
            raise argparse.ArgumentTypeError(f"expected a number in {shown}, got {text!r}")
        return value
    return parse
