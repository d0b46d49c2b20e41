"""Cells: one time step of each recurrent network, written from its equations."""

from .gru import GRUCell
from .init import INIT_SCHEMES, init_recurrent
from .lstm import LSTMCell
from .rnn import RNNCell
from .state import LSTMState

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "LSTMState", "INIT_SCHEMES", "init_recurrent"]
