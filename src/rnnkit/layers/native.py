"""The LSTM family's scan in C++ (lstm_scan.cpp): the same steps as layers/scan.py's fast scan,
without the interpreter between them.

Where it runs (Recurrent.path == "native"): an LSTM without projection (peephole, layer norm,
zoneout, recurrent dropout, DropConnect, lengths: every combination), on a CPU, in float32 or
float64, outside autocast. Per step it makes the one product h W^T on oneDNN with W reordered once
(cells/linear.py) and one pass of the step's equations over the batch rows, vectorized (ATen's
Vectorized, as torch.compile's CPU kernels are) and split over torch's threads; the backward walks the steps in reverse with the
step's derivative written out (lstm_scan.cpp's header has the equations), and accumulates the other
parameters' gradients (sums over (t, b)) on the way; W's is one product after the loop. A layer-norm
cell's input pre-activations come in as x W_ih^T and are normalized in the loop (``project_input``).
Measured on 2 cores (B=64, T=100, docs/benchmarks.md), against torch.nn.LSTM: the variants train in
0.97-1.08x its time and run forward in 1.11-1.26x (the compiled scan: 1.24-1.41x and 1.30-1.72x).

Building: the first use compiles lstm_scan.cpp against the installed torch with the C++ compiler
torch.compile uses (g++, or $CXX), about 15 s, into a cache keyed by the source, torch's version and
the flags ($RNNKIT_CACHE, else ~/.cache/rnnkit). Without a compiler, or when the build fails (the
reason is kept for Recurrent.explain()), the layer runs the compiled scan instead; RNNKIT_NATIVE=0
turns this path off.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor
from torch.utils import cpp_extension

from ..cells import linear as onednn
from ..cells.lstm import LN_EPS

SOURCE = Path(__file__).with_name("lstm_scan.cpp")
# the optional parameters, in the C++ ops' order, by their names in LSTMCell.core_params()
# and each one's width in units of H: the backward's accumulated sums are these, end to end (lstm_scan.cpp's
# Offsets)
WIDTHS = {"bias_hh": 4, "weight_ci": 1, "weight_cf": 1, "weight_co": 1, "ln_hh_weight": 4, "ln_cell_weight": 1,
          "ln_cell_bias": 1, "ln_ih_weight": 4, "bias_ih": 4}
PARAMETERS = tuple(WIDTHS)
_state = {"loaded": False, "error": None}


def _compiler():
    for name in (os.environ.get("CXX"), "g++", "c++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _flags() -> list:
    """The vector width torch's own CPU kernels were dispatched with on this machine (ATen's Vectorized
    picks its implementation from these macros), and -fopenmp: ATen's parallel_for is inline OpenMP,
    which without the flag runs on one thread. The libgomp it needs is torch's own (torch/lib is on
    the library's rpath, and torch has loaded it already), so both share one thread pool."""
    capability = torch.backends.cpu.get_cpu_capability()
    if capability == "AVX512":
        isa = ["-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx512bw", "-mfma", "-DCPU_CAPABILITY_AVX512"]
    elif capability == "AVX2":
        isa = ["-mavx2", "-mfma", "-DCPU_CAPABILITY_AVX2"]
    else:
        isa = []
    abi = f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}"
    return ["-O3", "-shared", "-fPIC", "-fopenmp", "-std=c++20", "-w", abi, *isa,
            *(f"-I{path}" for path in cpp_extension.include_paths())]


def _library_path(compiler: str) -> Path:
    flags = _flags()
    key = hashlib.sha256("\n".join([SOURCE.read_text(), torch.__version__, compiler, *flags]).encode()).hexdigest()
    cache = Path(os.environ.get("RNNKIT_CACHE") or Path.home() / ".cache" / "rnnkit")
    library = cache / "native" / f"lstm_scan-{key[:16]}.so"
    if library.exists():
        return library
    library.parent.mkdir(parents=True, exist_ok=True)
    links = [f for path in cpp_extension.library_paths() for f in (f"-L{path}", f"-Wl,-rpath,{path}")]
    with tempfile.NamedTemporaryFile(dir=library.parent, suffix=".so", delete=False) as partial:
        pass
    try:  # build to a temporary name, then rename: a half-written library is never loaded
        result = subprocess.run([compiler, *flags, str(SOURCE), "-o", partial.name, *links, "-lc10", "-ltorch_cpu"],
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"{compiler} failed on {SOURCE.name}: {result.stderr.strip()[-2000:]}")
        os.replace(partial.name, library)
    finally:
        if os.path.exists(partial.name):
            os.unlink(partial.name)
    return library


def available() -> bool:
    """Whether the C++ scan is built and loaded (building it on the first call)."""
    if os.environ.get("RNNKIT_NATIVE", "1") == "0":
        return False
    if not _state["loaded"] and _state["error"] is None:
        compiler = _compiler()
        if compiler is None:
            _state["error"] = "no C++ compiler (g++, c++ or $CXX)"
        else:
            try:
                torch.ops.load_library(str(_library_path(compiler)))
                _state["loaded"] = True
            except Exception as error:
                _state["error"] = f"{type(error).__name__}: {error}"
                warnings.warn(f"rnnkit: the C++ LSTM scan is unavailable, using the compiled scan ({_state['error']})")
    return _state["loaded"]


def unavailable_reason() -> str:
    if os.environ.get("RNNKIT_NATIVE", "1") == "0":
        return "RNNKIT_NATIVE=0"
    return _state["error"] or ""


def _weight(W: Tensor, rows: int):
    """W as the C++ loop multiplies it: oneDNN's blocked copy in float32, else W itself."""
    packed = onednn.blocked(W, rows)
    return W.detach() if packed is None else packed


def _ops():
    if not available():
        raise RuntimeError(f"rnnkit: the C++ LSTM scan is unavailable ({unavailable_reason()})")
    return torch.ops.rnnkit


class _LSTMScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, gx, W, h0, c0, rec_mask, keep_h, keep_c, *params):
        hs, h, c, ghs, cs = _ops().lstm_scan_forward(gx, _weight(W, gx.shape[1]), h0, c0, *params, keep_h, keep_c,
                                                     rec_mask, LN_EPS, True)
        ctx.save_for_backward(gx, W, h0, c0, rec_mask, keep_h, keep_c, hs, ghs, cs, *params)
        return hs, h, c

    @staticmethod
    def backward(ctx, dhs, dh, dc):
        gx, W, h0, c0, rec_mask, keep_h, keep_c, hs, ghs, cs, *params = ctx.saved_tensors
        dh = torch.zeros_like(h0) if dh is None else dh
        dc = torch.zeros_like(c0) if dc is None else dc
        W_t = W.t().contiguous()
        da, dghs, dh0, dc0, sums = _ops().lstm_scan_backward(dhs, dh, dc, gx, ghs, _weight(W_t, gx.shape[1]), c0, cs,
                                                             *params, keep_h, keep_c, rec_mask, LN_EPS)
        # the weight: sum over steps of dgh_t^T (h_{t-1} * rec_mask), as two products (no (T, B, H) copy)
        G, H = dghs.shape[-1], h0.shape[-1]
        h_prev = hs[:-1] if rec_mask is None else hs[:-1] * rec_mask
        h_first = h0 if rec_mask is None else h0 * rec_mask
        dW = torch.addmm(dghs[0].t() @ h_first, dghs[1:].reshape(-1, G).t(), h_prev.reshape(-1, H))
        # the other parameters: the sums over (t, b) the C++ loop accumulated, one after another
        sums = sums.split([WIDTHS[name] * H for name in PARAMETERS])
        grads = [g if p is not None and need else None for g, p, need in zip(sums, params, ctx.needs_input_grad[7:])]
        return (da, dW, dh0, dc0, None, None, None, *grads)


def project_input(cell, x: Tensor) -> tuple:
    """x (T, B, D) -> (gx, the parameters the loop also needs). A layer-norm cell's input part is only
    x W_ih^T here: the loop normalizes each row itself and adds b_ih (LN(x W_ih^T) * ln_ih_weight + b_ih,
    as cell.project_input does), which saves a pass over (T, B, 4H) each way and its buffers."""
    if not cell.layer_norm:
        return cell.project_input(x), {}
    extra = {"ln_ih_weight": cell.ln_ih_weight, **({"bias_ih": cell.bias_ih} if cell.bias else {})}
    return onednn.linear(x, cell.weight_ih), extra


def lstm_scan(gx: Tensor, W: Tensor, state: tuple, params: dict, rec_mask=None, keep=None):
    """layers/scan.py's scan for an LSTM cell without projection, in C++; the same arguments and
    results: gx (T, B, 4H), W (4H, H), state (h, c) each (B, H) -> (hs (T, B, H), (h, c)), except that
    ``params`` may hold ln_ih_weight (and bias_ih): then gx is x W_ih^T, normalized in the loop
    (``project_input``)."""
    autocast, compiling = torch.is_autocast_enabled("cpu"), torch.compiler.is_compiling()
    if gx.device.type != "cpu" or gx.dtype not in (torch.float32, torch.float64) or autocast or compiling:
        raise ValueError(f"the C++ LSTM scan runs on a CPU in float32 or float64 outside autocast and torch.compile, "
                         f"got {gx.dtype} on {gx.device}{' under autocast' if autocast else ''}"
                         f"{' under torch.compile' if compiling else ''}")
    h0, c0 = (s.contiguous() for s in state)
    keep_h, keep_c = (None, None) if keep is None else (k.contiguous() for k in keep)
    values = [params.get(name) for name in PARAMETERS]
    if rec_mask is not None:
        rec_mask = rec_mask.contiguous()
    tensors = (gx, W, h0, c0, *(v for v in values if v is not None))
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        hs, h, c = _LSTMScan.apply(gx.contiguous(), W, h0, c0, rec_mask, keep_h, keep_c, *values)
    else:  # inference: nothing saved
        hs, h, c, _, _ = _ops().lstm_scan_forward(gx.contiguous(), _weight(W, gx.shape[1]), h0, c0, *values, keep_h,
                                                keep_c, rec_mask, LN_EPS, False)
    return hs, (h, c)
