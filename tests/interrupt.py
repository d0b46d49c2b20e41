"""Resume tests: a Trainer callback that interrupts training after a given step, as Ctrl-C would, and
the run-straight / interrupt / resume comparison every task's test makes."""

import os

import pytest
import torch

from rnnkit.tasks import runs
from rnnkit.training import Callback
from rnnkit.training.logs import read_metrics


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step(self, trainer, record):
        if record["step"] == self.step:
            raise KeyboardInterrupt


def assert_resume_repeats(task_module, config, root, stop: int) -> str:
    """Train ``config`` straight through in root/a; train it again in root/b, interrupted after step
    ``stop``, then resumed with ``runs.resume``; the final weights must be equal bit for
    bit, and so must every training loss logged. Returns the checkpoint the resume started from."""
    straight = task_module.Task(config)
    straight.trainer(os.path.join(root, "a")).fit()
    directory = os.path.join(root, "b")
    runs.save_run_config(directory, task_module.NAME, config)
    with pytest.raises(KeyboardInterrupt):
        task_module.Task(config).trainer(directory, callbacks=[StopAt(stop)]).fit()
    task, checkpoint, passed_over = runs.resume(directory, task_module)
    assert not passed_over
    trainer = task.trainer(directory)
    trainer.load(checkpoint)
    trainer.fit()
    for (name, a), b in zip(straight.model.state_dict().items(), task.model.state_dict().values()):
        assert torch.equal(a, b), name
    losses = [[(r["step"], r["loss"]) for r in read_metrics(os.path.join(root, run, "metrics.jsonl"))
               if r["kind"] == "train"] for run in ("a", "b")]
    assert losses[0] == losses[1], "the resumed run's training losses differ from the uninterrupted run's"
    return checkpoint
