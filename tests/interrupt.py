"""Resume tests: a Trainer callback that interrupts training after a given step, as Ctrl-C would, and
the run-straight / interrupt / resume comparison every task's test makes."""

import os

import pytest
import torch

from rnnkit.tasks import runs
from rnnkit.training import Callback


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step(self, trainer, record):
        if record["step"] == self.step:
            raise KeyboardInterrupt


def assert_resume_repeats(task_module, config, root, stop: int) -> str:
    """Train ``config`` straight through in root/a; train it again in root/b, interrupted after step
    ``stop``, then resumed with ``task_module.resume_task``; the final weights must be equal bit for
    bit. Returns the checkpoint the resume started from."""
    straight = task_module.Task(config)
    straight.trainer(os.path.join(root, "a")).fit()
    directory = os.path.join(root, "b")
    runs.save_run_config(directory, task_module.NAME, config)
    with pytest.raises(KeyboardInterrupt):
        task_module.Task(config).trainer(directory, callbacks=[StopAt(stop)]).fit()
    task, checkpoint = task_module.resume_task(directory)
    trainer = task.trainer(directory)
    trainer.load(checkpoint)
    trainer.fit()
    for (name, a), b in zip(straight.model.state_dict().items(), task.model.state_dict().values()):
        assert torch.equal(a, b), name
    return checkpoint
