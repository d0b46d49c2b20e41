"""Regularizers: all off in eval mode (zoneout becomes its expectation); in train mode locked dropout
and recurrent dropout keep one mask over time, DropConnect one mask per forward call, zoneout keeps
each unit with probability z."""

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from rnnkit import Recurrent, RecurrentConfig
from rnnkit.cells.state import as_parts, from_parts
from rnnkit.layers import dropout as drop
from tests.reference import random_state

B, T, D, H = 4, 7, 3, 6
f64 = torch.float64
ALL_DROPOUTS = {"dropout": 0.5, "input_dropout": 0.5, "output_dropout": 0.5, "weight_dropout": 0.5}


# --- eval mode ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("variational", [False, True])
@pytest.mark.parametrize("backend", ["auto", "eager"])
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_eval_mode_turns_every_dropout_off(mode, backend, variational):
    options = {**ALL_DROPOUTS, "variational": variational}
    if backend == "eager":
        options["recurrent_dropout"] = 0.5
    cfg = RecurrentConfig(mode, input_size=D, hidden_size=H, num_layers=2, bidirectional=True, backend=backend, **options)
    regularized = Recurrent(cfg).double().eval()
    plain = Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, num_layers=2, bidirectional=True, backend=backend)).double().eval()
    plain.load_state_dict(regularized.state_dict())
    x = torch.randn(B, T, D, dtype=f64)
    for lengths in (None, [7, 2, 5, 1]):
        y, final = regularized(x, lengths=lengths)
        y_plain, final_plain = plain(x, lengths=lengths)
        torch.testing.assert_close(y, y_plain, rtol=0, atol=0)
        torch.testing.assert_close(as_parts(final), as_parts(final_plain), rtol=0, atol=0)
    regularized.train()
    assert not torch.allclose(regularized(x)[0], y_plain), "train mode must regularize"


def zoneout_by_hand(cell, x, state, z_h, z_c):
    """Eval-mode zoneout: each step's state is z * old + (1 - z) * new (Krueger et al. 2016)."""
    hs = []
    for t in range(x.shape[1]):
        old = as_parts(state)
        new = as_parts(cell(x[:, t], state))
        rates = (z_h, z_c)[:len(old)]
        state = from_parts(tuple(z * o + (1 - z) * n for z, o, n in zip(rates, old, new)))
        hs.append(as_parts(state)[0])
    return torch.stack(hs, 1), state


@pytest.mark.parametrize("backend", ["eager", "reference"])
@pytest.mark.parametrize("config", [("lstm", 0.3, 0.6, {}), ("lstm", 0.0, 0.5, {"proj_size": 2}),
                                    ("lstm", 0.4, 0.0, {"peephole": True}), ("gru", 0.35, 0.0, {}),
                                    ("gru", 0.35, 0.0, {"reset_after": False}), ("rnn_relu", 0.5, 0.0, {})],
                         ids=["lstm", "lstm proj cell only", "lstm peephole h only", "gru", "gru cho", "rnn_relu"])
def test_eval_zoneout_is_the_expectation_by_hand(config, backend):
    mode, z_h, z_c, options = config
    layer = Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, zoneout=z_h, zoneout_cell=z_c, backend=backend, **options))
    layer = layer.double().eval()
    x = torch.randn(B, T, D, dtype=f64)
    initial = random_state(layer, B)
    y, final = layer(x, from_parts(initial))
    y_hand, final_hand = zoneout_by_hand(layer.cells[0], x, from_parts(tuple(p[0] for p in initial)), z_h, z_c)
    torch.testing.assert_close(y, y_hand)
    torch.testing.assert_close(tuple(p[0] for p in as_parts(final)), as_parts(final_hand))


# --- locked (variational) dropout --------------------------------------------------------------------

def test_locked_dropout_mask_is_constant_over_time():
    x = torch.ones(B, T, D)
    y = drop.sequence_dropout(x, 0.5, training=True, locked=True)
    assert set(y.unique().tolist()) <= {0.0, 2.0}, "kept units are scaled by 1/(1-p)"
    assert torch.equal(y, y[:, :1].expand_as(y)), "one mask for all steps"
    assert (y == 0).any() and (y != 0).any()


def test_per_element_dropout_mask_changes_over_time():
    y = drop.sequence_dropout(torch.ones(B, T, D), 0.5, training=True, locked=False)
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert not torch.equal(y, y[:, :1].expand_as(y))


@pytest.mark.parametrize("locked", [False, True])
def test_sequence_dropout_is_the_identity_in_eval_mode_or_at_zero(locked):
    x = torch.randn(B, T, D)
    assert drop.sequence_dropout(x, 0.5, training=False, locked=locked) is x
    assert drop.sequence_dropout(x, 0.0, training=True, locked=locked) is x


@pytest.mark.parametrize("variational", [True, False])
@pytest.mark.parametrize("backend", ["auto", "eager"])
def test_layer_input_dropout_locks_its_mask_when_variational(variational, backend):
    """A dropped input unit gets no gradient; locked means the same units at every step."""
    layer = Recurrent(RecurrentConfig("lstm", input_size=D, hidden_size=H, input_dropout=0.5, variational=variational, backend=backend)).train()
    x = torch.randn(B, T, D, requires_grad=True)
    layer(x)[0].sum().backward()
    dropped = x.grad == 0  # (B, T, D)
    assert dropped.any() and not dropped.all()
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped)) == variational


# --- recurrent dropout -------------------------------------------------------------------------------

def test_recurrent_mask():
    mask = drop.recurrent_mask(B, H, 0.25, torch.empty(0, dtype=f64))
    assert mask.shape == (B, H) and mask.dtype == f64
    assert set(mask.unique().tolist()) <= {0.0, 1 / 0.75}
    assert drop.recurrent_mask(B, H, 0.0, torch.empty(0)) is None


def recurrent_weight_gradient(mode, options, train=True):
    """weight_hh.grad of a one-row batch (B=1), so that a dropped unit of h is dropped for the whole row."""
    layer = Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, backend="eager", **options)).double().train(train)
    layer(torch.randn(1, T, D, dtype=f64))[0].sum().backward()
    return layer.cells[0].weight_hh.grad  # (G*H, H)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_recurrent_dropout_mask_is_constant_over_time(mode):
    """A unit of h dropped at one step but not another would still get a weight gradient: an all-zero
    column of dW_hh (for every gate) means that unit was dropped at every step."""
    grad = recurrent_weight_gradient(mode, {"recurrent_dropout": 0.5})
    dropped = (grad[:H] == 0).all(0)  # (H,) columns of the first gate block
    assert dropped.any() and not dropped.all()
    assert torch.all(grad[:, dropped] == 0), "every gate's recurrent product must see the same mask"
    assert torch.all(recurrent_weight_gradient(mode, {}).ne(0).all(0)), "without dropout no column is zero"


def test_recurrent_dropout_reaches_the_cho_gru_candidate():
    grad = recurrent_weight_gradient("gru", {"recurrent_dropout": 0.5, "reset_after": False})
    dropped = (grad[:H] == 0).all(0)
    assert dropped.any()
    assert torch.all(grad[2 * H:, dropped] == 0)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_recurrent_dropout_acts_in_train_mode_only(mode):
    cfg = RecurrentConfig(mode, input_size=D, hidden_size=H, recurrent_dropout=0.5)
    with_dropout = Recurrent(replace(cfg, backend="eager")).train()
    without = Recurrent(replace(cfg, recurrent_dropout=0.0)).train()
    without.load_state_dict(with_dropout.state_dict())
    x = torch.randn(B, T, D)
    assert with_dropout.path == "eager" and without.path == "fused"
    assert not torch.allclose(with_dropout(x)[0], without(x)[0], atol=1e-4)
    with_dropout.eval(), without.eval()
    torch.testing.assert_close(with_dropout(x)[0], without(x)[0], rtol=1e-5, atol=1e-6)


# --- DropConnect -------------------------------------------------------------------------------------

def test_drop_connect_masks_a_fraction_p_and_passes_gradients_to_the_raw_weight():
    p = 0.3
    weight = nn.Parameter(torch.randn(100, 100))
    dropped = drop.drop_connect(weight, p, training=True)
    kept = dropped != 0
    n = weight.numel()
    assert abs((~kept).float().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / n)
    torch.testing.assert_close(dropped[kept], weight[kept] / (1 - p))
    dropped.sum().backward()
    torch.testing.assert_close(weight.grad, kept.float() / (1 - p))
    assert drop.drop_connect(weight, p, training=False) is weight
    assert drop.drop_connect(weight, 0.0, training=True) is weight


def weight_gradient_zero_fraction(mode, backend, p, rows=slice(None), **options):
    """Fraction of exactly-zero entries in weight_hh.grad (rows ``rows``) after one train-mode run."""
    layer = Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, weight_dropout=p, backend=backend, **options)).train()
    layer(torch.randn(B, T, D))[0].sum().backward()
    weight_hh = layer.cells[0].weight_hh
    assert isinstance(weight_hh, nn.Parameter), "DropConnect must not replace the parameter"
    return (weight_hh.grad[rows] == 0).float().mean().item()


@pytest.mark.parametrize("backend", ["auto", "eager"])
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_drop_connect_is_one_mask_per_forward_call(mode, backend):
    """A dropped weight gets exactly zero gradient, which needs it dropped at all T steps and for all B
    rows: a fraction ~p of zero gradients means one mask per call (a mask per step would give ~p**T)."""
    p = 0.5
    fraction = weight_gradient_zero_fraction(mode, backend, p)
    assert 0.25 < fraction < 0.75  # >= 144 entries for the LSTM, 36 for the RNN: 3 to 6 standard deviations
    assert weight_gradient_zero_fraction(mode, backend, 0.0) == 0.0


def test_drop_connect_draws_a_new_mask_each_call():
    layer = Recurrent(RecurrentConfig("lstm", input_size=D, hidden_size=H, weight_dropout=0.5)).train()
    assert layer.path == "fused"
    x = torch.randn(B, T, D)
    assert not torch.allclose(layer(x)[0], layer(x)[0])


def test_drop_connect_reaches_the_cho_gru_candidate_rows():
    """In Cho's GRU the n rows of weight_hh are applied inside the core (to r * h), not with the
    hoisted r and z rows; DropConnect must mask them as well."""
    assert 0.25 < weight_gradient_zero_fraction("gru", "eager", 0.5, rows=slice(0, 2 * H), reset_after=False) < 0.75
    assert 0.25 < weight_gradient_zero_fraction("gru", "eager", 0.5, rows=slice(2 * H, 3 * H), reset_after=False) < 0.75


# --- zoneout ------------------------------------------------------------------------------------------

def test_zoneout_keep_masks():
    keep = drop.zoneout_keep(T, 500, H, 0.3, True, torch.empty(0, dtype=f64))
    assert keep.shape == (T, 500, H) and keep.dtype == f64
    assert set(keep.unique().tolist()) <= {0.0, 1.0}
    n = keep.numel()
    assert abs(keep.mean().item() - 0.3) < 5 * math.sqrt(0.3 * 0.7 / n)
    assert not torch.equal(keep[0], keep[1]), "a new draw at every step"
    assert torch.equal(drop.zoneout_keep(T, 2, H, 0.3, False, torch.empty(0)), torch.full((T, 2, 1), 0.3))  # broadcasts


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_train_zoneout_keeps_each_unit_with_probability_z(mode):
    """One step from a known state over a large batch of identical rows: each unit is exactly its old
    value or its new one, and the batch mean is z * old + (1 - z) * new within 5 binomial standard
    deviations. Eval mode gives that expectation exactly."""
    n_rows, z_h, z_c = 4000, 0.3, 0.6
    options = {"zoneout": z_h, **({"zoneout_cell": z_c} if mode == "lstm" else {})}
    layer = Recurrent(RecurrentConfig(mode, input_size=D, hidden_size=H, backend="eager", **options)).double()
    x = torch.randn(1, 1, D, dtype=f64).expand(n_rows, 1, D)
    old = tuple(p.expand(1, n_rows, H) for p in random_state(layer, 1))
    new = as_parts(layer.cells[0](x[:1, 0], from_parts(tuple(p[0, :1] for p in old))))  # (1, H) each
    layer.train()
    _, final = layer(x, from_parts(old))
    layer.eval()
    _, expected = layer(x, from_parts(old))
    for part, old_p, new_p, z, eval_p in zip(as_parts(final), old, new, (z_h, z_c), as_parts(expected)):
        part, old_p = part[0], old_p[0, :1]  # (n_rows, H), (1, H)
        # keep * old + (1 - keep) * new is computed as new + keep * (old - new): exact to rounding.
        is_old, is_new = (torch.isclose(part, p, rtol=0, atol=1e-12) for p in (old_p, new_p))
        assert torch.all(is_old | is_new), "a zoneout unit is either kept or updated"
        kept = is_old.double().mean().item()
        assert abs(kept - z) < 5 * math.sqrt(z * (1 - z) / part.numel())
        mean, expectation = part.mean(0), z * old_p[0] + (1 - z) * new_p[0]
        tolerance = 5 * math.sqrt(z * (1 - z) / n_rows) * (old_p[0] - new_p[0]).abs() + 1e-12
        assert torch.all((mean - expectation).abs() <= tolerance)
        torch.testing.assert_close(eval_p[0], expectation.expand_as(eval_p[0]))
