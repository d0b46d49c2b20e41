"""Which path runs a Recurrent layer: one pure function of the layer's config and its surroundings
(device, dtype, autocast, tracing, what is built), used by ``Recurrent.path`` and ``Recurrent.explain()``
alike, so the two cannot disagree. What each path needs of a cell kind is read from its row in
layers/kinds.py.
"""

import functools
from typing import NamedTuple, Optional, Tuple

import torch

from . import native
from .kinds import KINDS

PATHS = {  # name -> what runs (docs/cells.md's table is made from this)
    "fused": "torch's own kernel (torch._VF.lstm/gru/rnn_*, what torch.nn calls) with this layer's parameters: "
             "oneDNN (LSTM) or ATen's loop (GRU, RNN) on a CPU, cuDNN on CUDA; lengths through a PackedSequence",
    "native": "the scan as one C++ loop (layers/lstm_scan.cpp, built on first use by layers/native.py), for the "
              "kinds that have one, on a CPU in float32/float64 outside autocast",
    "compiled": "the scan (layers/scan.py): the input projection as one product, one recurrent product per step, "
                "the step and its vector-Jacobian product compiled by torch.compile",
    "eager": "the same scan uncompiled: when no C++ compiler is found, RNNKIT_COMPILE=0, or compiling failed",
    "reference": "the readable loop over the cell's equations, recorded by autograd (for checking and teaching)",
}
BACKENDS = ("auto", *PATHS)


class Choice(NamedTuple):
    path: str
    reasons: Tuple[str, ...]  # why, a line each (explain())


def fused_blockers(config) -> tuple:
    """Why torch's fused kernel does not compute this configuration (empty when it does)."""
    kind = KINDS[config.cell]
    if kind.torch_mode is None:
        return (f"torch has no fused kernel for cell={config.cell!r}",)
    blockers = [why for name, why in kind.unfused.items() if _in_effect(config, name)]
    if config.zoneout or config.zoneout_cell:
        blockers.append("zoneout changes the state update inside the time loop")
    if config.recurrent_dropout:
        blockers.append("recurrent dropout masks h inside the time loop")
    return tuple(blockers)


def native_lacks(config) -> tuple:
    """Why the C++ scan cannot run this configuration, wherever it runs (empty when it can)."""
    kind = KINDS[config.cell]
    if kind.native is None:
        return (f"there is no C++ scan for cell={config.cell!r}",)
    return tuple(why for name, why in kind.native.lacks.items() if _in_effect(config, name))


def backend_problem(config) -> Optional[str]:
    """Why ``config.backend`` cannot run this configuration at all, or None."""
    lacks = {"fused": fused_blockers, "native": native_lacks}.get(config.backend, lambda _: ())(config)
    return "; ".join(lacks) or None


_DEFAULTS: dict = {}  # RecurrentOptions' defaults, filled on first use (config.py imports this module)


def _in_effect(config, name: str) -> bool:
    """Whether option ``name`` differs from its default in RecurrentOptions."""
    if not _DEFAULTS:
        from .config import FIELDS
        _DEFAULTS.update({key: field.default for key, field in FIELDS.items()})
    return getattr(config, name) != _DEFAULTS[name]


class Surroundings:
    """What the choice reads besides the config, for a Recurrent ``layer``: where its parameters are,
    the autocast and tracing around it, what is built. Read only when asked: a fused layer asks nothing,
    and building the C++ scan takes 15 s."""

    def __init__(self, layer):
        self._layer = layer

    @functools.cached_property
    def _like(self) -> torch.Tensor:
        return self._layer.cells[0].weight_ih

    @property
    def device(self) -> str:
        return self._like.device.type

    @property
    def dtype(self) -> torch.dtype:
        return self._like.dtype

    @property
    def autocast(self) -> bool:
        return torch.is_autocast_enabled(self.device)

    @property
    def tracing(self) -> bool:  # inside an outer torch.compile
        return torch.compiler.is_compiling()

    @property
    def native_ready(self) -> bool:
        return native.available()

    @property
    def native_problem(self) -> str:
        return native.unavailable_reason()

    @property
    def compile_problem(self) -> Optional[str]:
        """Why the scan's step cannot be compiled here, or None."""
        from .scan import compile_available, step_functions
        if not compile_available():
            return "no C++ compiler, or RNNKIT_COMPILE=0"
        errors = {step_functions(cell.core).compile_error for cell in self._layer.cells} - {None}
        return "; ".join(sorted(errors)) or None


EXPLAINED = {  # the last line of explain(), per path
    "fused": "torch._VF.{cell} with this layer's parameters ({kernel} on CPU, cuDNN on CUDA): the configuration "
             "is exactly what torch's fused kernel computes",
    "native": "scan in C++ (layers/lstm_scan.cpp): input projection hoisted as one matmul; per step one oneDNN "
              "matmul and one vectorized pass over the batch, split over the threads; W_hh's gradient as one matmul "
              "after the loop",
    "compiled": "scan: input projection hoisted as one matmul, one recurrent matmul per step, weight gradient as one "
                "matmul after the loop",
}
EXPLAINED["eager"] = EXPLAINED["compiled"]


def choose(config, where) -> Choice:
    """The path for ``config`` in the surroundings ``where`` (a Surroundings, or anything with its
    attributes), and why."""
    path, reasons = _choose(config, where)
    if path in EXPLAINED:
        reasons.append(EXPLAINED[path].format(cell=config.cell, kernel=KINDS[config.cell].cpu_kernel))
    return Choice(path, tuple(reasons))


def _choose(config, where):
    blockers = fused_blockers(config)
    unfused = ["not fused because " + "; ".join(blockers)] if blockers else []
    if config.backend not in ("auto", "compiled"):
        return config.backend, unfused + [f"backend={config.backend!r} was asked for"]
    if config.backend == "compiled":  # asked for, and compiled where it can be
        reasons = unfused + ["backend='compiled' was asked for"]
    elif not blockers:
        return "fused", []  # the common case asks nothing of the surroundings
    else:
        reasons = list(unfused)
        if not native_lacks(config) and not _native_here(where):
            if where.native_ready:
                return "native", reasons
            reasons.append(f"the C++ scan is unavailable ({where.native_problem})")
    if where.tracing:
        return "compiled", reasons + ["traced by an outer torch.compile: the scan is inlined there"]
    problem = where.compile_problem
    if problem:
        return "eager", reasons + [f"torch.compile is unavailable ({problem}): the scan runs eagerly, about 1.1x "
                                   "slower"]
    return "compiled", reasons


def _native_here(where) -> list:
    """Why the C++ scan cannot run in these surroundings (empty when it can)."""
    lacks = []
    if where.device != "cpu":
        lacks.append(f"it runs on a CPU, not {where.device}")
    if where.dtype not in (torch.float32, torch.float64):
        lacks.append(f"it runs in float32 or float64, not {where.dtype}")
    if where.autocast:
        lacks.append("it runs outside autocast")
    if where.tracing:
        lacks.append("it has no fake-tensor kernel for torch.compile's tracing")
    return lacks
