"""Forecast metrics over rolling-origin windows: point errors, quantile (pinball) losses, CRPS and
prediction-interval coverage. numpy only.

Shapes: W forecast origins, K horizon steps, D target columns, Q quantile levels, S samples.

    actual, predicted    (W, K, D)   what happened and the point forecast
    train                (T, D)      the training span, for MASE's scale
    quantiles            (W, K, D, Q) forecasts at ``levels`` (Q floats in (0, 1))
    samples              (S, W, K, D) draws from the forecast distribution

Point metrics, averaged over all W*K*D values (e = y - yhat):
    mae   = mean |e|                      mse = mean e^2            rmse = sqrt(mse)
    mape  = 100 mean |e| / |y|            over y != 0 only (nan when every y is 0)
    smape = 100 mean 2|e| / (|y| + |yhat|), a term with |y| + |yhat| = 0 counting as 0
            (M4's definition: Makridakis, Spiliotis & Assimakopoulos 2020, IJF 36(1))
    mase  = mean over columns d of MAE_d / scale_d,
            scale_d = mean_{t >= m} |train[t, d] - train[t - m, d]|          (m = season)
            (Hyndman & Koehler 2006, IJF 22(4)); m falls back to 1 when the train span is shorter than
            m + 1 or the seasonal scale is 0; a column whose scale is still 0 is nan and left out.

Pinball loss of quantile q at level tau (Koenker & Bassett 1978):
    rho_tau(y - q) = max(tau (y - q), (tau - 1)(y - q))
    weighted_quantile_loss = mean over tau of 2 sum rho_tau / sum |y|   (GluonTS's mean_wQuantileLoss)

CRPS (Gneiting & Raftery 2007, JASA 102(477)), for a forecast distribution F and outcome y:
    CRPS(F, y) = E|X - y| - 1/2 E|X - X'|,   X, X' independent draws from F
    empirical F of S sorted samples x_(1) <= ... <= x_(S) (the 1/S^2 convention):
        E|X - X'| = 1/S^2 sum_ij |x_i - x_j| = 2/S^2 sum_i (2i - S - 1) x_(i)
    Gaussian N(mu, sigma^2), z = (y - mu) / sigma:
        CRPS = sigma (z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi))
"""

import math
from typing import Sequence

import numpy as np

_erf = np.frompyfunc(math.erf, 1, 1)  # numpy has no erf; math.erf is exact to double precision


def _array(name: str, value, ndim: int = None) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {array.shape}")
    return array


def _same_shape(**arrays: np.ndarray) -> None:
    shapes = {name: array.shape for name, array in arrays.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"expected equal shapes, got {listed}")


def _mase_scale(column: np.ndarray, season: int) -> float:
    """Mean absolute (seasonal) difference of one training column; nan when it is 0 for m and for 1."""
    for m in dict.fromkeys((season if len(column) >= season + 1 else 1, 1)):
        scale = float(np.mean(np.abs(column[m:] - column[:-m])))
        if scale > 0:
            return scale
    return math.nan


def point_metrics(actual, predicted, train, season: int = 1) -> dict:
    """mae, mse, rmse, mape, smape (both in percent) and mase of a point forecast; see the module
    docstring. actual, predicted (W, K, D); train (T, D) with T >= 2."""
    actual, predicted = _array("actual", actual, 3), _array("predicted", predicted, 3)
    train = _array("train", train, 2)
    _same_shape(actual=actual, predicted=predicted)
    if train.shape[1] != actual.shape[2]:
        raise ValueError(f"train: expected {actual.shape[2]} columns like actual {actual.shape}, "
                         f"got shape {train.shape}")
    if train.shape[0] < 2:
        raise ValueError(f"train: expected at least 2 rows for MASE's scale, got shape {train.shape}")
    if not isinstance(season, int) or season < 1:
        raise ValueError(f"season={season!r}: expected an int >= 1")
    error = np.abs(actual - predicted)                                        # (W, K, D)
    mse = float(np.mean(error ** 2))
    nonzero = actual != 0
    mape = 100 * float(np.mean(error[nonzero] / np.abs(actual[nonzero]))) if nonzero.any() else math.nan
    denominator = np.abs(actual) + np.abs(predicted)
    smape_terms = np.divide(2 * error, denominator, out=np.zeros_like(error), where=denominator > 0)
    scales = np.array([_mase_scale(train[:, d], season) for d in range(train.shape[1])])  # (D,)
    per_column = error.reshape(-1, error.shape[2]).mean(0) / scales           # (D,) nan where scale is 0
    return {
        "mae": float(error.mean()),
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mape": mape,
        "smape": 100 * float(smape_terms.mean()),
        "mase": float(np.nanmean(per_column)) if np.isfinite(per_column).any() else math.nan,
    }


def quantile_loss(actual, quantiles, levels: Sequence[float]) -> dict:
    """Pinball losses of quantile forecasts: the mean over every level and value ("quantile_loss"),
    one mean per level ("quantile_loss_0.1", the level written with :g) and GluonTS's
    "weighted_quantile_loss". actual (W, K, D); quantiles (W, K, D, Q); levels Q floats in (0, 1)."""
    actual = _array("actual", actual)
    quantiles = _array("quantiles", quantiles)
    taus = _array("levels", levels, 1)
    if quantiles.shape != actual.shape + taus.shape:
        raise ValueError(f"quantiles: expected shape {actual.shape + taus.shape} (actual's shape "
                         f"{actual.shape} plus one entry per level), got {quantiles.shape}")
    if not np.all((taus > 0) & (taus < 1)):
        raise ValueError(f"levels={list(levels)}: expected floats strictly between 0 and 1")
    difference = actual[..., None] - quantiles                               # (W, K, D, Q)
    rho = np.maximum(taus * difference, (taus - 1) * difference)              # (W, K, D, Q)
    per_level = rho.reshape(-1, len(taus)).mean(0)                            # (Q,)
    absolute_sum = float(np.abs(actual).sum())
    weighted = (2 * rho.reshape(-1, len(taus)).sum(0) / absolute_sum if absolute_sum > 0
                else np.full(len(taus), math.nan))                            # (Q,)
    metrics = {"quantile_loss": float(rho.mean()), "weighted_quantile_loss": float(np.mean(weighted))}
    metrics.update({f"quantile_loss_{tau:g}": float(loss) for tau, loss in zip(taus, per_level)})
    return metrics


def crps_from_samples(actual, samples) -> float:
    """CRPS of the empirical distribution of the samples, averaged over every value; exact for that
    distribution (1/S^2 convention), by the sorted-sample identity in O(S log S) per value.
    actual (W, K, D); samples (S, W, K, D)."""
    actual, samples = _array("actual", actual), _array("samples", samples)
    if samples.ndim != actual.ndim + 1 or samples.shape[1:] != actual.shape or samples.shape[0] < 1:
        raise ValueError(f"samples: expected shape (S, {', '.join(map(str, actual.shape))}) with S >= 1 "
                         f"for actual {actual.shape}, got {samples.shape}")
    S = samples.shape[0]
    absolute = np.abs(samples - actual).mean(0)                               # E|X - y|  (W, K, D)
    ordered = np.sort(samples, axis=0)                                        # (S, W, K, D)
    weights = (2 * np.arange(1, S + 1) - S - 1).reshape((S,) + (1,) * actual.ndim)
    spread = (weights * ordered).sum(0) / S ** 2                              # 1/2 E|X - X'|
    return float(np.mean(absolute - spread))


def gaussian_crps(actual, mean, std) -> float:
    """Closed-form CRPS of N(mean, std^2), averaged over every value (std = 0 gives |y - mean|).
    actual, mean, std: equal shapes."""
    actual, mean, std = _array("actual", actual), _array("mean", mean), _array("std", std)
    _same_shape(actual=actual, mean=mean, std=std)
    if np.any(std < 0):
        raise ValueError(f"std: expected values >= 0, got minimum {std.min()}")
    positive = std > 0
    z = np.divide(actual - mean, std, out=np.zeros_like(actual), where=positive)
    cdf = 0.5 * (1 + _erf(z / math.sqrt(2)).astype(np.float64))
    pdf = np.exp(-0.5 * z ** 2) / math.sqrt(2 * math.pi)
    crps = np.where(positive, std * (z * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi)), np.abs(actual - mean))
    return float(np.mean(crps))


def coverage(actual, lower, upper) -> float:
    """Fraction of actual values with lower <= actual <= upper. Equal shapes."""
    actual, lower, upper = _array("actual", actual), _array("lower", lower), _array("upper", upper)
    _same_shape(actual=actual, lower=lower, upper=upper)
    return float(np.mean((actual >= lower) & (actual <= upper)))


def interval_width(lower, upper) -> float:
    """Mean of upper - lower. Equal shapes."""
    lower, upper = _array("lower", lower), _array("upper", upper)
    _same_shape(lower=lower, upper=upper)
    return float(np.mean(upper - lower))
