"""Validation loss against wall-clock seconds: rnnkit runs (metrics.jsonl) next to the hand-written
torch.nn baseline's log (../shared/bench/baseline_charlstm.py), as a table and a PNG.

    python bench/lm_curves.py --run NAME=RUN_DIR [--run ...] [--baseline NAME=LOG ...] --png out.png
"""

import argparse
import json
import os
import re


def run_curve(run_dir):
    points = []
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if record.get("kind") == "valid":
                points.append((record["elapsed"], record["loss"]))
    return points


def baseline_curve(log):
    points = []
    for line in open(log):
        match = re.match(r"t=\s*(\d+)s .* val~=([\d.]+)", line) or re.match(r"final t=(\d+)s .* val=([\d.]+)", line)
        if match:
            points.append((float(match.group(1)), float(match.group(2))))
    return points


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", default=[], help="NAME=RUN_DIR")
    parser.add_argument("--baseline", action="append", default=[], help="NAME=LOG")
    parser.add_argument("--png", help="write the plot here")
    args = parser.parse_args()
    curves = {}
    for spec in args.run:
        name, path = spec.split("=", 1)
        curves[name] = run_curve(path)
    for spec in args.baseline:
        name, path = spec.split("=", 1)
        curves[name] = baseline_curve(path)
    for name, points in curves.items():
        print(f"{name}: " + ", ".join(f"{t:.0f}s {loss:.4f}" for t, loss in points))
        print(f"  best {min(loss for _, loss in points):.4f}, last {points[-1][1]:.4f} at {points[-1][0]:.0f}s")
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
        for name, points in curves.items():
            ax.plot([t / 60 for t, _ in points], [loss for _, loss in points], "o-", markersize=3, label=name)
        ax.set_xlabel("wall clock (minutes, evaluation included)")
        ax.set_ylabel("validation loss (nats/char)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.png)


if __name__ == "__main__":
    main()
