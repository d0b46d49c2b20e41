"""What a run leaves behind besides checkpoints: metrics as JSON lines, TensorBoard event files and a
loss-curve PNG. Files only: nothing here prints."""

import json
import math
import os
from typing import List, Optional


class MetricsLog:
    """``metrics.jsonl``: one JSON object per line, ``{"kind": "train" | "valid", "step": ..., ...}``.

    On resume from step S the lines after S (written by the run that was killed) are dropped, so the
    file of a resumed run equals that of an uninterrupted one, step for step."""

    def __init__(self, path: str, resume_step: Optional[int] = None):
        self.path = path
        if resume_step is not None and os.path.exists(path):
            kept = [r for r in read_metrics(path) if r.get("step", 0) <= resume_step and r.get("kind") != "final"]
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in kept)
            os.replace(tmp, path)
        self.file = open(path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self.file.write(json.dumps(record) + "\n")

    def flush(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()


def read_metrics(path: str) -> List[dict]:
    """The records of a metrics file; a torn last line (from a killed write) is skipped."""
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


class TensorBoard:
    """TensorBoard scalars through torch's SummaryWriter (the ``tensorboard`` package). ``purge_step``
    makes TensorBoard discard events a killed run wrote after its last checkpoint."""

    def __init__(self, log_dir: str, purge_step: Optional[int] = None):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=log_dir, purge_step=purge_step)

    def scalars(self, prefix: str, values: dict, step: int) -> None:
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def close(self) -> None:
        self.writer.close()


def plot_losses(metrics_path: str, png_path: str, title: str = "") -> None:
    """Training loss (and its running mean) and validation loss against the optimizer step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_path)
    train = [(r["step"], r["loss"]) for r in records if r.get("kind") == "train" and math.isfinite(r["loss"])]
    valid = [(r["step"], r["loss"]) for r in records if r.get("kind") == "valid"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        steps, losses = zip(*train)
        ax.plot(steps, losses, color="tab:blue", alpha=0.25, linewidth=0.8, label="train (per step)")
        window = max(1, len(losses) // 50)
        smooth = [sum(losses[max(0, i - window + 1):i + 1]) / len(losses[max(0, i - window + 1):i + 1])
                  for i in range(len(losses))]
        ax.plot(steps, smooth, color="tab:blue", label=f"train (mean of {window})")
    if valid:
        steps, losses = zip(*valid)
        ax.plot(steps, losses, "o-", color="tab:orange", label="validation")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = png_path + ".tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, png_path)
