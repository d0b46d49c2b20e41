"""What every task model's config shares: its recurrent layer's options under ``model.*`` names.

A task config names the cell ``model.cell`` where RecurrentConfig says ``mode``; errors from the
layer's own validation are renamed so the user reads the key they wrote.
"""

from ..layers import RecurrentConfig
from ..layers.config import MODES


def check_sizes(config, names=("hidden_size", "num_layers")) -> None:
    """model.cell is a known cell; each named size is a positive integer."""
    if config.cell not in MODES:
        raise ValueError(f"model.cell={config.cell!r}: expected one of {MODES}")
    for name in names:
        if getattr(config, name) < 1:
            raise ValueError(f"model.{name}={getattr(config, name)!r}: expected an integer >= 1")


def recurrent_config(config, input_size: int, **options) -> RecurrentConfig:
    """The RecurrentConfig of a task model's config: its cell, sizes and regularizers, plus ``options``."""
    names = ("dropout", "input_dropout", "variational", "recurrent_dropout", "weight_dropout", "peephole",
             "layer_norm", "init", "backend")
    try:
        return RecurrentConfig(mode=config.cell, input_size=input_size, hidden_size=config.hidden_size,
                               num_layers=config.num_layers, **{n: getattr(config, n) for n in names}, **options)
    except ValueError as error:
        raise ValueError(str(error).replace("RecurrentConfig.", "model.").replace("mode=", "cell=")) from None
