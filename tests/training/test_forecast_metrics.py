"""Forecast metrics against values worked out by hand, the O(S^2) definition of the empirical CRPS and
the closed-form CRPS of a Gaussian."""

import math

import numpy as np
import pytest

from rnnkit.training.forecast_metrics import (coverage, crps_from_samples, gaussian_crps, interval_width,
                                              point_metrics, quantile_loss)


def test_point_metrics_worked_by_hand():
    actual = np.array([2.0, 4.0]).reshape(1, 2, 1)                  # (W, K, D) = (1, 2, 1)
    predicted = np.array([3.0, 2.0]).reshape(1, 2, 1)               # errors 1, 2
    train = np.array([[1.0], [3.0], [2.0], [6.0]])                  # |diffs| 2, 1, 4: scale 7/3
    m = point_metrics(actual, predicted, train)
    assert m["mae"] == pytest.approx(1.5) and m["mse"] == pytest.approx(2.5)
    assert m["rmse"] == pytest.approx(math.sqrt(2.5))
    assert m["mape"] == pytest.approx(100 * (1 / 2 + 2 / 4) / 2)
    assert m["smape"] == pytest.approx(100 * (2 / 5 + 4 / 6) / 2)
    assert m["mase"] == pytest.approx(1.5 / (7 / 3))
    # season 2: |2 - 1|, |6 - 3| -> scale 2
    assert point_metrics(actual, predicted, train, season=2)["mase"] == pytest.approx(0.75)


def test_zeros_in_mape_and_smape():
    actual = np.array([0.0, 2.0]).reshape(1, 2, 1)
    predicted = np.array([0.0, 1.0]).reshape(1, 2, 1)
    train = np.array([[0.0], [1.0]])
    m = point_metrics(actual, predicted, train)
    assert m["mape"] == pytest.approx(50.0)                         # the y = 0 term is left out
    assert m["smape"] == pytest.approx(100 * (0 + 2 / 3) / 2)       # 0/0 counts as 0 (M4)
    assert math.isnan(point_metrics(np.zeros((1, 2, 1)), predicted, train)["mape"])


def test_mase_fallbacks_and_zero_scale_columns():
    actual = np.array([[[1.0, 5.0]], [[3.0, 5.0]]])                 # (W, K, D) = (2, 1, 2)
    predicted = np.array([[[2.0, 4.0]], [[2.0, 8.0]]])              # MAE per column: 1, 2
    train = np.array([[1.0, 7.0], [2.0, 7.0], [1.0, 7.0], [2.0, 7.0]])
    # column 0: the seasonal (m=2) scale is 0, so m falls back to 1 (scale 1); column 1 is constant: nan, left out
    assert point_metrics(actual, predicted, train, season=2)["mase"] == pytest.approx(1.0)
    # a train span shorter than m + 1 uses m = 1
    short = np.array([[1.0, 0.0], [3.0, 4.0]])                      # scales 2 and 4
    assert point_metrics(actual, predicted, short, season=5)["mase"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert math.isnan(point_metrics(actual, predicted, np.ones((3, 2)))["mase"])


def test_pinball_worked_by_hand():
    actual = np.array([10.0, -4.0]).reshape(1, 2, 1)
    quantiles = np.array([[8.0, 12.0], [-5.0, -1.0]]).reshape(1, 2, 1, 2)
    m = quantile_loss(actual, quantiles, [0.1, 0.9])
    # tau 0.1: rho(2) = 0.2, rho(1) = 0.1;  tau 0.9: rho(-2) = 0.2, rho(-3) = 0.3
    assert m["quantile_loss_0.1"] == pytest.approx(0.15) and m["quantile_loss_0.9"] == pytest.approx(0.25)
    assert m["quantile_loss"] == pytest.approx(0.2)
    assert m["weighted_quantile_loss"] == pytest.approx((2 * 0.3 / 14 + 2 * 0.5 / 14) / 2)


def test_median_pinball_is_half_the_mae():
    rng = np.random.default_rng(0)
    actual, median = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    m = quantile_loss(actual, median[..., None], [0.5])
    assert m["quantile_loss_0.5"] == pytest.approx(0.5 * np.abs(actual - median).mean())


def test_crps_equals_the_pairwise_definition():
    rng = np.random.default_rng(1)
    actual, samples = rng.normal(size=(2, 3, 2)), rng.normal(size=(7, 2, 3, 2))
    expected = (np.abs(samples - actual).mean(0)
                - 0.5 * np.abs(samples[:, None] - samples[None, :]).mean((0, 1))).mean()
    assert crps_from_samples(actual, samples) == pytest.approx(expected, rel=1e-12)
    assert crps_from_samples(actual, samples[:1]) == pytest.approx(np.abs(samples[0] - actual).mean())


def test_crps_of_many_gaussian_samples_approaches_the_closed_form():
    rng = np.random.default_rng(2)
    mean, std = rng.normal(size=(2, 3, 2)), rng.uniform(0.5, 2.0, size=(2, 3, 2))
    actual = mean + std * rng.normal(size=(2, 3, 2))
    samples = mean + std * rng.standard_normal((20000, 2, 3, 2))
    assert crps_from_samples(actual, samples) == pytest.approx(gaussian_crps(actual, mean, std), abs=1e-2)


def test_gaussian_crps_known_values():
    # CRPS(N(0, 1), 0) = 2 phi(0) - 1/sqrt(pi) = sqrt(2/pi) - 1/sqrt(pi)
    assert gaussian_crps([0.0], [0.0], [1.0]) == pytest.approx(math.sqrt(2 / math.pi) - 1 / math.sqrt(math.pi))
    # scales with sigma; a point mass gives the absolute error
    assert gaussian_crps([6.0], [0.0], [3.0]) == pytest.approx(3 * gaussian_crps([2.0], [0.0], [1.0]))
    assert gaussian_crps([1.0, 2.0], [0.0, 0.0], [0.0, 0.0]) == pytest.approx(1.5)


def test_coverage_and_width():
    actual = np.array([0.0, 1.0, 2.0, 3.0])
    lower, upper = np.array([0.0, 1.5, 1.0, -1.0]), np.array([1.0, 2.0, 2.0, 2.0])
    assert coverage(actual, lower, upper) == pytest.approx(0.5)   # bounds are inclusive
    assert interval_width(lower, upper) == pytest.approx((1 + 0.5 + 1 + 3) / 4)


def test_bad_shapes_name_the_arrays():
    good = np.zeros((2, 3, 1))
    with pytest.raises(ValueError, match=r"predicted \(2, 4, 1\)"):
        point_metrics(good, np.zeros((2, 4, 1)), np.zeros((5, 1)))
    with pytest.raises(ValueError, match="train: expected 1 columns"):
        point_metrics(good, good, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="actual: expected 3 dimensions"):
        point_metrics(np.zeros((2, 3)), good, np.zeros((5, 1)))
    with pytest.raises(ValueError, match="quantiles: expected shape"):
        quantile_loss(good, np.zeros((2, 3, 1, 2)), [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="levels="):
        quantile_loss(good, np.zeros((2, 3, 1, 1)), [1.0])
    with pytest.raises(ValueError, match="samples: expected shape"):
        crps_from_samples(good, np.zeros((5, 2, 3, 2)))
    with pytest.raises(ValueError, match="std: expected values >= 0"):
        gaussian_crps(good, good, good - 1)
    with pytest.raises(ValueError, match="upper"):
        coverage(good, good, np.zeros(3))
