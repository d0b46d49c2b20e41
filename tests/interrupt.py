"""A Trainer callback that interrupts training after a given step, as Ctrl-C would (for resume tests)."""

from rnnkit.training import Callback


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step(self, trainer, record):
        if record["step"] == self.step:
            raise KeyboardInterrupt
