"""Rolling-origin evaluation (Tashman 2000): the model and the baselines forecast from every origin of a
span using only the rows before it, and every method is scored on the same windows in the same table.

Point metrics are in the data's own units (after the inverse transform); ``scaled_mse`` and
``scaled_mae`` are in standardized units, the convention of the ETT benchmarks (Informer, Zhou et al.
2021). Probabilistic methods add the quantile loss, the coverage and width of the central
``interval``, and (sample-based models) CRPS.
"""

import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..data.series import Series
from ..data.windows import Windows, invert_transform
from ..models.baselines import BASELINES, BaselineConfig, make_baseline
from ..training.forecast_metrics import coverage, crps_from_samples, interval_width, point_metrics, quantile_loss
from ..training.trainer import to_device


@dataclass(frozen=True)
class BacktestConfig:
    baselines: Tuple[str, ...] = ("last", "seasonal_naive", "arima")  # compared in the same table
    stride: int = 1                 # steps between test origins (validation: every origin)
    quantiles: Tuple[float, ...] = (0.1, 0.5, 0.9)  # written by `rnnkit forecast`, scored by the quantile loss
    interval: float = 0.8           # the central interval whose coverage is reported
    season: int = 0                 # seasonal period m (seasonal naive, MASE, seasonal ARIMA/ETS); 0 = from freq
    arima_order: Tuple[int, ...] = (1, 1, 1)     # (p, d, q)
    seasonal_order: Tuple[int, ...] = (0, 1, 1)  # (P, D, Q) with period m, when m > 1
    ets_trend: str = "add"          # add (damped) or none
    ets_seasonal: str = "add"       # add, mul or none
    history: int = 0                # ARIMA/ETS: rows filtered before each origin; 0 = all

    def __post_init__(self):
        def fail(name, allowed):
            raise ValueError(f"backtest.{name}={getattr(self, name)!r}: expected {allowed}")

        bad = [b for b in self.baselines if b not in BASELINES]
        if bad:
            fail("baselines", f"names from {BASELINES}")
        if self.stride < 1:
            fail("stride", "an integer >= 1")
        if not all(0 < q < 1 for q in self.quantiles):
            fail("quantiles", "levels in (0, 1)")
        if not 0 < self.interval < 1:
            fail("interval", "a number in (0, 1), e.g. 0.8")
        if self.season < 0 or self.history < 0:
            fail("season" if self.season < 0 else "history", "an integer >= 0")
        self.baseline_config(1)  # its own checks, under these names

    @property
    def bounds(self) -> Tuple[float, float]:
        low = (1 - self.interval) / 2
        return low, 1 - low

    def levels(self) -> List[float]:
        """The quantile levels computed: the configured ones and the interval's bounds."""
        return sorted({round(q, 6) for q in (*self.quantiles, *self.bounds)})

    def interval_of(self, quantiles: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(low, high): the interval's bounds from quantiles (..., Q) at ``levels()``."""
        levels = self.levels()
        low, high = (levels.index(round(b, 6)) for b in self.bounds)
        return quantiles[..., low], quantiles[..., high]

    def baseline_config(self, season: int) -> BaselineConfig:
        try:
            return BaselineConfig(season=season, arima_order=tuple(self.arima_order),
                                  seasonal_order=tuple(self.seasonal_order), ets_trend=self.ets_trend,
                                  ets_seasonal=self.ets_seasonal, history=self.history)
        except ValueError as error:
            raise ValueError(str(error).replace("baselines.", "backtest.")) from None


@dataclass
class Prepared:
    """A series ready for the model: targets transformed (T, D), then scaled (T, D), and its windows."""
    series: Series
    transformed: np.ndarray
    targets: np.ndarray
    windows: Windows


def to_units(scaling, scaled: np.ndarray) -> np.ndarray:
    """Scaled model output (..., D) -> the data's units."""
    return invert_transform(scaling.transform, scaling.targets.inverse(scaled))


@torch.no_grad()
def predict(model, windows: Windows, origins: Sequence[int], scaling, batch_size: int, num_samples: int,
            levels: Sequence[float], actual: Optional[np.ndarray] = None) -> Dict[str, Optional[np.ndarray]]:
    """Forecasts from each origin: scaled mean (W, K, D); in the data's units the point forecast
    (W, K, D) and quantiles (W, K, D, Q) (None for a point model; exact for a direct distribution, from
    the sample paths for an autoregressive one). With ``actual`` (W, K, D) also "crps" from the sample
    paths. The paths are reduced batch by batch and never kept whole: on ETTh1 at K = 168 they would be
    100 x 2,713 x 168 x 7 values (2.5 GB)."""
    model.eval()
    means, quantiles, crps = [], [], 0.0
    if model.config.probabilistic:  # at most about 20M sampled values (160 MB) per batch
        per_window = num_samples * windows.horizon * windows.targets.shape[1]
        batch_size = max(1, min(batch_size, 20_000_000 // per_window))
    device = next(model.parameters()).device
    for start in range(0, len(origins), batch_size):
        out = model.forecast(to_device(windows.batch(origins[start:start + batch_size]), device), num_samples, levels)
        out = {k: None if v is None else v.cpu() for k, v in out.items()}
        means.append(out["mean"].double().numpy())
        if out["samples"] is not None:
            paths = to_units(scaling, out["samples"].double().numpy())                        # (S, b, K, D)
            if out["quantiles"] is not None:  # exact; the scaler and the inverse transforms are monotone
                exact = np.moveaxis(out["quantiles"].double().numpy(), -1, 0)               # (Q, b, K, D)
                quantiles.append(np.moveaxis(to_units(scaling, exact), 0, -1))              # (b, K, D, Q)
            else:
                quantiles.append(np.moveaxis(np.quantile(paths, list(levels), axis=0), 0, -1))
            if actual is not None:
                rows = actual[start:start + batch_size]
                crps += crps_from_samples(rows, paths) * rows.size
    mean = np.concatenate(means)
    result = {"scaled_mean": mean, "point": to_units(scaling, mean), "quantiles": None, "crps": None}
    if quantiles:
        result["quantiles"] = np.concatenate(quantiles)
        if actual is not None:
            result["crps"] = crps / actual.size
    return result


def score(actual, point, train, season, scaled_actual, scaled_point, config: BacktestConfig, quantiles=None,
          crps=None) -> dict:
    metrics = point_metrics(actual, point, train, season)
    metrics["scaled_mse"] = float(np.mean((scaled_point - scaled_actual) ** 2))
    metrics["scaled_mae"] = float(np.mean(np.abs(scaled_point - scaled_actual)))
    if quantiles is not None:
        metrics.update(quantile_loss(actual, quantiles, config.levels()))
        low, high = config.interval_of(quantiles)
        metrics["coverage"] = coverage(actual, low, high)
        metrics["interval_width"] = interval_width(low, high)
    if crps is not None:
        metrics["crps"] = crps
    return metrics


def fit_baselines(data: Prepared, train_end: int, season: int, config: BacktestConfig) -> Dict[str, list]:
    """{name: one fitted baseline per target column}, fitted once on the training rows (ARIMA's
    likelihood maximization is the slow part: minutes on ETTh1) and used for every span."""
    baseline_config = config.baseline_config(season)
    return {name: [make_baseline(name, baseline_config).fit(data.transformed[:train_end, d])
                   for d in range(data.transformed.shape[1])] for name in config.baselines}


def backtest(model, data: Prepared, origins: Sequence[int], train_end: int, season: int, config: BacktestConfig,
             scaling, batch_size: int, num_samples: int, baselines: Optional[Dict[str, list]] = None) -> dict:
    """{"origins": W, "interval": 0.8, "methods": {name: metrics}} with the model first; ``baselines``
    from fit_baselines (fitted here when not given)."""
    K, D = data.windows.horizon, data.targets.shape[1]
    rows = np.asarray(origins)[:, None] + np.arange(K)                                      # (W, K)
    actual = data.series.values[:, :D][rows]                                                 # (W, K, D)
    scaled_actual = data.targets[rows]
    train = data.series.values[:train_end, :D]
    out = predict(model, data.windows, list(origins), scaling, batch_size, num_samples, config.levels(), actual)
    cfg = model.config
    methods = {f"rnnkit {cfg.kind} {cfg.cell}": score(
        actual, out["point"], train, season, scaled_actual, out["scaled_mean"], config, out["quantiles"], out["crps"])}
    if baselines is None:
        baselines = fit_baselines(data, train_end, season, config)
    for name, fitted in baselines.items():
        points, quantiles = [], []
        for d, method in enumerate(fitted):
            p, q = method.forecast(data.transformed[:, d], list(origins), K, config.levels())
            points.append(p)
            quantiles.append(q)
        point = np.stack(points, -1)                                                         # (W, K, D)
        q = None if quantiles[0] is None else np.stack(quantiles, 2)                         # (W, K, D, Q)
        methods[name] = score(actual, invert_transform(scaling.transform, point), train, season, scaled_actual,
                              scaling.targets.transform(point), config,
                              None if q is None else invert_transform(scaling.transform, q))
    return {"origins": len(origins), "interval": config.interval, "methods": methods}


COLUMNS = (("mae", "MAE"), ("rmse", "RMSE"), ("mape", "MAPE%"), ("smape", "sMAPE%"), ("mase", "MASE"),
           ("scaled_mse", "MSE(std)"), ("scaled_mae", "MAE(std)"), ("quantile_loss", "QL"), ("crps", "CRPS"),
           ("coverage", "cover"))


def format_table(result: dict) -> List[str]:
    methods = result["methods"]
    shown = [(key, title) for key, title in COLUMNS if any(key in m for m in methods.values())]
    width = max(len(name) for name in methods) + 2
    title = {k: t for k, t in shown}
    if "coverage" in title:
        title["coverage"] = f"cover{result['interval']:.0%}"
    lines = ["".ljust(width) + "".join(f"{title[k]:>11}" for k, _ in shown)]
    for name, metrics in methods.items():
        cells = "".join(f"{metrics[k]:>11.4g}" if k in metrics else f"{'-':>11}" for k, _ in shown)
        lines.append(name.ljust(width) + cells)
    return lines


# --- plots -------------------------------------------------------------------------------------------
def plot_forecast(path: str, columns: Sequence[str], history_x, history: np.ndarray, future_x, point: np.ndarray,
                  low: Optional[np.ndarray] = None, high: Optional[np.ndarray] = None, interval: float = 0.8,
                  actual: Optional[np.ndarray] = None, title: str = "") -> None:
    """One panel per series: history (T, D), forecast (K, D), its interval band, and what happened."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    D = len(columns)
    figure, axes = plt.subplots(D, 1, figsize=(10, 2.4 * D + 0.6), sharex=True, squeeze=False)
    for d, ax in enumerate(axes[:, 0]):
        ax.plot(history_x, history[:, d], color="0.3", lw=1, label="history")
        if actual is not None:
            ax.plot(future_x, actual[:, d], color="0.3", lw=1, ls="--", label="actual")
        ax.plot(future_x, point[:, d], color="C0", lw=1.5, label="forecast")
        if low is not None:
            ax.fill_between(future_x, low[:, d], high[:, d], color="C0", alpha=0.25, lw=0,
                            label=f"{interval:.0%} interval")
        ax.set_ylabel(columns[d])
    axes[0, 0].legend(loc="upper left", fontsize=8, ncol=4)
    if title:
        axes[0, 0].set_title(title)
    figure.tight_layout()
    tmp = path + ".tmp.png"
    figure.savefig(tmp, dpi=110)
    plt.close(figure)
    os.replace(tmp, path)


def plot_backtest(model, data: Prepared, origin: int, scaling, config, path: str, title: str = "") -> None:
    """The forecast from one origin against what followed, with max(C, 3K) rows of history."""
    d, bt = config.data, config.backtest
    K, D = d.horizon, len(d.targets)
    out = predict(model, data.windows, [origin], scaling, 1, config.model.num_samples, bt.levels())
    start = max(0, origin - max(d.context, 3 * K))
    series = data.series
    x = series.times if series.times is not None else np.arange(len(series))
    low = high = None
    if out["quantiles"] is not None:
        low, high = bt.interval_of(out["quantiles"][0])
    plot_forecast(path, d.targets, x[start:origin], series.values[start:origin, :D], x[origin:origin + K],
                  out["point"][0], low, high, bt.interval, series.values[origin:origin + K, :D], title)
