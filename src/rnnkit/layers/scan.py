"""Running a cell over time without a vendor kernel: the readable loop and the fast scan.

Both take the cell's pieces (cells/step.py): gx, the input pre-activations for all steps at once
(T, B, G); W, the weight multiplied with the previous h; the pure ``core`` and its params. Both also
take ``keep``, per state part a (T, B, size) tensor saying how much of the old state each step keeps:
    state_t = keep_t * state_{t-1} + (1 - keep_t) * core(...)     (exactly state_{t-1} where keep_t = 1)
which is how padding (keep = 1 past a row's length) and zoneout (keep ~ Bernoulli(z), Krueger et al.
2016) enter without the cells knowing; and ``rec_mask`` (B, P), the recurrent dropout mask on the h
fed to W (Gal & Ghahramani 2016), constant over time (a core that multiplies h itself, like Cho's
GRU, finds it in params["recurrent_mask"]).

reference_scan: a Python loop; autograd records every op. The path the others are tested against.
Scan (an autograd.Function): the same steps, with a backward written for recurrences, after haste:
  forward   per step: gh = (h * rec_mask) W^T (one matmul), state = step(gx_t, gh, state)
  backward  per step in reverse: the step's vector-Jacobian product (torch.func.vjp), then
            dh += dgh W; the weight gradient sum_t dgh_t^T h_{t-1} is one matrix product after the
            loop instead of T small ones. The step and its vjp run compiled (torch.compile), or eager.
Measured on 2 cores (B=64, T=100, H=256, LSTM forward+backward, docs/benchmarks.md): a plain autograd
loop is 2.5x torch's fused kernel, this scan eager 1.4x, compiled 1.25-1.3x; TorchScript 2.8x.
"""

import contextlib
import itertools
import os
import shutil
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

from ..cells import linear as onednn


def _step(core, gx, gh, state, params, keep):
    new = core(gx, gh, state, params)
    if keep is None:
        return tuple(new)
    # keep*old + (1-keep)*new, but exactly old where keep is 1: a padded step must not change the
    # state even by rounding, and nothing computed from padding (even NaN) may leak into it.
    return tuple(torch.where(k == 1, s, k * s + (1 - k) * n) for n, s, k in zip(new, state, keep))


def reference_scan(core, gx: Tensor, W: Tensor, state: tuple, params: dict, rec_mask=None, keep=None):
    """gx (T, B, G), W (G_r, P), state parts (B, size) -> (h for every step (T, B, P), final parts)."""
    hs = []
    for t in range(gx.shape[0]):
        h_in = state[0] if rec_mask is None else state[0] * rec_mask
        keep_t = None if keep is None else tuple(k[t] for k in keep)
        state = _step(core, gx[t], F.linear(h_in, W), state, params, keep_t)
        hs.append(state[0])
    return torch.stack(hs), state


# --- the fast scan -------------------------------------------------------------------------------

# tanh(x) as 2 / (1 + exp(-2x)) - 1 in the compiled step instead of Sleef's tanh: the peephole LSTM's
# step in 0.55-0.8x the time on 2 cores (torch.tanh of a (64, 256) tensor takes 5x torch.sigmoid's
# here), at most 1.5 ulp of 1 in absolute error (float32, |x| <= 20); inductor's option, off by default
# because the relative error grows as x -> 0, which an RNN's tanh (added to or multiplied with O(1)
# values) does not see. The C++ scan (lstm_scan.cpp) computes tanh the same way.
COMPILE_OPTIONS = {"cpp.use_decompose_tanh": True}


def compile_available() -> bool:
    """torch.compile's CPU backend needs a C++ compiler; RNNKIT_COMPILE=0 turns compiling off."""
    if os.environ.get("RNNKIT_COMPILE", "1") == "0":
        return False
    return shutil.which(os.environ.get("CXX", "g++")) is not None or shutil.which("c++") is not None


class _StepFunctions:
    """The step and its vjp for one core, eager and (lazily) compiled. One per distinct core."""

    def __init__(self, core):
        def step(gx, gh, state, params, keep):
            return _step(core, gx, gh, state, params, keep)

        def step_vjp(gx, gh, state, params, keep, cotangent):
            _, pullback = torch.func.vjp(lambda *a: step(*a, keep), gx, gh, state, params)
            return pullback(cotangent)  # (dgx, dgh, dstate, dparams)

        self.eager = (step, step_vjp)
        self._compiled = None
        self.compile_error = None

    def get(self, compiled: bool):
        if not compiled or self.compile_error is not None:
            return self.eager
        if self._compiled is None:
            # Each variant is a new recompile of the same two functions: allow more than the default 8.
            cfg = torch._dynamo.config
            cfg.recompile_limit = max(getattr(cfg, "recompile_limit", 8), 64)
            self._compiled = tuple(torch.compile(f, dynamic=None, options=COMPILE_OPTIONS) for f in self.eager)
        return self._compiled


_FUNCTIONS: dict = {}


def step_functions(core) -> _StepFunctions:
    key = (core.func, tuple(sorted(core.keywords.items())))  # cores are partials of pure functions
    if key not in _FUNCTIONS:
        _FUNCTIONS[key] = _StepFunctions(core)
    return _FUNCTIONS[key]


def _forward_loop(step, gx, W, state, params, rec_mask, keep, save: bool):
    """The scan's forward. Returns h for every step (T, B, P), the final state parts and, if
    ``save``, what the backward needs: ghs (T, B, G_r) and per part the state entering each step."""
    amp = torch.is_autocast_enabled(gx.device.type)
    no_amp = torch.autocast(gx.device.type, enabled=False) if amp else contextlib.nullcontext()
    keep_steps = zip(*(k.unbind(0) for k in keep)) if keep else itertools.repeat(None)
    hs, prev = [], []
    # h W^T: oneDNN with W reordered once on a CPU in float32 outside autocast (cells/linear.py), else
    # F.linear (which autocast runs in low precision)
    multiply = onednn.packed(W, gx.shape[1])
    ghs = gx.new_empty(gx.shape[0], gx.shape[1], W.shape[0]) if save else None  # (T, B, G_r), one buffer
    for t, (gx_t, keep_t) in enumerate(zip(gx.unbind(0), keep_steps)):
        if save:
            prev.append(state)
        h_in = state[0] if rec_mask is None else state[0] * rec_mask
        # (B, G_r), the only matmul in the loop; under autocast only it runs in low precision
        gh = multiply(h_in).to(gx.dtype)
        if save:
            ghs[t] = gh
        with no_amp:
            state = step(gx_t, gh, state, params, keep_t)
        hs.append(state[0])
    saved = (ghs, *(torch.stack(p) for p in zip(*prev))) if save else None
    return torch.stack(hs), state, saved


class Scan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, spec, gx, W, rec_mask, *flat):
        functions, names, n_parts, n_keep, compiled = spec
        state = flat[:n_parts]
        keep = flat[n_parts:n_parts + n_keep] or None
        params = dict(zip(names, flat[n_parts + n_keep:]))
        step, _ = functions.get(compiled)
        hs, state, (ghs, *prev) = _forward_loop(step, gx, W, state, params, rec_mask, keep, save=True)
        ctx.spec = spec
        ctx.save_for_backward(gx, W, rec_mask, ghs, *prev, *(keep or ()), *params.values())
        return (hs, *(s.clone() for s in state))

    @staticmethod
    def backward(ctx, dhs, *dfinal):
        functions, names, n_parts, n_keep, compiled = ctx.spec
        gx, W, rec_mask, ghs, *rest = ctx.saved_tensors
        prev, keep, param_values = rest[:n_parts], rest[n_parts:n_parts + n_keep] or None, rest[n_parts + n_keep:]
        params = dict(zip(names, param_values))
        _, step_vjp = functions.get(compiled)
        T = gx.shape[0]
        dstate = [torch.zeros_like(p[0]) if d is None else d for p, d in zip(prev, dfinal)]
        dgx, dghs = torch.empty_like(gx), torch.empty_like(ghs)
        dparams = {name: torch.zeros_like(p) for name, p in params.items()}
        multiply = onednn.packed(W.t().contiguous(), gx.shape[1])  # dgh W = dgh (W^T)^T
        for t in range(T - 1, -1, -1):
            if dhs is not None:
                dstate[0] = dstate[0] + dhs[t]
            keep_t = None if keep is None else tuple(k[t] for k in keep)
            state_t = tuple(p[t] for p in prev)
            dgx[t], dghs[t], dprev, dparams_t = step_vjp(gx[t], ghs[t], state_t, params, keep_t, tuple(dstate))
            for name, g in dparams_t.items():
                dparams[name] += g
            dh_in = multiply(dghs[t])  # (B, P)
            dstate = list(dprev)
            dstate[0] = dstate[0] + (dh_in if rec_mask is None else dh_in * rec_mask)
        h_in = prev[0] if rec_mask is None else prev[0] * rec_mask  # (T, B, P)
        dW = dghs.reshape(-1, dghs.shape[-1]).t() @ h_in.reshape(-1, h_in.shape[-1])  # (G_r, P)
        return (None, dgx, dW, None, *dstate, *([None] * n_keep), *dparams.values())


def scan(core, gx: Tensor, W: Tensor, state: tuple, params: dict, rec_mask=None, keep=None,
         compiled: bool = True):
    """The fast scan; same arguments and results as reference_scan."""
    functions = step_functions(core)
    if compiled and functions.compile_error is None:
        try:
            return _apply(functions, gx, W, state, params, rec_mask, keep, True)
        except Exception as error:
            # If the eager scan fails too, the error is the caller's and propagates from here.
            result = _apply(functions, gx, W, state, params, rec_mask, keep, False)
            functions.compile_error = f"{type(error).__name__}: {error}"  # a broken toolchain
            warnings.warn(f"rnnkit: torch.compile failed, using the eager scan ({functions.compile_error})")
            return result
    return _apply(functions, gx, W, state, params, rec_mask, keep, False)


def _apply(functions, gx, W, state, params, rec_mask, keep, compiled):
    tensors = (gx, W, *state, *params.values())
    if not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors)):  # inference: save nothing
        step, _ = functions.get(compiled)
        hs, final, _ = _forward_loop(step, gx, W, state, params, rec_mask, keep, save=False)
        return hs, tuple(final)
    keep = tuple(keep or ())
    spec = (functions, tuple(params), len(state), len(keep), compiled)
    hs, *final = Scan.apply(spec, gx, W, rec_mask, *state, *keep, *params.values())
    return hs, tuple(final)
