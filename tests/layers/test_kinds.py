"""The contract every row of the cell table (layers/kinds.py) must keep, checked over the whole table so
that a new cell is tested by adding its row: its cell is a pure step; every path the table offers for it
equals the reference loop (forward and every gradient, float64) with lengths, two layers, both
directions; the options it claims are its own and others refuse them; its torch.nn twin (if it names
one) loads into it and computes the same. (Streaming over every kind: test_streaming.py.)"""

from dataclasses import fields

import pytest
import torch

from rnnkit import Recurrent, RecurrentConfig
from rnnkit.cells.state import from_parts
from rnnkit.layers import KINDS, paths
from rnnkit.layers.config import FIELDS, RecurrentOptions
from rnnkit.layers.kinds import CELL_OPTIONS, torch_twin
from tests.reference import assert_same_forward_and_grads, random_state, randomize_layer_norm

B, T, D, H = 3, 5, 3, 4
LENGTHS = [4, 1, 5]


def built(cell, backend, **options):
    return Recurrent(RecurrentConfig(cell, input_size=D, hidden_size=H, num_layers=2, bidirectional=True,
                                     backend=backend, **options))


def offered(cell) -> list:
    """The paths the table gives this kind on a CPU: the scan always, fused and native where it has them."""
    config = RecurrentConfig(cell, input_size=D, hidden_size=H)
    backends = ["eager"]
    if not paths.fused_blockers(config):
        backends.append("fused")
    if not paths.native_lacks(config):
        backends.append("native")
    return backends


@pytest.mark.parametrize("cell", KINDS)
def test_every_offered_path_equals_the_reference_loop(cell):
    for backend in offered(cell):
        if backend == "native":
            from rnnkit.layers import native
            if not native.available():
                continue
        fast, reference = built(cell, backend), built(cell, "reference")
        randomize_layer_norm(fast)
        reference.load_state_dict(fast.state_dict())
        fast, reference = fast.double(), reference.double()
        x = torch.randn(B, T, D, dtype=torch.float64)
        state = random_state(fast, B)

        def runner(layer):
            return lambda x, *parts: layer(x, from_parts(parts), LENGTHS)

        assert_same_forward_and_grads(runner(fast), runner(reference), [x, *state], dict(fast.named_parameters()),
                                      dict(reference.named_parameters()))


@pytest.mark.parametrize("cell", KINDS)
def test_a_cell_is_a_pure_step_and_says_its_state(cell):
    module = KINDS[cell].make(RecurrentConfig(cell, input_size=D, hidden_size=H), D)
    assert set(module.state_sizes) <= {H}, "without a projection every state part is H wide"
    x, parts = torch.randn(B, D), tuple(torch.randn(B, size) for size in module.state_sizes)
    gh = torch.nn.functional.linear(parts[0], module.recurrent_weight())
    new = module.core(module.project_input(x), gh, parts, module.core_params())
    assert [tuple(p.shape) for p in new] == [(B, size) for size in module.state_sizes]


@pytest.mark.parametrize("cell", KINDS)
def test_the_options_a_kind_claims_are_options_and_no_other_kind_takes_them(cell):
    assert set(KINDS[cell].options) <= set(FIELDS), "a kind's options are RecurrentOptions fields"
    for name in CELL_OPTIONS:
        if name in KINDS[cell].options:
            continue
        changed = {"forget_bias": 1.0, "proj_size": 2}.get(name, not FIELDS[name].default if isinstance(
            FIELDS[name].default, bool) else 0.1)
        with pytest.raises(ValueError, match=f"model.{name}=.*: it applies to cell="):
            RecurrentOptions(cell=cell, **{name: changed})


@pytest.mark.parametrize("cell", [name for name, kind in KINDS.items() if kind.torch_mode])
def test_the_torch_twin_loads_and_computes_the_same(cell):
    twin = torch_twin(cell, D, H, 2, bidirectional=True).double()
    ours = Recurrent.from_torch(twin).eval()
    assert ours.config.cell == cell
    x = torch.randn(B, T, D, dtype=torch.float64)
    torch.testing.assert_close(ours(x)[0], twin(x)[0])


def test_every_option_is_in_the_layer_config():
    names = {f.name for f in fields(RecurrentConfig)}
    assert set(RecurrentOptions.option_names()) <= names and {"input_size", "output_dropout"} <= names
