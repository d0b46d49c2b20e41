"""The recurrent layer's options, declared once.

RecurrentOptions holds every option of a recurrent layer but its input size. Every task's model config
takes it as its base (``model.cell``, ``model.zoneout_cell``, ... under the same flat keys in every
task), and RecurrentConfig, the layer's own config, is the same options plus the input size and the
output dropout that a task model applies itself. Validation lives here once; its errors name the key as
the user wrote it (``model.peephole`` in a task, ``RecurrentConfig.peephole`` on the layer).

The options table in docs/cells.md is generated from these fields (``python -m rnnkit.docs``).
"""

import math
from dataclasses import KW_ONLY, dataclass, field, fields
from typing import ClassVar, Optional

from ..cells.init import INIT_SCHEMES
from .kinds import CELL_OPTIONS, CELLS, KINDS, cells_reading
from .paths import BACKENDS, backend_problem


def option(default, help: str):
    """A config field with its one-line description (docs/cells.md's table is made from it)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class RecurrentOptions:
    cell: str = option("lstm", "the cell: " + ", ".join(CELLS) + " (layers/kinds.py)")
    _: KW_ONLY
    hidden_size: int = option(128, "H, the state's size per direction")
    num_layers: int = option(1, "L, stacked layers")
    bias: bool = option(True, "the b_ih and b_hh biases")
    bidirectional: bool = option(False, "N = 2: a second layer reads the sequence backwards; outputs concatenated")
    proj_size: int = option(0, "h projected to P = proj_size < H after each step (torch.nn.LSTM's proj_size)")
    peephole: bool = option(False, "peephole connections from c to the gates (Gers & Schmidhuber 2000)")
    layer_norm: bool = option(False, "layer-normalized gates and cell (Ba et al. 2016)")
    forget_bias: Optional[float] = option(None, "initial forget-gate bias, e.g. 1.0 (Jozefowicz et al. 2015); "
                                                "null = the init scheme's")
    reset_after: bool = option(True, "true: torch's and cuDNN's GRU; false: Cho et al. 2014's original form")
    init: str = option("torch", "initialization: torch (uniform) or keras (Glorot, orthogonal, forget bias 1)")
    dropout: float = option(0.0, "dropout on each layer's output but the last (torch.nn's dropout)")
    input_dropout: float = option(0.0, "dropout on the layer's input")
    variational: bool = option(False, "dropout and input_dropout masks locked over time (Gal & Ghahramani 2016)")
    recurrent_dropout: float = option(0.0, "dropout on the h entering W_hh, one mask per sequence")
    weight_dropout: float = option(0.0, "DropConnect on W_hh, one mask per batch (Wan et al. 2013; AWD-LSTM)")
    zoneout: float = option(0.0, "probability that a unit of h keeps its previous value (Krueger et al. 2016)")
    zoneout_cell: float = option(0.0, "the same for the LSTM cell state c")
    backend: str = option("auto", "the path: " + ", ".join(BACKENDS) + "; auto picks the fastest exact one "
                                  "(docs/cells.md)")

    PREFIX: ClassVar[str] = "model."  # how errors name a key
    # fields checked here for every config built on these options (a task's config adds its own)
    WHOLE: ClassVar[tuple] = ("hidden_size", "num_layers")  # integers >= 1
    RATES: ClassVar[tuple] = ("dropout", "input_dropout", "recurrent_dropout", "weight_dropout", "zoneout",
                              "zoneout_cell")            # probabilities in [0, 1)

    def invalid(self, name: str, expected: str) -> ValueError:
        """The error for a field's value: names the key, the value and what is allowed."""
        return ValueError(f"{self.PREFIX}{name}={getattr(self, name)!r}: expected {expected}")

    def __post_init__(self):
        if self.cell not in KINDS:
            raise self.invalid("cell", f"one of {CELLS}")
        for name in self.WHOLE:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise self.invalid(name, "an integer >= 1")
        for name in ("bias", "bidirectional", "peephole", "layer_norm", "reset_after", "variational"):
            if not isinstance(getattr(self, name), bool):
                raise self.invalid(name, "true or false")
        if self.init not in INIT_SCHEMES:
            raise self.invalid("init", f"one of {INIT_SCHEMES}")
        if self.backend not in BACKENDS:
            raise self.invalid("backend", f"one of {BACKENDS}")
        for name in self.RATES:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
                raise self.invalid(name, "a number in [0, 1)")
        if self.forget_bias is not None and (not isinstance(self.forget_bias, (int, float))
                                             or not math.isfinite(self.forget_bias)):
            raise self.invalid("forget_bias", "a finite number, or null")
        for name in CELL_OPTIONS:  # the options another kind reads alone
            default = FIELDS[name].default
            if name not in KINDS[self.cell].options and getattr(self, name) != default:
                raise self.invalid(name, f"{default!r}: it applies to cell="
                                         f"{' or '.join(map(repr, cells_reading(name)))} only")
        if (not isinstance(self.proj_size, int) or isinstance(self.proj_size, bool)
                or not 0 <= self.proj_size < self.hidden_size):
            raise self.invalid("proj_size", f"an integer in [0, hidden_size={self.hidden_size})")
        if self.forget_bias is not None and not self.bias:
            raise self.invalid("forget_bias", "null: it sets a bias, and bias is false")
        problem = backend_problem(self)
        if problem:
            raise ValueError(f"{self.PREFIX}backend={self.backend!r} is impossible: {problem}")

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features per direction of the layer's output: P for a projected LSTM, else H."""
        return self.proj_size or self.hidden_size

    def recurrent_config(self, input_size: int, **changes) -> "RecurrentConfig":
        """The layer's config for ``input_size`` features, these options, and ``changes`` (a task's own
        choices, such as a decoder that is never bidirectional, or its output_dropout)."""
        values = {f.name: getattr(self, f.name) for f in fields(RecurrentOptions) if f.init}
        return RecurrentConfig(**{**values, **changes}, input_size=input_size)

    @classmethod
    def option_names(cls) -> tuple:
        return tuple(f.name for f in fields(RecurrentOptions) if f.init)


FIELDS = {f.name: f for f in fields(RecurrentOptions)}


@dataclass(frozen=True)
class RecurrentConfig(RecurrentOptions):
    """A Recurrent layer's config: RecurrentConfig("lstm", input_size=D, hidden_size=H, num_layers=L, ...)."""
    hidden_size: int = field(kw_only=True)  # required here: H
    input_size: int = field(kw_only=True)   # D
    output_dropout: float = option(0.0, "dropout on the last layer's output")

    PREFIX: ClassVar[str] = "RecurrentConfig."
    WHOLE = RecurrentOptions.WHOLE + ("input_size",)
    RATES = RecurrentOptions.RATES + ("output_dropout",)
