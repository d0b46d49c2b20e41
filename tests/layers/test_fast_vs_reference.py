"""Every fast path equals the readable reference path (reference_scan: the cell's equations step by
step, recorded by autograd) on random inputs: forward and every gradient, in float64.

Stochastic regularizers in train mode: both paths are seeded identically before the run. This holds
because every path draws its masks in Recurrent.forward/_scan_direction, in the same order (input
dropout, then per layer: dropout, and per direction DropConnect, recurrent mask, zoneout masks), and
the scan itself draws nothing. Each such test also checks that the masks really change the result,
so the equality is not vacuous."""

from dataclasses import replace

import pytest
import torch

from rnnkit import Recurrent, RecurrentConfig
from rnnkit.cells.state import from_parts
from tests.reference import assert_same_forward_and_grads, random_state, randomize_layer_norm

B, T, D, H = 3, 5, 3, 4
LENGTHS = [4, 1, 5]
VARIANTS = {
    "lstm": ("lstm", {}),
    "lstm no bias": ("lstm", {"bias": False}),
    "lstm peephole": ("lstm", {"peephole": True}),
    "lstm layer_norm": ("lstm", {"layer_norm": True}),
    "lstm proj": ("lstm", {"proj_size": 2}),
    "lstm zoneout": ("lstm", {"zoneout": 0.3, "zoneout_cell": 0.2}),
    "lstm all": ("lstm", {"peephole": True, "layer_norm": True, "proj_size": 2, "zoneout": 0.3, "zoneout_cell": 0.2}),
    "gru cho": ("gru", {"reset_after": False}),
    "gru cho no bias": ("gru", {"reset_after": False, "bias": False}),
    "gru zoneout": ("gru", {"zoneout": 0.4}),
    "rnn_relu": ("rnn_relu", {}),
    "rnn_tanh zoneout": ("rnn_tanh", {"zoneout": 0.25}),
}
LAYOUTS = {"L1 uni": (1, False), "L2 bi": (2, True)}


def twins(mode, options, backends, num_layers=1, bidirectional=False):
    """One float64 layer per backend, all with the same weights."""
    cfg = RecurrentConfig(mode, input_size=D, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional, **options)
    layers = [Recurrent(replace(cfg, backend=backend)) for backend in backends]
    randomize_layer_norm(layers[0])
    for layer in layers[1:]:
        layer.load_state_dict(layers[0].state_dict())
    for layer, backend in zip(layers, backends):
        assert layer.path == backend
    return [layer.double() for layer in layers]


def runner(layer, lengths, seed=None):
    def run(x, *state):
        if seed is not None:
            torch.manual_seed(seed)  # the same masks on both paths
        return layer(x, from_parts(state), lengths)
    return run


def compare(fast, reference, lengths, train=False, seed=None):
    fast.train(train), reference.train(train)
    x = torch.randn(B, T, D, dtype=torch.float64)
    state = random_state(fast, B)
    assert_same_forward_and_grads(runner(fast, lengths, seed), runner(reference, lengths, seed), [x, *state],
                                  dict(fast.named_parameters()), dict(reference.named_parameters()))
    return x, state


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_eager_equals_reference(variant, layout, lengths):
    mode, options = variant
    eager, reference = twins(mode, options, ("eager", "reference"), *layout)
    compare(eager, reference, lengths)


TRAIN_VARIANTS = {
    "lstm recurrent_dropout": ("lstm", {"recurrent_dropout": 0.3}),
    "lstm zoneout": ("lstm", {"zoneout": 0.3, "zoneout_cell": 0.4}),
    "lstm weight_dropout": ("lstm", {"weight_dropout": 0.4}),
    "gru zoneout+recurrent_dropout": ("gru", {"zoneout": 0.3, "recurrent_dropout": 0.3}),
    "lstm everything": ("lstm", {"peephole": True, "input_dropout": 0.2, "dropout": 0.3, "output_dropout": 0.2,
                                 "variational": True, "recurrent_dropout": 0.3, "weight_dropout": 0.3,
                                 "zoneout": 0.2, "zoneout_cell": 0.1}),
}


def assert_seed_matters(layer, x, state, lengths):
    """The regularizers are live: two seeds give two different outputs."""
    outputs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        outputs.append(layer(x, from_parts(state), lengths)[0])
    assert not torch.allclose(*outputs)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("variant", TRAIN_VARIANTS.values(), ids=TRAIN_VARIANTS.keys())
def test_eager_equals_reference_in_train_mode_with_the_same_seed(variant, layout, lengths):
    mode, options = variant
    eager, reference = twins(mode, options, ("eager", "reference"), *layout)
    x, state = compare(eager, reference, lengths, train=True, seed=7)
    assert_seed_matters(eager, x, state, lengths)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_fused_equals_reference_in_train_mode_with_the_same_seed(mode, lengths):
    """The fused path with DropConnect and locked dropout around and between layers."""
    options = {"weight_dropout": 0.4, "dropout": 0.3, "input_dropout": 0.2, "output_dropout": 0.2, "variational": True}
    fused, reference = twins(mode, options, ("fused", "reference"), 2, True)
    x, state = compare(fused, reference, lengths, train=True, seed=11)
    assert_seed_matters(fused, x, state, lengths)


@pytest.mark.parametrize("option", ["dropout", "output_dropout"])
def test_fused_equals_reference_with_per_element_dropout_and_the_same_seed(option):
    fused, reference = twins("gru", {option: 0.3}, ("fused", "reference"), 2, False)
    compare(fused, reference, None, train=True, seed=11)


def test_compiled_equals_reference_lstm_variant():
    """torch.compile is slow to build: two variants only, each with everything it can carry."""
    options = VARIANTS["lstm all"][1]
    compiled, reference = twins("lstm", options, ("compiled", "reference"), 2, True)
    compare(compiled, reference, LENGTHS)


def test_compiled_equals_reference_cho_gru_in_train_mode():
    options = {"reset_after": False, "zoneout": 0.3, "recurrent_dropout": 0.3}
    compiled, reference = twins("gru", options, ("compiled", "reference"), 1, False)
    compare(compiled, reference, LENGTHS, train=True, seed=5)
