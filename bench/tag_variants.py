"""The BiLSTM-CRF against its ablations under one time budget each: the CRF replaced by a softmax per
token, and the character encoder removed.

    python bench/tag_variants.py --train ../shared/data/conll2003/train.txt \\
        --valid ../shared/data/conll2003/valid.txt --budget 900 --out runs/tag-variants

Each run is ``rnnkit train tag --config configs/conll2003.yaml`` with the variant's overrides, run one
after the other (never side by side: they would share the cores). Prints a markdown table of the
best validation span F1 (exact spans, conlleval semantics). The runs stay in --out.
"""

import argparse
import json
import os
import subprocess
import sys

VARIANTS = {
    "BiLSTM-CRF (characters: BiLSTM)": [],
    "softmax instead of the CRF": ["model.output=softmax"],
    "no character features": ["model.char_encoder=none"],
}


def run(args, name, overrides):
    out = os.path.join(args.out, name.split(" ")[0].lower().replace("-", "_") + f"-{len(overrides)}"
                       + "".join(o.split("=")[1][:4] for o in overrides))
    command = [sys.executable, "-m", "rnnkit", "train", "tag", "--config", args.config, "--data", args.train,
               "--valid", args.valid, "--out", out, "--force", "--quiet", "--set", f"train.time_budget={args.budget}",
               *sum((["--set", s] for s in overrides + (args.set or [])), [])]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # the table is the only output
    report = json.load(open(os.path.join(out, "report.json")))
    records = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    train = [r for r in records if r["kind"] == "train"]
    best = max((r for r in records if r["kind"] == "valid"), key=lambda r: r["f1"])
    per_type = " / ".join(f"{100 * v['f1']:.1f}" for v in report["per_type"].values())
    return (f"| {name} | {100 * report['f1']:.2f} | {100 * report['precision']:.2f} | {100 * report['recall']:.2f} | "
            f"{per_type} | {100 * report['accuracy']:.2f} | {best['elapsed'] / 60:.1f} | {train[-1]['epochs']:.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--valid", required=True)
    parser.add_argument("--config", default="configs/conll2003.yaml")
    parser.add_argument("--budget", type=float, default=900, help="seconds per run")
    parser.add_argument("--out", default="runs/tag-variants")
    parser.add_argument("--set", action="append", help="more overrides for every run")
    args = parser.parse_args()
    print("| model | span F1 | precision | recall | F1 per type (LOC / MISC / ORG / PER) | token accuracy "
          "| minutes to the best | epochs |")
    print("|---|---|---|---|---|---|---|---|")
    for name, overrides in VARIANTS.items():
        print(run(args, name, overrides), flush=True)


if __name__ == "__main__":
    main()
