"""Vanilla RNN vs LSTM vs GRU on a classification dataset under one time budget each, with the final
state as the review's summary (``last``) and with pooling over every step (``mean+max``).

    python bench/classify_cells.py --data ../shared/data/imdb/train.csv.xz --budget 300 --out runs/cells

Each run is ``rnnkit train classify --config configs/imdb.yaml`` with ``model.cell`` and
``model.pooling`` changed, run one after the other (never side by side: they would share the cores).
Prints a markdown table: best validation accuracy, steps, epochs. The runs stay in --out.
"""

import argparse
import json
import os
import subprocess
import sys

CELLS = ("rnn_tanh", "lstm", "gru")
POOLINGS = ("last", "mean+max")


def run(args, cell, pooling):
    out = os.path.join(args.out, f"{cell}-{pooling.replace('+', '_')}")
    command = [sys.executable, "-m", "rnnkit", "train", "classify", "--config", args.config, "--data", args.data,
               "--out", out, "--force", "--quiet", "--set", f"model.cell={cell}", "--set", f"model.pooling={pooling}",
               "--set", f"train.time_budget={args.budget}", "--set", f"train.eval_every={args.eval_every}",
               *sum((["--set", s] for s in args.set or []), [])]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # the table is the only output
    report = json.load(open(os.path.join(out, "report.json")))
    records = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    train = [r for r in records if r["kind"] == "train"]
    valid = [r for r in records if r["kind"] == "valid"]
    return {"cell": cell, "pooling": pooling, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
            "steps": train[-1]["step"], "epochs": train[-1]["epochs"],
            "first_eval": valid[0]["accuracy"] if valid else float("nan"),
            "grad_norm": sum(r["grad_norm"] for r in train[-50:]) / len(train[-50:])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--config", default="configs/imdb.yaml")
    parser.add_argument("--budget", type=float, default=300, help="seconds per run")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--out", default="runs/classify-cells")
    parser.add_argument("--cells", nargs="+", default=CELLS)
    parser.add_argument("--poolings", nargs="+", default=POOLINGS)
    parser.add_argument("--set", action="append", help="more overrides for every run")
    args = parser.parse_args()
    print("| cell | pooling | best valid accuracy | macro-F1 | first eval | steps | epochs | grad norm (last 50) |")
    print("|---|---|---|---|---|---|---|---|")
    for pooling in args.poolings:
        for cell in args.cells:
            r = run(args, cell, pooling)
            print(f"| {r['cell']} | {r['pooling']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['first_eval']:.4f} "
                  f"| {r['steps']} | {r['epochs']:.2f} | {r['grad_norm']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
