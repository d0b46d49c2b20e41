"""Classic forecasting baselines for one series (apply them per column), with rolling-origin forecasts.

For each forecast origin o (1 <= o <= N) a baseline forecasts rows o..o+K-1 of the column from
values[:o] alone. Notation: y the column, h = k + 1 the step ahead (k = 0..K-1), m the season,
sigma the residual standard deviation estimated once, in fit(), on the training span.

    last            yhat_{o+k} = y_{o-1}                               sd = sigma sqrt(h)
    seasonal_naive  yhat_{o+k} = y_{o-m+(k mod m)}                     sd = sigma sqrt(floor((h-1)/m) + 1)
                    (the value one season before each target step)
    drift           yhat_{o+k} = y_{o-1} + h (y_{o-1} - y_0) / (o - 1)  sd = sigma sqrt(h (1 + h/o))
    mean            yhat_{o+k} = mean(y_0..y_{o-1})                    sd = sigma sqrt(1 + 1/o)
    (Hyndman & Athanasopoulos, Forecasting: Principles and Practice, 3rd ed., sections 5.2 and 5.5; the
    series a forecast is made from has o values, so fpp3's T is o here.) sigma^2 = sum of squared
    training residuals / (their number - parameters estimated): 0 for last and seasonal_naive, 1 (the
    slope, the mean) for drift and mean.

    arima, ets      statsmodels' SARIMAX and ETSModel, fitted once on the training span (statistical.py)

Quantiles are Gaussian, yhat + sd * Phi^-1(level), for every method.
"""

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

BASELINES = ("last", "seasonal_naive", "drift", "mean", "arima", "ets")
ETS_TRENDS = ("add", "none")
ETS_SEASONALS = ("add", "mul", "none")


@dataclass(frozen=True)
class BaselineConfig:
    season: int = 1                                         # seasonal period m (1 = none)
    arima_order: Tuple[int, int, int] = (1, 1, 1)          # (p, d, q)
    seasonal_order: Tuple[int, int, int] = (0, 1, 1)       # (P, D, Q) with period `season`, when season > 1
    ets_trend: str = "add"                                  # "add" (damped additive) or "none"
    ets_seasonal: str = "add"                               # "add", "mul" or "none"; ignored when season == 1
    history: int = 0                                        # ARIMA/ETS: rows filtered at each origin; 0 = all

    def __post_init__(self):
        if not _is_int(self.season) or self.season < 1:
            raise ValueError(f"baselines.season={self.season!r}: expected an integer >= 1")
        for name in ("arima_order", "seasonal_order"):
            order = getattr(self, name)
            if not isinstance(order, (tuple, list)) or len(order) != 3 or not all(
                    _is_int(v) and v >= 0 for v in order):
                raise ValueError(f"baselines.{name}={order!r}: expected three integers >= 0")
            object.__setattr__(self, name, tuple(int(v) for v in order))  # YAML gives lists
        if self.ets_trend not in ETS_TRENDS:
            raise ValueError(f"baselines.ets_trend={self.ets_trend!r}: expected one of {ETS_TRENDS}")
        if self.ets_seasonal not in ETS_SEASONALS:
            raise ValueError(f"baselines.ets_seasonal={self.ets_seasonal!r}: expected one of {ETS_SEASONALS}")
        if not _is_int(self.history) or self.history < 0:
            raise ValueError(f"baselines.history={self.history!r}: expected an integer >= 0 (0 = all rows)")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class Baseline:
    """The common interface: fit(train) once, then forecast(values, origins, horizon, levels).
    Subclasses implement ``_fit`` (sets ``sigma`` or their model) and ``_forecast`` -> (mean, sd)."""

    name = ""
    min_train = 2      # rows fit() needs
    min_origin = 1     # the first origin a forecast can be made from

    def __init__(self, config: BaselineConfig):
        self.config = config
        self.fitted = False
        self.warnings: List[str] = []   # ConvergenceWarnings raised while fitting (statistical models)

    def fit(self, train: np.ndarray) -> "Baseline":
        """Estimate what the method needs from one training column (T,)."""
        train = _column("train", train)
        if len(train) < self.min_train:
            raise ValueError(f"train: expected at least {self.min_train} values for {self.name}, got {len(train)}")
        self._fit(train)
        self.fitted = True
        return self

    def forecast(self, values: np.ndarray, origins: Sequence[int], horizon: int,
                 levels: Sequence[float] = ()) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """(point (W, K), quantiles (W, K, Q) or None when levels is empty): for each origin o, rows
        o..o+horizon-1 forecast from values[:o] alone. values (N,) is the whole column."""
        if not self.fitted:
            raise RuntimeError(f"{self.name}: call fit(train) before forecast()")
        values = _column("values", values)
        origins = np.asarray(origins)
        if origins.ndim != 1 or (origins.size and not np.issubdtype(origins.dtype, np.integer)):
            raise ValueError(f"origins: expected a 1-D sequence of integers, got {origins!r}")
        origins = origins.astype(np.int64)
        if origins.size and (origins.min() < self.min_origin or origins.max() > len(values)):
            raise ValueError(f"origins: expected integers in [{self.min_origin}, {len(values)}] for {self.name} "
                             f"on {len(values)} values, got range [{origins.min()}, {origins.max()}]")
        if not _is_int(horizon) or horizon < 1:
            raise ValueError(f"horizon={horizon!r}: expected an integer >= 1")
        levels = np.asarray(levels, dtype=np.float64)
        if levels.ndim != 1 or not np.all((levels > 0) & (levels < 1)):
            raise ValueError(f"levels={levels.tolist()}: expected floats strictly between 0 and 1")
        if origins.size == 0:
            return np.zeros((0, horizon)), (np.zeros((0, horizon, len(levels))) if len(levels) else None)
        mean, sd = self._forecast(values, origins, int(horizon))                 # (W, K), (W, K)
        if not len(levels):
            return mean, None
        from scipy.stats import norm

        return mean, mean[..., None] + sd[..., None] * norm.ppf(levels)         # (W, K, Q)

    def _fit(self, train: np.ndarray) -> None:
        raise NotImplementedError

    def _forecast(self, values: np.ndarray, origins: np.ndarray, horizon: int) -> Tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


def _column(name: str, values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"{name}: expected one column, shape (N,), got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name}: expected finite values, found {int((~np.isfinite(values)).sum())} others")
    return values


def _residual_sigma(residuals: np.ndarray, parameters: int) -> float:
    return math.sqrt(float(np.sum(residuals ** 2)) / max(len(residuals) - parameters, 1))


# --- the four simple methods ---------------------------------------------------------------------------

class Last(Baseline):
    name = "last"

    def _fit(self, train):
        self.sigma = _residual_sigma(np.diff(train), 0)

    def _forecast(self, values, origins, horizon):
        h = np.arange(1, horizon + 1)
        mean = np.repeat(values[origins - 1, None], horizon, axis=1)            # (W, K)
        return mean, np.broadcast_to(self.sigma * np.sqrt(h), mean.shape)


class SeasonalNaive(Baseline):
    name = "seasonal_naive"

    def __init__(self, config):
        super().__init__(config)
        self.min_train, self.min_origin = config.season + 1, config.season

    def _fit(self, train):
        m = self.config.season
        self.sigma = _residual_sigma(train[m:] - train[:-m], 0)

    def _forecast(self, values, origins, horizon):
        m, k = self.config.season, np.arange(horizon)
        mean = values[origins[:, None] - m + k % m]                              # (W, K)
        return mean, np.broadcast_to(self.sigma * np.sqrt(k // m + 1), mean.shape)


class Drift(Baseline):
    name = "drift"
    min_train = 3
    min_origin = 2

    def _fit(self, train):
        slope = (train[-1] - train[0]) / (len(train) - 1)
        self.sigma = _residual_sigma(np.diff(train) - slope, 1)

    def _forecast(self, values, origins, horizon):
        h = np.arange(1, horizon + 1)
        last = values[origins - 1, None]                                         # (W, 1)
        slope = (last - values[0]) / (origins[:, None] - 1)
        sd = self.sigma * np.sqrt(h * (1 + h / origins[:, None]))               # (W, K)
        return last + h * slope, sd


class Mean(Baseline):
    name = "mean"

    def _fit(self, train):
        self.sigma = _residual_sigma(train - train.mean(), 1)

    def _forecast(self, values, origins, horizon):
        running = np.cumsum(values)[origins - 1] / origins                       # (W,)
        mean = np.repeat(running[:, None], horizon, axis=1)
        sd = np.repeat(self.sigma * np.sqrt(1 + 1 / origins)[:, None], horizon, axis=1)
        return mean, sd


def make_baseline(name: str, config: BaselineConfig) -> Baseline:
    """A fresh, unfitted baseline by name (one of BASELINES)."""
    from .statistical import Arima, Ets  # statsmodels is imported only where a statistical model fits

    classes = {cls.name: cls for cls in (Last, SeasonalNaive, Drift, Mean, Arima, Ets)}
    if name not in classes:
        raise ValueError(f"baseline {name!r}: expected one of {BASELINES}")
    return classes[name](config)
