"""The training progress bar: the one Trainer callback the CLI installs."""

import sys


class ProgressBar:
    """A tqdm bar on stderr: loss, learning rate, tokens/s and ETA; validation results as lines."""

    def __init__(self, quiet: bool = False, format_eval=None, rate: str = "tok_s"):
        self.quiet, self.bar, self.rate = quiet, None, rate  # rate: the name of model.loss's count per second
        self.format_eval = format_eval or (lambda record: f"step {record['step']}: valid loss {record['loss']:.4f}")

    def on_start(self, trainer):
        from tqdm import tqdm

        cfg = trainer.config
        if cfg.max_steps:
            total, unit = cfg.max_steps, "step"
        elif cfg.time_budget:
            total, unit = int(cfg.time_budget), "s"
        else:
            total, unit = None, "step"
        self.unit = unit
        initial = trainer.step if unit == "step" else int(trainer.elapsed)
        if not self.quiet:
            interactive = sys.stderr.isatty()  # a log file gets a line every 30 s, not a redraw per step
            self.bar = tqdm(total=total, initial=initial, unit=unit, dynamic_ncols=True, file=sys.stderr,
                            desc="train", smoothing=0.05, mininterval=0.5 if interactive else 30.0)
            if trainer.resumed_from:
                self.bar.write(f"resumed from {trainer.resumed_from} (step {trainer.step})")
        self.tokens_per_s = 0.0

    def on_step(self, trainer, record):
        if self.bar is None:
            return
        self.tokens_per_s = record.get("tokens_per_s", self.tokens_per_s)
        if self.unit == "step":
            self.bar.update(1)
        else:
            self.bar.update(max(0, int(record["elapsed"]) - self.bar.n))
        if record["step"] % trainer.config.log_every == 0 or record["step"] == 1:
            self.bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.2e}",
                                 ep=f"{record['epochs']:.2f}", refresh=False,
                                 **{self.rate: f"{self.tokens_per_s:,.0f}"})

    def on_eval(self, trainer, record):
        line = self.format_eval(record)
        if self.bar is not None:
            self.bar.write(line)
        elif not self.quiet:
            print(line, file=sys.stderr)

    def on_checkpoint(self, trainer, path):
        pass

    def on_end(self, trainer, summary):
        if self.bar is not None:
            self.bar.close()
