"""The forecasting benchmarks: each experiment is ``rnnkit train forecast`` with a config and overrides,
run one after the other (never side by side: they would share the cores); prints one markdown table
per experiment with the model and its baselines on the same rolling-origin windows.

    python bench/forecast.py --out runs/forecast-bench                  # every experiment
    python bench/forecast.py --only etth1-24 etth1-48 --out runs/fb     # some of them
    python bench/forecast.py --only etth1-24 --set model.likelihood=student_t --tag t --out runs/fb

Experiments (data from ../shared/data, see its README):
    etth1-24 / -48 / -168   ETTh1, all 7 columns, Informer split, context 96 (configs/etth1.yaml)
    airline                  24 months from the end of 1958 (configs/airline.yaml), mean of --seeds runs
    sunspots                 one step ahead, 1921-2008 (configs/sunspots.yaml), mean of --seeds runs
The runs stay in --out; each table names its run directory.
"""

import argparse
import json
import os
import subprocess
import sys
import time

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
EXPERIMENTS = {
    "etth1-24": ("ett/ETTh1.csv", "configs/etth1.yaml", ["data.horizon=24"]),
    "etth1-48": ("ett/ETTh1.csv", "configs/etth1.yaml", ["data.horizon=48"]),
    "etth1-168": ("ett/ETTh1.csv", "configs/etth1.yaml", ["data.horizon=168"]),
    "airline": ("airline-passengers/airline-passengers.csv", "configs/airline.yaml", []),
    "sunspots": ("sunspots-yearly/sunspots.csv", "configs/sunspots.yaml", []),
}
SHOWN = (("mae", "MAE"), ("rmse", "RMSE"), ("mse", "MSE"), ("smape", "sMAPE %"), ("mase", "MASE"),
         ("scaled_mse", "MSE (std)"), ("scaled_mae", "MAE (std)"), ("crps", "CRPS"), ("coverage", "coverage"))


def train(args, name, seed):
    path, config, overrides = EXPERIMENTS[name]
    out = os.path.join(args.out, f"{name}{'-' + args.tag if args.tag else ''}-s{seed}")
    command = [sys.executable, "-m", "rnnkit", "train", "forecast", "--config", config, "--data",
               os.path.join(DATA, path), "--out", out, "--force", "--quiet", "--set", f"train.seed={seed}",
               *sum((["--set", s] for s in overrides + (args.set or [])), [])]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    total = time.perf_counter() - start
    with open(os.path.join(out, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    training = max(r["elapsed"] for r in records if "elapsed" in r)
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f), (training, total), out


def table(name, reports, seconds, outs):
    lines = []
    for span in ("valid", "test"):
        if span not in reports[0]:
            continue
        methods = reports[0][span]["methods"]
        model = next(iter(methods))
        shown = [(k, t) for k, t in SHOWN if k in methods[model]]
        training = sum(t for t, _ in seconds) / len(seconds)
        total = sum(t for _, t in seconds) / len(seconds)
        lines += [f"**{name}, {span}** ({reports[0][span]['origins']:,} origins; model: mean of {len(reports)} "
                  f"run(s), each {training:.0f} s of training, {total:.0f} s with the baselines and the backtest; "
                  f"{', '.join(outs)})", "",
                  "| method | " + " | ".join(t for _, t in shown) + " |", "|---" * (len(shown) + 1) + "|"]
        for method in methods:
            runs = [r[span]["methods"][method] for r in reports]
            cells = []
            for key, _ in shown:
                values = [run[key] for run in runs if key in run]
                cells.append(f"{sum(values) / len(values):.4g}" if values else "-")
            if method == model and len(runs) > 1 and "rmse" in runs[0]:
                cells[[k for k, _ in shown].index("rmse")] += " (" + ", ".join(f"{r['rmse']:.1f}" for r in runs) + ")"
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(EXPERIMENTS), help="experiments to run (default: all)")
    parser.add_argument("--seeds", type=int, default=3, help="runs per small-series experiment (default 3)")
    parser.add_argument("--set", action="append", help="an override for every run")
    parser.add_argument("--tag", default="", help="added to the run directories' names")
    parser.add_argument("--out", default="runs/forecast-bench")
    args = parser.parse_args()
    for name in args.only or list(EXPERIMENTS):
        seeds = range(args.seeds) if name in ("airline", "sunspots") else range(1)
        results = [train(args, name, seed) for seed in seeds]
        print("\n".join(table(name, *zip(*results))), flush=True)


if __name__ == "__main__":
    main()
