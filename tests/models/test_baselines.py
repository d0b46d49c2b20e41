"""Forecasting baselines: the simple methods' formulas worked by hand, no look-ahead for any method, ARIMA
and ETS equal to statsmodels' own forecasts on the same history, and published numbers on real series
(skipped when ../shared/data is absent)."""

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
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


def test_arima_equals_statsmodels_on_the_same_history(fitted):
    values, baselines = fitted
    for baseline in baselines:
        if baseline.name != "arima":
            continue
        history, origins = baseline.config.history, [10, 24, 60, 130]
        point, quantiles = baseline.forecast(values, origins, 6, LEVELS)
        for i, o in enumerate(origins):
            expected = baseline.results.apply(values[max(0, o - history) if history else 0:o]).get_forecast(6)
            np.testing.assert_allclose(point[i], expected.predicted_mean, rtol=1e-9)
            np.testing.assert_allclose(sd_of(quantiles[i]), expected.se_mean, rtol=1e-9)


def test_ets_equals_statsmodels_on_the_whole_prefix():
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    values = series(season=6)
    for seasonal in ("add", "mul"):
        baseline = make_baseline("ets", BaselineConfig(season=6, ets_seasonal=seasonal)).fit(values[:100])
        point, quantiles = baseline.forecast(values, [60, 130], 8, LEVELS)
        for i, o in enumerate([60, 130]):
            model = ETSModel(pd.Series(values[:o]), error="add", trend="add", damped_trend=True, seasonal=seasonal,
                             seasonal_periods=6)
            smoothed = model.smooth(baseline.results.params)
            expected = smoothed.get_prediction(start=o, end=o + 7)
            np.testing.assert_allclose(point[i], expected.predicted_mean, rtol=1e-9)
            if seasonal == "add":   # the analytic class-1 variance; "mul" approximates (see Ets)
                # statsmodels scales by this prefix's mean squared residual; the baseline by the training one
                variance = expected.var_pred_mean / smoothed.scale * baseline.results.scale
                np.testing.assert_allclose(sd_of(quantiles[i]), np.sqrt(variance), rtol=1e-9)


def test_ets_window_starts_from_the_fitted_states_in_phase():
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    values = series(season=6)
    baseline = make_baseline("ets", BaselineConfig(season=6, history=30)).fit(values[:100])
    point, _ = baseline.forecast(values, [47, 130], 5)
    for i, o in enumerate([47, 130]):
        start = o - 30
        model = ETSModel(values[start:o], error="add", trend="add", damped_trend=True, seasonal="add",
                         seasonal_periods=6, initialization_method="known", initial_level=baseline.level0,
                         initial_trend=baseline.trend0, initial_seasonal=np.roll(baseline.seasonal0, -start))
        expected = model.smooth(baseline.results.params[:4]).forecast(5)
        np.testing.assert_allclose(point[i], expected, rtol=1e-9)


def test_arima_recovers_an_ar1_coefficient():
    rng = np.random.default_rng(3)
    y = np.zeros(400)
    for t in range(1, 400):
        y[t] = 0.7 * y[t - 1] + rng.normal()
    baseline = make_baseline("arima", BaselineConfig(arima_order=(1, 0, 0))).fit(5 + y)
    params = dict(zip(baseline.results.model.param_names, baseline.results.params))
    assert params["ar.L1"] == pytest.approx(0.7, abs=0.08)
    assert params["intercept"] / (1 - params["ar.L1"]) == pytest.approx(5, abs=0.5)  # a constant when d = 0


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


# --- published numbers -----------------------------------------------------------------------------------

def read_column(path, column):
    with open(path, newline="") as handle:
        return np.array([float(row[column]) for row in csv.DictReader(handle)])


@pytest.mark.skipif(not (DATA / "airline-passengers").exists(), reason="../shared/data/airline-passengers absent")
def test_airline_24_months_from_1959():
    """Box & Jenkins' airline model, fitted on 1949-1958, forecasting 1959-1960: RMSE about 42.6 in the
    literature (../shared/data/README.md); seasonal naive 77.0."""
    passengers = read_column(DATA / "airline-passengers" / "airline-passengers.csv", "Passengers")
    assert len(passengers) == 144
    config = BaselineConfig(season=12, arima_order=(0, 1, 1), seasonal_order=(0, 1, 1))
    arima = make_baseline("arima", config).fit(np.log(passengers[:120]))
    point, _ = arima.forecast(np.log(passengers), [120], 24)
    rmse = math.sqrt(np.mean((np.exp(point[0]) - passengers[120:]) ** 2))
    print(f"airline SARIMA(0,1,1)(0,1,1)12 on logs: RMSE {rmse:.2f} (reference 42.6)")
    assert rmse == pytest.approx(42.6, abs=3)
    naive, _ = make_baseline("seasonal_naive", config).fit(passengers[:120]).forecast(passengers, [120], 24)
    assert math.sqrt(np.mean((naive[0] - passengers[120:]) ** 2)) == pytest.approx(77.0, abs=0.05)


@pytest.mark.skipif(not (DATA / "sunspots-yearly").exists(), reason="../shared/data/sunspots-yearly absent")
def test_sunspots_ar9_one_step():
    """AR(9) fitted on 1700-1920, one-step forecasts for 1921-2008: MSE about 305."""
    sunspots = read_column(DATA / "sunspots-yearly" / "sunspots.csv", "SUNACTIVITY")
    assert len(sunspots) == 309
    arima = make_baseline("arima", BaselineConfig(arima_order=(9, 0, 0))).fit(sunspots[:221])
    point, _ = arima.forecast(sunspots, np.arange(221, 309), 1)
    mse = float(np.mean((point[:, 0] - sunspots[221:]) ** 2))
    print(f"sunspots AR(9) one step 1921-2008: MSE {mse:.1f} (reference 305)")
    assert mse == pytest.approx(305, rel=0.15)
