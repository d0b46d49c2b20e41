"""Learning-rate schedules against their definitions, and reduce-on-plateau against torch's own
ReduceLROnPlateau fed the same losses."""

import json
import math

import pytest
import torch

from rnnkit.training.schedule import Plateau, cosine_factor, warmup_factor


def test_warmup_is_linear_then_flat():
    w = 4
    factors = [warmup_factor(step, w) for step in range(7)]
    assert factors == pytest.approx([1 / 4, 2 / 4, 3 / 4, 1, 1, 1, 1])


def test_no_warmup_is_one():
    assert warmup_factor(0, 0) == 1.0


@pytest.mark.parametrize("min_ratio", [0.0, 0.1, 1.0])
def test_cosine_against_the_formula(min_ratio):
    for progress in (0.0, 0.25, 0.5, 0.9, 1.0):
        expected = min_ratio + (1 - min_ratio) * (1 + math.cos(math.pi * progress)) / 2
        assert cosine_factor(progress, min_ratio) == pytest.approx(expected)
    assert cosine_factor(0.0, min_ratio) == pytest.approx(1.0)
    assert cosine_factor(1.0, min_ratio) == pytest.approx(min_ratio)


def test_cosine_clamps_progress():
    assert cosine_factor(-0.5, 0.1) == cosine_factor(0.0, 0.1)
    assert cosine_factor(1.5, 0.1) == cosine_factor(1.0, 0.1)


def test_cosine_decreases():
    values = [cosine_factor(p / 20, 0.2) for p in range(21)]
    assert all(a > b for a, b in zip(values, values[1:]))


LOSSES = [5.0, 4.0, 4.0, 3.9999, 4.1, 3.0, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 2.0, 2.5, 2.5, 2.5, 2.5]


@pytest.mark.parametrize("factor, patience, min_scale", [(0.5, 0, 0.1), (0.25, 1, 0.0), (0.5, 2, 0.3)])
def test_plateau_equals_torch_reduce_lr_on_plateau(factor, patience, min_scale):
    lr = 2.0
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=factor, patience=patience,
                                                           threshold=1e-4, threshold_mode="rel",
                                                           min_lr=lr * min_scale)
    plateau = Plateau(factor, patience, min_scale)
    for i, loss in enumerate(LOSSES):
        before = optimizer.param_groups[0]["lr"]
        reference.step(loss)
        reduced = plateau.update(loss)
        assert lr * plateau.scale == pytest.approx(optimizer.param_groups[0]["lr"]), f"after loss {i}"
        assert reduced == (optimizer.param_groups[0]["lr"] < before), f"after loss {i}"


def test_plateau_state_round_trips_through_json():
    plateau = Plateau(0.5, 1, 0.1)
    fresh = Plateau(0.5, 1, 0.1)
    fresh.load(json.loads(json.dumps(fresh.state())))  # best = inf survives JSON as null
    assert fresh == Plateau(0.5, 1, 0.1)
    for loss in LOSSES[:6]:
        plateau.update(loss)
    restored = Plateau(0.5, 1, 0.1)
    restored.load(json.loads(json.dumps(plateau.state())))
    assert restored == plateau
    for loss in LOSSES[6:]:
        assert restored.update(loss) == plateau.update(loss)
        assert restored == plateau
