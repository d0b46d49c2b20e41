"""float64 gradcheck of whole layers: the eager scan's hand-written backward (layers/scan.py) for every
cell variant, with lengths, both directions and zoneout in eval mode (deterministic); and the fused path."""

import pytest
import torch
from torch.func import functional_call

from rnnkit import Recurrent, RecurrentConfig
from rnnkit.cells.state import from_parts
from tests.reference import random_state, randomize_layer_norm

B, T, D, H = 2, 3, 2, 3
VARIANTS = {
    "lstm": ("lstm", {}),
    "lstm peephole": ("lstm", {"peephole": True}),
    "lstm layer_norm": ("lstm", {"layer_norm": True}),
    "lstm peephole+layer_norm": ("lstm", {"peephole": True, "layer_norm": True}),
    "lstm proj": ("lstm", {"proj_size": 2}),
    "lstm all+zoneout": ("lstm", {"peephole": True, "layer_norm": True, "proj_size": 2, "zoneout": 0.3,
                                  "zoneout_cell": 0.2}),
    "gru": ("gru", {}),
    "gru cho": ("gru", {"reset_after": False}),
    "gru cho+zoneout": ("gru", {"reset_after": False, "zoneout": 0.4}),
    "rnn_tanh": ("rnn_tanh", {}),
    "rnn_relu": ("rnn_relu", {}),
}
LAYOUTS = {"uni": (1, False, None), "bi lengths": (1, True, [3, 1]), "L2 lengths": (2, False, [2, 3])}


def gradcheck_layer(layer, lengths):
    layer.eval()
    names = [name for name, _ in layer.named_parameters()]
    x = torch.randn(B, T, D, dtype=torch.float64)
    state = random_state(layer, B)
    n_state = len(state)

    def run(x, *rest):
        state, params = rest[:n_state], rest[n_state:]
        y, final = functional_call(layer, dict(zip(names, params)), (x, from_parts(state), lengths))
        return (y, *(final if isinstance(final, tuple) else (final,)))

    inputs = (x, *state, *(p.detach().clone() for p in layer.parameters()))
    assert torch.autograd.gradcheck(run, tuple(t.requires_grad_() for t in inputs))


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_eager_scan_gradcheck(variant, layout):
    mode, options = variant
    num_layers, bidirectional, lengths = layout
    layer = Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional, backend="eager", **options))
    randomize_layer_norm(layer)
    assert layer.path == "eager"
    gradcheck_layer(layer.double(), lengths)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_fused_gradcheck(mode):
    layer = Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, bidirectional=True, proj_size=2 if mode == "lstm" else 0))
    assert layer.path == "fused"
    gradcheck_layer(layer.double(), [3, 1])
