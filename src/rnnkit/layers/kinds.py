"""The cell kinds a Recurrent layer can run, one row each (flax's recurrent cells as one table of classes).

A row holds everything the layers need to know of a kind: how to make its cell, which options only it
reads, and which fast paths compute it. Nothing else in layers/ switches on the kind, so adding a cell
is its file in cells/ and one row here (docs/cells.md, "Adding a cell").

An option is "in effect" when it differs from its default in RecurrentOptions; the reasons below are
what ``Recurrent.explain()`` says when an option keeps a kind off a path.
"""

from typing import Callable, Dict, NamedTuple, Optional, Tuple

from torch import nn

from ..cells import GRUCell, LSTMCell, RNNCell
from . import native


class NativeScan(NamedTuple):
    """A kind's C++ scan (layers/native.py): the input part it wants, the loop, and the options it lacks."""
    project_input: Callable      # (cell, x (T, B, D)) -> (gx, extra params)
    scan: Callable               # (gx, W, state, params, rec_mask, keep) -> (hs, final parts)
    lacks: Dict[str, str]        # option -> why the C++ scan cannot run it


class CellKind(NamedTuple):
    make: Callable[..., nn.Module]     # (config, input_size) -> the cell of one direction of one layer
    options: Tuple[str, ...]           # the options only this kind reads; others must keep their defaults
    torch_mode: Optional[str]          # torch.nn.RNNBase.mode of torch's fused kernel (torch._VF.<mode lower>)
    cpu_kernel: str                    # what that kernel is on a CPU, for explain()
    unfused: Dict[str, str]            # option -> why torch's kernel does not compute it
    native: Optional[NativeScan]       # the C++ scan, if this kind has one


def _lstm(c, input_size):
    return LSTMCell(input_size, c.hidden_size, c.bias, c.proj_size, c.peephole, c.layer_norm, c.forget_bias, c.init)


def _gru(c, input_size):
    return GRUCell(input_size, c.hidden_size, c.bias, c.reset_after, c.init)


def _rnn(nonlinearity):
    return lambda c, input_size: RNNCell(input_size, c.hidden_size, c.bias, nonlinearity, c.init)


KINDS: Dict[str, CellKind] = {
    "lstm": CellKind(
        _lstm, ("proj_size", "peephole", "layer_norm", "forget_bias", "zoneout_cell"), "LSTM", "oneDNN",
        {"peephole": "peephole connections are not in torch's fused LSTM kernel",
         "layer_norm": "layer normalization is not in torch's fused LSTM kernel"},
        NativeScan(native.project_input, native.lstm_scan, {"proj_size": "the C++ scan has no projection"})),
    "gru": CellKind(
        _gru, ("reset_after",), "GRU", "ATen's C++ loop",
        {"reset_after": "the original GRU form (reset_after=False) is not torch's GRU kernel"}, None),
    "rnn_tanh": CellKind(_rnn("tanh"), (), "RNN_TANH", "ATen's C++ loop", {}, None),
    "rnn_relu": CellKind(_rnn("relu"), (), "RNN_RELU", "ATen's C++ loop", {}, None),
}
CELLS = tuple(KINDS)
# every option some kind reads alone: the others must leave it at its default
CELL_OPTIONS = tuple(dict.fromkeys(name for kind in KINDS.values() for name in kind.options))


def cells_reading(option: str) -> Tuple[str, ...]:
    """The kinds whose cells read ``option`` (all of them for an option no kind claims)."""
    return tuple(name for name, kind in KINDS.items() if option in kind.options) or CELLS


def torch_twin(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, **options) -> nn.RNNBase:
    """The torch.nn layer that runs the same kernel as ``cell`` (nn.LSTM, nn.GRU, nn.RNN), batch first."""
    mode = KINDS[cell].torch_mode
    if mode is None:
        raise ValueError(f"cell={cell!r} has no torch.nn twin")
    if mode.startswith("RNN_"):
        options["nonlinearity"] = mode[len("RNN_"):].lower()
    module = {"LSTM": nn.LSTM, "GRU": nn.GRU}.get(mode, nn.RNN)
    return module(input_size, hidden_size, num_layers, batch_first=True, **options)


def kind_of_torch_mode(mode: str) -> str:
    """torch.nn.LSTM's "LSTM" (RNNBase.mode) -> "lstm"."""
    for name, kind in KINDS.items():
        if kind.torch_mode == mode:
            return name
    raise ValueError(f"no rnnkit cell runs torch's {mode!r} kernel")
