"""The cell benchmark: rnnkit's layers timed side by side with torch.nn in one process.

Each row times forward (eval, no grad) and forward+backward (train mode) of one configuration at
batch 64, 100 steps, input size = hidden size, interleaving rnnkit and the torch.nn reference run by
run and taking medians, so the ratio holds on a noisy shared machine. Variants are compared with the
standard torch.nn layer of the same cell and size: the price of the variant, not of a like-for-like
kernel. GFLOP/s counts the matrix products only (2*B*T*G*H*(D+P) per layer and direction forward,
three times that forward+backward) and is set against a measured matrix-product ceiling.
"""

import statistics
import time
from dataclasses import asdict, dataclass

import torch

from .layers import Recurrent, RecurrentConfig
from .layers.kinds import torch_twin

BATCH, STEPS = 64, 100
# name -> (cell, RecurrentConfig options): the variants the fused kernels do not compute, plus
# DropConnect, which they do.
VARIANTS = {
    "lstm peephole": ("lstm", {"peephole": True}),
    "lstm layer_norm": ("lstm", {"layer_norm": True}),
    "lstm zoneout": ("lstm", {"zoneout": 0.1, "zoneout_cell": 0.1}),
    "lstm recurrent_dropout": ("lstm", {"recurrent_dropout": 0.25}),
    "lstm weight_dropout": ("lstm", {"weight_dropout": 0.5}),
    "gru cho (reset_after=False)": ("gru", {"reset_after": False}),
    "gru zoneout": ("gru", {"zoneout": 0.1}),
}


@dataclass
class Row:
    name: str
    hidden: int
    layers: int
    path: str
    forward_ms: float
    forward_ratio: float          # rnnkit time / torch.nn time (lower is better)
    train_ms: float               # forward + backward
    train_ratio: float
    train_gflops: float
    ceiling_gflops: float         # measured matrix product of the input-projection shape

    def as_dict(self) -> dict:
        return asdict(self)


def matmul_ceiling(hidden: int, gates: int = 4, repeats: int = 5, device: str = "cpu") -> float:
    """GFLOP/s of (B*T, H) @ (H, G*H), the largest product an RNN layer does."""
    a, b = torch.randn(BATCH * STEPS, hidden, device=device), torch.randn(hidden, gates * hidden, device=device)
    best = _time(lambda: a @ b, repeats, warmup=2)
    return 2 * a.shape[0] * hidden * gates * hidden / best / 1e9


def _sync(fn):
    """fn, finished: on a GPU, time up to the end of the kernels it queued, not of their launch."""
    fn()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _time(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        _sync(fn)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _sync(fn)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _side_by_side(ours, reference, repeats: int) -> tuple:
    """Median seconds of (ours, reference), interleaved run by run."""
    _sync(ours), _sync(reference)  # warm up (and compile) both
    ours_t, ref_t = [], []
    for _ in range(repeats):
        ours_t.append(_time(ours, 1, 0))
        ref_t.append(_time(reference, 1, 0))
    return statistics.median(ours_t), statistics.median(ref_t)


def bench_layer(name: str, cell: str, hidden: int, layers: int, options: dict, repeats: int,
                ceiling: float, device: str = "cpu") -> Row:
    torch.manual_seed(0)
    reference = torch_twin(cell, hidden, hidden, layers).to(device)
    ours = Recurrent(RecurrentConfig(cell, input_size=hidden, hidden_size=hidden, num_layers=layers, **options)).to(device)
    x = torch.randn(BATCH, STEPS, hidden, device=device, requires_grad=True)

    def forward(layer):
        layer.eval()
        with torch.no_grad():
            layer(x)

    def train(layer):
        layer.train()
        y, _ = layer(x)
        y.sum().backward()

    fwd, fwd_ref = _side_by_side(lambda: forward(ours), lambda: forward(reference), repeats)
    tr, tr_ref = _side_by_side(lambda: train(ours), lambda: train(reference), repeats)
    gates = ours.cells[0].weight_ih.shape[0] // hidden  # G/H: 4 LSTM, 3 GRU, 1 RNN
    flops = 3 * 2 * BATCH * STEPS * gates * hidden * (hidden + hidden) * layers
    return Row(name, hidden, layers, ours.path, fwd * 1e3, fwd / fwd_ref, tr * 1e3, tr / tr_ref,
               flops / tr / 1e9, ceiling)


def cell_benchmark(quick: bool = False, progress=None, device: str = "cpu"):
    """Yield a Row per configuration. quick: hidden 256, one layer, fewer repeats."""
    hiddens, depths, repeats = ((256,), (1,), 3) if quick else ((256, 512), (1, 2), 7)
    if device != "cpu":
        repeats *= 3  # GPU runs are short: more of them for a steady median
    for hidden in hiddens:
        ceiling = matmul_ceiling(hidden, device=device)
        for layers in depths:
            for cell in ("lstm", "gru", "rnn_tanh"):
                if progress:
                    progress(f"{cell} H={hidden} L={layers}")
                yield bench_layer(cell, cell, hidden, layers, {}, repeats, ceiling, device)
        for name, (cell, options) in VARIANTS.items():
            if progress:
                progress(f"{name} H={hidden}")
            yield bench_layer(name, cell, hidden, 1, options, repeats, ceiling, device)
