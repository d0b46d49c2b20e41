"""rnnkit: recurrent neural networks written from their equations, run on the fastest exact path."""

from .cells import GRUCell, LSTMCell, LSTMState, RNNCell
from .layers import GRU, LSTM, RNN, Recurrent, RecurrentConfig

__version__ = "0.1.0"

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "LSTMState", "Recurrent", "RecurrentConfig", "LSTM", "GRU", "RNN",
           "__version__"]
