"""This checkout's recurrent layers against another checkout's, in one process, interleaved: same
weights, same input, outputs compared bit for bit, forward times side by side. For refactors that
must not change what a layer computes or how fast (docs/benchmarks.md, issue 22).

    git worktree add /tmp/before <commit>
    python bench/ab_layers.py /tmp/before [--repeats 30]
"""

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

VARIANTS = {"peephole": {"peephole": True}, "recurrent dropout": {"recurrent_dropout": 0.25},
            "layer norm": {"layer_norm": True}, "plain (fused)": {}, "gru cho": {"cell": "gru", "reset_after": False}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", help="the other checkout (its src/rnnkit is imported as rnnkit_before)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    copy = Path(tempfile.mkdtemp())
    shutil.copytree(Path(args.other) / "src" / "rnnkit", copy / "rnnkit_before")  # relative imports: any name works
    sys.path.insert(0, str(copy))
    before = importlib.import_module("rnnkit_before")
    import rnnkit

    torch.manual_seed(0)
    x = torch.randn(64, 100, 256)
    print(f"{'variant':20s} {'path':>9s} {'this':>9s} {'other':>9s} {'ratio':>6s}  equal")
    for name, options in VARIANTS.items():
        options = dict(options)
        cell = options.pop("cell", "lstm")
        factory = {"lstm": "LSTM", "gru": "GRU"}[cell]
        new = getattr(rnnkit, factory)(256, 256, **options).eval()
        old = getattr(before, factory)(256, 256, **options).eval()
        old.load_state_dict(new.state_dict())
        with torch.no_grad():
            equal = torch.equal(new(x)[0], old(x)[0])
            times = {"new": [], "old": []}
            for _ in range(3):
                new(x), old(x)
            for _ in range(args.repeats):
                for key, layer in (("new", new), ("old", old)):
                    start = time.perf_counter()
                    layer(x)
                    times[key].append(time.perf_counter() - start)
        t_new, t_old = statistics.median(times["new"]), statistics.median(times["old"])
        print(f"{name:20s} {new.path:>9s} {t_new * 1e3:7.2f}ms {t_old * 1e3:7.2f}ms {t_new / t_old:6.3f}  {equal}")


if __name__ == "__main__":
    main()
