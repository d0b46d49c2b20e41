"""Layers: run any cell over a sequence (stacking, directions, lengths, regularizers, fast paths)."""

from .config import RecurrentConfig, RecurrentOptions
from .kinds import CELLS, KINDS
from .paths import BACKENDS, PATHS
from .recurrent import Recurrent, reverse_padded

__all__ = ["Recurrent", "RecurrentConfig", "RecurrentOptions", "CELLS", "KINDS", "BACKENDS", "PATHS",
           "reverse_padded", "LSTM", "GRU", "RNN"]


def LSTM(input_size: int, hidden_size: int, num_layers: int = 1, **options) -> Recurrent:
    """A Recurrent LSTM layer; ``options`` are RecurrentConfig fields (proj_size, peephole, ...)."""
    return Recurrent(RecurrentConfig("lstm", input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                                     **options))


def GRU(input_size: int, hidden_size: int, num_layers: int = 1, **options) -> Recurrent:
    """A Recurrent GRU layer; ``reset_after=False`` gives Cho et al.'s original form."""
    return Recurrent(RecurrentConfig("gru", input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                                     **options))


def RNN(input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
        **options) -> Recurrent:
    """A Recurrent Elman RNN layer with ``nonlinearity`` "tanh" or "relu"."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity={nonlinearity!r}: expected 'tanh' or 'relu'")
    return Recurrent(RecurrentConfig(f"rnn_{nonlinearity}", input_size=input_size, hidden_size=hidden_size,
                                     num_layers=num_layers, **options))
