"""`rnnkit bench cells`: rnnkit's layers timed next to torch.nn's."""

import json
import sys

from .. import __version__


def bench(args) -> int:
    import torch

    from ..bench import BATCH, STEPS, cell_benchmark

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"rnnkit bench: --device {args.device}: CUDA is not available here", file=sys.stderr)
        return 1
    if args.threads:
        torch.set_num_threads(args.threads)
    progress = None if args.json else (lambda text: print(f"  ... {text}", file=sys.stderr, flush=True))
    if not args.json:
        where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else \
            f"{torch.get_num_threads()} threads"
        print(f"rnnkit {__version__}, torch {torch.__version__}, {where}, "
              f"batch {BATCH}, {STEPS} steps, input = hidden; ratio = rnnkit / torch.nn (lower is better)")
        print(f"{'layer':<30}{'H':>5}{'L':>3}  {'path':<9}{'fwd ms':>9}{'ratio':>7}{'train ms':>10}{'ratio':>7}"
              f"{'GFLOP/s':>9}{'ceiling':>9}")
    for row in cell_benchmark(quick=args.quick, progress=progress, device=args.device):
        if args.json:
            print(json.dumps(row.as_dict()), flush=True)
        else:
            print(f"{row.name:<30}{row.hidden:>5}{row.layers:>3}  {row.path:<9}{row.forward_ms:>9.1f}"
                  f"{row.forward_ratio:>7.2f}{row.train_ms:>10.1f}{row.train_ratio:>7.2f}"
                  f"{row.train_gflops:>9.1f}{row.ceiling_gflops:>9.1f}", flush=True)
    return 0
