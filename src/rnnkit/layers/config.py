"""RecurrentConfig: every option of a recurrent layer, validated where it is made."""

from dataclasses import dataclass, fields
from typing import Optional

from ..cells.init import INIT_SCHEMES

MODES = ("lstm", "gru", "rnn_tanh", "rnn_relu")
BACKENDS = ("auto", "fused", "native", "compiled", "eager", "reference")


@dataclass(frozen=True)
class RecurrentConfig:
    mode: str                       # one of MODES
    input_size: int                 # D
    hidden_size: int                # H
    num_layers: int = 1             # L
    bias: bool = True
    bidirectional: bool = False     # N = 2 directions if True
    # cell options
    proj_size: int = 0              # LSTM: h projected to P = proj_size (torch.nn.LSTM's proj_size)
    peephole: bool = False          # LSTM: Gers & Schmidhuber 2000
    layer_norm: bool = False        # LSTM: Ba et al. 2016
    forget_bias: Optional[float] = None  # LSTM: initial forget-gate bias (Jozefowicz et al. 2015)
    reset_after: bool = True        # GRU: True = torch/cuDNN form, False = Cho et al. 2014
    init: str = "torch"             # "torch" or "keras" (cells/init.py)
    # regularizers (all off in eval mode)
    dropout: float = 0.0            # on each layer's output except the last (torch.nn's dropout)
    input_dropout: float = 0.0      # on the layer's input
    output_dropout: float = 0.0     # on the last layer's output
    variational: bool = False       # the three above lock their mask over time (Gal & Ghahramani 2016)
    recurrent_dropout: float = 0.0  # on h entering W_hh, mask fixed over time (Gal & Ghahramani 2016)
    weight_dropout: float = 0.0     # DropConnect on W_hh (Wan et al. 2013; AWD-LSTM)
    zoneout: float = 0.0            # probability that a unit of h keeps its value (Krueger et al. 2016)
    zoneout_cell: float = 0.0       # the same for the LSTM cell state c
    backend: str = "auto"           # "auto" picks the fastest exact path; see Recurrent.explain()

    def __post_init__(self):
        def fail(name, allowed):
            raise ValueError(f"RecurrentConfig.{name}={getattr(self, name)!r}: expected {allowed}")

        if self.mode not in MODES:
            fail("mode", f"one of {MODES}")
        for name in ("input_size", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(name, "an integer >= 1")
        if self.init not in INIT_SCHEMES:
            fail("init", f"one of {INIT_SCHEMES}")
        if self.backend not in BACKENDS:
            fail("backend", f"one of {BACKENDS}")
        for name in ("dropout", "input_dropout", "output_dropout", "recurrent_dropout", "weight_dropout",
                     "zoneout", "zoneout_cell"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                fail(name, "a number in [0, 1)")
        lstm_only = {"proj_size": 0, "peephole": False, "layer_norm": False, "forget_bias": None,
                     "zoneout_cell": 0.0}
        for name, default in lstm_only.items():
            if self.mode != "lstm" and getattr(self, name) != default:
                fail(name, f"{default!r}: it applies to mode='lstm' only")
        if self.mode != "gru" and not self.reset_after:
            fail("reset_after", "True: it applies to mode='gru' only")
        if not isinstance(self.proj_size, int) or not 0 <= self.proj_size < self.hidden_size:
            fail("proj_size", f"an integer in [0, hidden_size={self.hidden_size})")

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features per direction of the output: P for a projected LSTM, else H."""
        return self.proj_size or self.hidden_size

    @classmethod
    def field_names(cls) -> tuple:
        return tuple(f.name for f in fields(cls))
