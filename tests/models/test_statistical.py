"""ARIMA and ETS (models/statistical.py) against statsmodels' own forecasts and published figures."""

import csv
import math

import numpy as np
import pandas as pd
import pytest

from rnnkit.models.baselines import BaselineConfig, make_baseline

from .test_baselines import DATA, LEVELS, sd_of, series


def test_arima_equals_statsmodels_on_the_same_history():
    values = series()
    for history in (0, 24):   # the filter over the whole prefix, and the affine map of a window
        baseline = make_baseline("arima", BaselineConfig(season=4, history=history)).fit(values[:100])
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
