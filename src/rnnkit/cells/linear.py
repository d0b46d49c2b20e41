"""``linear`` on oneDNN: the cells' input projection and the scan's per-step products (layers/scan.py),
run by the library that torch.nn.LSTM's CPU kernel uses.

On the project's 2-core AMD EPYC, oneDNN's float32 product is 0.73-0.88x the time of F.linear's (MKL
sgemm) at the shapes an RNN layer multiplies: (64 x 256) @ (256 x 1024) per step, 0.73x; the
(6400 x 256) @ (256 x 1024) input projection, 0.88x (docs/benchmarks.md). The op, torch.ops.mkldnn.
_linear_pointwise, is private and has no autograd formula, so:
  * it runs only on CPU float32 tensors outside autocast, where it is available; the first call that
    fails turns it off for the process (a warning says so) and F.linear takes over;
  * with gradients it runs inside an autograd.Function whose backward is the usual
        dx = dy W (oneDNN),   dW = dy^T x,   db = sum of dy over the rows.
RNNKIT_ONEDNN=0 turns it off (F.linear everywhere).
"""

import os
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

ENABLED = (os.environ.get("RNNKIT_ONEDNN", "1") != "0" and torch.backends.mkldnn.is_available()
           and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def usable(like: Tensor) -> bool:
    """On a CPU in float32 outside autocast, and not while torch.compile traces the caller (inductor
    cannot lower this private op: a model with a scan layer inside torch.compile uses F.linear)."""
    return (ENABLED and like.device.type == "cpu" and like.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu") and not torch.compiler.is_compiling())


def blocked(W: Tensor, rows: int):
    """W (G, P) reordered once into oneDNN's blocked layout for products x W^T with x of ``rows`` rows,
    or None where oneDNN is not ``usable`` (layers/native.py hands it to its C++ loop)."""
    global ENABLED
    if not usable(W):
        return None
    try:
        return torch.ops.mkldnn._reorder_linear_weight(W.detach(), rows)
    except Exception as error:  # a build without the op's kernel
        ENABLED = False
        warnings.warn(f"rnnkit: oneDNN matmul unavailable, using F.linear ({type(error).__name__}: {error})")
        return None


def packed(W: Tensor, rows: int):
    """x -> x W^T for many x of ``rows`` rows with one W, as the scan multiplies every step: W is
    reordered once (``blocked``) instead of on every call (per-step products on 2 cores,
    (64 x 256) @ (256 x 1024): 0.87x the time of ``product``'s). F.linear where not ``usable``."""
    W_blocked = blocked(W, rows)
    if W_blocked is None:
        return lambda x: F.linear(x, W)
    return lambda x: torch.ops.mkldnn._linear_pointwise(x, W_blocked, None, "none", [], "")


def product(x: Tensor, W: Tensor, b=None) -> Tensor:
    """x (..., P) W (G, P) -> x W^T + b (..., G), on oneDNN while it works; no autograd (callers that
    have checked ``usable`` and need no gradient, like the scan's own forward and backward)."""
    global ENABLED
    if ENABLED:
        try:
            return torch.ops.mkldnn._linear_pointwise(x, W, b, "none", [], "")
        except Exception as error:  # a build without the op's kernel
            ENABLED = False
            warnings.warn(f"rnnkit: oneDNN matmul unavailable, using F.linear ({type(error).__name__}: {error})")
    return F.linear(x, W, b)


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, W, b):
        ctx.save_for_backward(x, W)
        ctx.has_bias = b is not None
        return product(x, W, b)

    @staticmethod
    def backward(ctx, dy):
        x, W = ctx.saved_tensors
        dy2 = dy.reshape(-1, dy.shape[-1])                                       # (N, G)
        dx = product(dy, W.t().contiguous()) if ctx.needs_input_grad[0] else None
        dW = dy2.t() @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        db = dy2.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return dx, dW, db


def linear(x: Tensor, W: Tensor, b=None) -> Tensor:
    """F.linear's arguments and result; oneDNN where ``usable``."""
    if not usable(x):
        return F.linear(x, W, b)
    if torch.is_grad_enabled() and (x.requires_grad or W.requires_grad or (b is not None and b.requires_grad)):
        return _Linear.apply(x, W, b)
    return product(x, W, b)
