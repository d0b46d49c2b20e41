"""Forecasting baselines: the simple methods' formulas worked by hand, no look-ahead and ordered quantiles
for every method, and errors that name the field (ARIMA and ETS against statsmodels: test_statistical.py)."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from rnnkit.models.baselines import BASELINES, BaselineConfig, make_baseline

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
LEVELS = [0.1, 0.5, 0.9]


def series(n=160, season=4, seed=0):
    """A positive seasonal random walk with drift."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    walk = np.cumsum(rng.normal(0, 0.3, n))
    return 20 + 0.05 * t + 2 * np.sin(2 * np.pi * t / season) + walk + rng.normal(0, 0.3, n)


def sd_of(quantiles):
    """The Gaussian sd behind the 0.1 and 0.9 quantiles."""
    return (quantiles[..., 2] - quantiles[..., 0]) / (2 * norm.ppf(0.9))


# --- the simple methods, by hand -------------------------------------------------------------------------

VALUES = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0, 8.0, 7.0])
TRAIN = VALUES[:4]                                   # [1, 3, 2, 5]


def test_last_by_hand():
    point, quantiles = make_baseline("last", BaselineConfig()).fit(TRAIN).forecast(VALUES, [5], 3, LEVELS)
    np.testing.assert_allclose(point, [[4.0, 4.0, 4.0]])
    sigma = math.sqrt((4 + 1 + 9) / 3)               # training diffs 2, -1, 3
    np.testing.assert_allclose(sd_of(quantiles), [sigma * np.sqrt([1, 2, 3])])


def test_seasonal_naive_by_hand():
    baseline = make_baseline("seasonal_naive", BaselineConfig(season=3)).fit(VALUES[:5])
    point, quantiles = baseline.forecast(VALUES, [5, 8], 4, LEVELS)
    # one season before each target: values[2], values[3], values[4], then values[2] again
    np.testing.assert_allclose(point, [[2.0, 5.0, 4.0, 2.0], [6.0, 8.0, 7.0, 6.0]])
    sigma = math.sqrt((4 ** 2 + 1 ** 2) / 2)         # 5 - 1, 4 - 3
    np.testing.assert_allclose(sd_of(quantiles)[0], sigma * np.sqrt([1, 1, 1, 2]))


def test_drift_by_hand():
    point, quantiles = make_baseline("drift", BaselineConfig()).fit(TRAIN).forecast(VALUES, [5], 3, LEVELS)
    np.testing.assert_allclose(point, [[4.75, 5.5, 6.25]])  # 4 + h (4 - 1) / 4
    sigma = math.sqrt((4 + 49 + 25) / 9 / 2)         # diffs minus the slope 4/3: 2/3, -7/3, 5/3; 3 - 1 dof
    h = np.arange(1, 4)
    np.testing.assert_allclose(sd_of(quantiles)[0], sigma * np.sqrt(h * (1 + h / 5)))


def test_mean_by_hand():
    point, quantiles = make_baseline("mean", BaselineConfig()).fit(TRAIN).forecast(VALUES, [5, 8], 2, LEVELS)
    np.testing.assert_allclose(point, [[3.0, 3.0], [4.5, 4.5]])
    sigma = math.sqrt(np.var(TRAIN, ddof=1))
    np.testing.assert_allclose(sd_of(quantiles)[:, 0], sigma * np.sqrt(1 + 1 / np.array([5, 8])))


# --- every method ----------------------------------------------------------------------------------------

CONFIGS = [(name, BaselineConfig(season=4, history=0)) for name in BASELINES] + [
    ("arima", BaselineConfig(season=4, history=24)),
    ("ets", BaselineConfig(season=4, history=24, ets_seasonal="mul")),
    ("ets", BaselineConfig(season=4, history=24, ets_trend="none", ets_seasonal="none")),
]


@pytest.fixture(scope="module")
def fitted():
    values = series()
    return values, [make_baseline(name, config).fit(values[:100]) for name, config in CONFIGS]


def test_no_look_ahead(fitted):
    values, baselines = fitted
    origins = [4, 20, 24, 25, 77, 120, 160]
    rng = np.random.default_rng(1)
    for baseline in baselines:
        point, quantiles = baseline.forecast(values, origins, 6, LEVELS)
        assert point.shape == (7, 6) and quantiles.shape == (7, 6, 3)
        for i, o in enumerate(origins):
            changed = values.copy()
            changed[o:] += rng.normal(0, 50, len(values) - o)
            alone, alone_q = baseline.forecast(changed, [o], 6, LEVELS)
            np.testing.assert_allclose(alone[0], point[i], rtol=1e-9, atol=1e-9, err_msg=f"{baseline.name} o={o}")
            np.testing.assert_allclose(alone_q[0], quantiles[i], rtol=1e-9, atol=1e-9)


def test_quantiles_are_ordered_around_the_point(fitted):
    values, baselines = fitted
    for baseline in baselines:
        point, quantiles = baseline.forecast(values, [40, 100, 150], 8, LEVELS)
        assert np.all(np.diff(quantiles, axis=-1) > 0), baseline.name
        np.testing.assert_array_equal(quantiles[..., 1], point)
        assert baseline.forecast(values, [40], 8)[1] is None


# --- input errors ----------------------------------------------------------------------------------------

def test_config_errors_name_the_field():
    for fields, match in [({"season": 0}, "baselines.season=0"),
                          ({"arima_order": (1, -1, 0)}, "baselines.arima_order="),
                          ({"seasonal_order": (0, 1)}, "baselines.seasonal_order="),
                          ({"ets_trend": "mul"}, "baselines.ets_trend='mul'"),
                          ({"ets_seasonal": "x"}, "baselines.ets_seasonal='x'"),
                          ({"history": -1}, "baselines.history=-1")]:
        with pytest.raises(ValueError, match=match):
            BaselineConfig(**fields)
    assert BaselineConfig(arima_order=[2, 1, 0]).arima_order == (2, 1, 0)
    with pytest.raises(ValueError, match="expected one of"):
        make_baseline("prophet", BaselineConfig())


def test_forecast_input_errors():
    baseline = make_baseline("seasonal_naive", BaselineConfig(season=3))
    with pytest.raises(RuntimeError, match="fit"):
        baseline.forecast(VALUES, [5], 2)
    baseline.fit(VALUES[:5])
    with pytest.raises(ValueError, match=r"origins: expected integers in \[3, 8\]"):
        baseline.forecast(VALUES, [2], 2)
    with pytest.raises(ValueError, match="origins"):
        baseline.forecast(VALUES, [9], 2)
    with pytest.raises(ValueError, match="values: expected one column"):
        baseline.forecast(VALUES[:, None], [5], 2)
    with pytest.raises(ValueError, match="horizon=0"):
        baseline.forecast(VALUES, [5], 0)
    with pytest.raises(ValueError, match="levels="):
        baseline.forecast(VALUES, [5], 2, [0.5, 1.0])
    with pytest.raises(ValueError, match="train: expected at least 4"):
        baseline.fit(VALUES[:3])
