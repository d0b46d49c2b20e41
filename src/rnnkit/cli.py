"""The rnnkit command line: the one place that prints."""

import argparse
import json
import sys

from . import __version__


def _bench(args) -> int:
    import torch

    from .bench import BATCH, STEPS, cell_benchmark

    if args.threads:
        torch.set_num_threads(args.threads)
    progress = None if args.json else (lambda text: print(f"  ... {text}", file=sys.stderr, flush=True))
    if not args.json:
        print(f"rnnkit {__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"batch {BATCH}, {STEPS} steps, input = hidden; ratio = rnnkit / torch.nn (lower is better)")
        print(f"{'layer':<30}{'H':>5}{'L':>3}  {'path':<9}{'fwd ms':>9}{'ratio':>7}{'train ms':>10}{'ratio':>7}"
              f"{'GFLOP/s':>9}{'ceiling':>9}")
    for row in cell_benchmark(quick=args.quick, progress=progress):
        if args.json:
            print(json.dumps(row.as_dict()), flush=True)
        else:
            print(f"{row.name:<30}{row.hidden:>5}{row.layers:>3}  {row.path:<9}{row.forward_ms:>9.1f}"
                  f"{row.forward_ratio:>7.2f}{row.train_ms:>10.1f}{row.train_ratio:>7.2f}"
                  f"{row.train_gflops:>9.1f}{row.ceiling_gflops:>9.1f}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks, from equations to speed.")
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    bench = verbs.add_parser("bench", help="benchmarks run side by side with torch.nn")
    what = bench.add_subparsers(dest="what", metavar="WHAT", required=True)
    cells = what.add_parser("cells", help="time rnnkit's layers against torch.nn's (forward, forward+backward)",
                            description="Times each rnnkit layer configuration next to torch.nn in one process "
                                        "and prints the ratio, achieved GFLOP/s and a matmul ceiling.")
    cells.add_argument("--quick", action="store_true", help="hidden 256, one layer, 3 repeats (about a minute or two)")
    cells.add_argument("--json", action="store_true", help="one JSON object per row on stdout, nothing else")
    cells.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    cells.set_defaults(run=_bench)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
