"""A Recurrent stack as one operator, ``rnnkit::recurrent``, for export (torch.export / torch.onnx).

While a model is being exported, ``Recurrent.forward`` calls this operator instead of running a path:
the whole stack (every layer and direction, variable lengths, the initial and final state) becomes one
node, which the ONNX exporter writes as ONNX's own LSTM, GRU or RNN operators (export/onnx_ops.py),
with the lengths as their ``sequence_lens``: packed sequences, which do not export, are never needed.
Run eagerly (outside an export) the operator is the layer itself, on the parameters it is given.

What ONNX's operators compute, and so what exports: the standard LSTM (with or without peepholes),
GRU in both forms (``reset_after``: ONNX's ``linear_before_reset`` 1 or 0) and the Elman RNN (tanh,
relu), with or without biases, stacked and bidirectional. The regularizers are identities in eval
mode. Layer norm, zoneout (whose eval mode mixes old and new states) and LSTM projections have no
ONNX operator: ``export_problem`` names them.
"""

from typing import List, Optional

import torch
from torch import Tensor

PEEPHOLES = ("weight_ci", "weight_cf", "weight_co")


def exporting() -> bool:
    """Whether torch.export (and so torch.onnx) is tracing now (torch.compiler.is_exporting, where this
    torch has it)."""
    check = getattr(torch.compiler, "is_exporting", None)
    return bool(check and check())


def export_problem(config, prefix: Optional[str] = None) -> Optional[str]:
    """Why a layer of ``config`` cannot be exported, naming the option (``prefix`` + its name: a task's
    "model."); None when it can."""
    for name, why in (("layer_norm", "normalizes inside the recurrence"),
                      ("zoneout", "mixes the old and the new state in eval mode"),
                      ("zoneout_cell", "mixes the old and the new cell state in eval mode"),
                      ("proj_size", "projects h inside the recurrence")):
        if getattr(config, name, None):
            return (f"{prefix or config.PREFIX}{name}={getattr(config, name)!r} cannot be exported to ONNX: it {why}, which "
                    "ONNX's LSTM/GRU/RNN operators do not")
    return None


def operator_weights(layer) -> List[Tensor]:
    """The parameters the operator takes, per layer then direction: w_ih, w_hh, [b_ih, b_hh], [peepholes]."""
    cfg = layer.config
    weights = []
    for cell in layer.cells:
        weights += [cell.weight_ih, cell.weight_hh] + ([cell.bias_ih, cell.bias_hh] if cfg.bias else [])
        weights += [getattr(cell, name) for name in PEEPHOLES] if getattr(cfg, "peephole", False) else []
    return weights


@torch.library.custom_op("rnnkit::recurrent", mutates_args=())
def recurrent(x: Tensor, lengths: Tensor, h0: Tensor, c0: Tensor, weights: List[Tensor], cell: str,
              num_layers: int, bidirectional: bool, hidden_size: int, bias: bool, peephole: bool,
              reset_after: bool) -> List[Tensor]:
    """x (B, T, D), lengths (B,), h0 and c0 (L*N, B, H) (c0 unused but by an LSTM) -> [y (B, T, N*H),
    h (L*N, B, H), c (L*N, B, H)]: the layer these parameters make, in eval mode."""
    from .config import RecurrentConfig
    from .recurrent import Recurrent

    options = {"peephole": peephole} if cell == "lstm" else {"reset_after": reset_after} if cell == "gru" else {}
    config = RecurrentConfig(cell, input_size=x.shape[-1], hidden_size=hidden_size, num_layers=num_layers,
                             bidirectional=bidirectional, bias=bias, backend="reference", **options)
    layer = Recurrent(config).to(x).eval()
    with torch.no_grad():
        for target, source in zip(operator_weights(layer), weights):
            target.copy_(source)
        y, final = layer(x, (h0, c0) if cell == "lstm" else h0, lengths)
    h, c = (final.h, final.c) if cell == "lstm" else (final, c0)
    return [y.contiguous(), h.contiguous(), c.clone()]


@recurrent.register_fake
def _(x, lengths, h0, c0, weights, cell, num_layers, bidirectional, hidden_size, bias, peephole, reset_after):
    B, T, _ = x.shape
    return [x.new_empty(B, T, (2 if bidirectional else 1) * hidden_size), h0.new_empty(h0.shape),
            c0.new_empty(c0.shape)]


def exported_forward(layer, x: Tensor, state, lengths: Optional[Tensor]):
    """What ``Recurrent.forward`` does while exporting: the stack as one ``rnnkit::recurrent`` node."""
    from ..cells.state import LSTMState, as_parts

    cfg = layer.config
    problem = export_problem(cfg)
    if problem:
        raise ValueError(problem)
    B, T, _ = x.shape
    if lengths is None:
        lengths = torch.full((B,), T, dtype=torch.long, device=x.device)
    parts = as_parts(state) if state is not None else (x.new_zeros(cfg.num_layers * cfg.num_directions, B,
                                                                     cfg.hidden_size),) * len(layer.cells[0].state_sizes)
    h0 = parts[0]
    c0 = parts[1] if len(parts) == 2 else h0
    y, h, c = torch.ops.rnnkit.recurrent(x, lengths, h0, c0, operator_weights(layer), cfg.cell, cfg.num_layers,
                                         cfg.bidirectional, cfg.hidden_size, cfg.bias, getattr(cfg, "peephole", False),
                                         getattr(cfg, "reset_after", True))
    return y, (LSTMState(h, c) if cfg.cell == "lstm" else h)
