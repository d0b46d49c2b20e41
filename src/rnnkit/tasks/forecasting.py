"""Time-series forecasting as a task: a CSV series -> checks (frequency, gaps, missing values) ->
chronological split -> transform and standardization fitted on train -> windows -> Forecaster ->
Trainer -> a rolling-origin backtest next to the baselines; and a trained run loaded back to forecast.

Config sections (YAML or ``--set``): ``data`` (ForecastData), ``model`` (ForecasterConfig), ``train``
(TrainConfig) and ``backtest`` (BacktestConfig, backtest.py).
"""

import hashlib
import os
import sys
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np
import torch

from ..data import DataError
from ..data.batches import BucketBatches
from ..data.series import FILL_POLICIES, Series, read_series
from ..data.timeline import calendar_features, future_times, season_length, split_bounds
from ..data.windows import TRANSFORMS, Scaler, Windows, apply_transform, origins
from ..models.forecaster import Forecaster, ForecasterConfig
from ..training import checkpoint as ckpt
from ..training.config import to_dict
from ..training.trainer import TrainConfig, Trainer, to_device
from . import runs
from .contract import Flag, Report, need_data, whole
from .backtest import BacktestConfig, Prepared, backtest, fit_baselines, format_table, plot_backtest

# the task contract (tasks/contract.py)
NAME = "forecast"
SUMMARY = "time series forecasting"
RUNS = "forecasting"
DOCS = "forecasting.md"  # its page in docs/, which documents every key of its config
RATE = "values_s"  # predicted values (windows x K x D) per second
VERB = "forecast"
TRAIN_FLAGS = (
    Flag("--data", "train", "a CSV series, split in time (data.train_size, data.valid_size; the rest is the test "
         "span)", "FILE"),
    Flag("--target", "targets", "a column to forecast (repeat for several)", "NAME", repeat=True),
    Flag("--time-column", "time_column", "the timestamps' column (default: date; '' for none)", "NAME"),
    Flag("--covariates", "past_covariates", "past covariates (observed up to the forecast origin)", "NAME",
         many=True),
    Flag("--future-covariates", "future_covariates", "covariates known in advance (calendar features are added "
         "from the timestamps anyway)", "NAME", many=True),
    Flag("--horizon", "horizon", "steps to forecast (default 24)", "K", whole(1)),
    Flag("--context", "context", "past steps the model sees (default 96)", "C", whole(1)),
)
EVALUATE_FLAGS = ()


@dataclass(frozen=True)
class ForecastData:
    train: str = ""                     # the series: a CSV (or TSV) file with a header (required)
    time_column: str = "date"           # timestamps; "" = rows are plain steps (no calendar, no gap checks)
    targets: Tuple[str, ...] = ()       # the columns to forecast (required; several = multivariate)
    past_covariates: Tuple[str, ...] = ()    # observed only up to the forecast origin
    future_covariates: Tuple[str, ...] = ()  # known in advance for the horizon (given with --future)
    calendar: bool = True               # add hour/weekday/day-of-year/month sin-cos features as known covariates
    freq: str = "auto"                  # pandas offset alias ("h", "D", "MS", ...) or auto (inferred, checked)
    fill: str = "error"                 # gaps and missing values: error, interpolate, ffill or zero
    transform: str = "none"             # of the targets before scaling: none, log, log1p or sqrt
    scale: bool = True                  # standardize every column with the training rows' mean and std
    context: int = 96                   # C: past steps the model sees
    horizon: int = 24                   # K: steps forecast at once
    train_size: float = 0.7             # a fraction of the rows, or a row count when > 1
    valid_size: float = 0.1             # the same (0 = no validation: evaluated on training windows)
    test_size: float = 0.0              # the same for the test span after validation; 0 = all the rows left
    valid_start: str = ""               # or split by dates: the first validation timestamp ...
    test_start: str = ""                # ... and the first test timestamp (rows after validation)
    stride: int = 1                     # steps between training windows
    batch_size: int = 32
    eval_batch_size: int = 1024

    def __post_init__(self):
        def fail(name, allowed):
            raise ValueError(f"data.{name}={getattr(self, name)!r}: expected {allowed}")

        if self.fill not in FILL_POLICIES:
            fail("fill", f"one of {FILL_POLICIES}")
        if self.transform not in TRANSFORMS:
            fail("transform", f"one of {TRANSFORMS}")
        for name in ("context", "horizon", "stride", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                fail(name, "an integer >= 1")
        if self.train_size <= 0 or self.valid_size < 0 or self.test_size < 0:
            fail("train_size" if self.train_size <= 0 else "valid_size" if self.valid_size < 0 else "test_size",
                 "a fraction in (0, 1) or a row count")
        names = list(self.targets) + list(self.past_covariates) + list(self.future_covariates)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"data: column(s) {repeated} named twice among targets and covariates")
        if self.time_column and self.time_column in names:
            raise ValueError(f"data.time_column={self.time_column!r} is also a target or covariate")


@dataclass(frozen=True)
class RunConfig:
    train: TrainConfig
    data: ForecastData = field(default_factory=ForecastData)
    model: ForecasterConfig = field(default_factory=ForecasterConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)


def split(d: ForecastData, series: Series, path: str) -> Tuple[int, int, int]:
    """(train_end, valid_end, test_end): rows [0, train_end) train, then validation, then test."""
    n = len(series)
    train_end, valid_end = split_bounds(n, series.times, train=d.train_size, valid=d.valid_size,
                                        valid_start=d.valid_start, test_start=d.test_start, path=path)
    if not d.test_size:
        return train_end, valid_end, n
    test_end = valid_end + int(d.test_size if d.test_size > 1 else round(d.test_size * n))
    if test_end > n:
        raise DataError(f"{path}: data.test_size={d.test_size:g} asks for rows up to {test_end}, but the series has {n}")
    return train_end, valid_end, test_end


def values_sha256(series: Series) -> str:
    return hashlib.sha256(np.ascontiguousarray(series.values).tobytes()).hexdigest()


class Scaling:
    """The fitted preparation of the columns: transform + scaler for the targets, a scaler for the
    covariates; what a trained run needs to prepare new data the same way."""

    def __init__(self, transform: str, targets: Scaler, covariates: Scaler):
        self.transform, self.targets, self.covariates = transform, targets, covariates

    @classmethod
    def fit(cls, d: ForecastData, series: Series, train_end: int) -> "Scaling":
        D = len(d.targets)
        y = apply_transform(d.transform, series.values[:, :D], d.targets, series.path, series.lines)
        return cls(d.transform, Scaler.fit(y[:train_end], d.scale), Scaler.fit(series.values[:train_end, D:], d.scale))

    def to_json(self) -> dict:
        return {"transform": self.transform, "targets": self.targets.to_json(),
                "covariates": self.covariates.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> "Scaling":
        return cls(data["transform"], Scaler.from_json(data["targets"]), Scaler.from_json(data["covariates"]))


def prepare(d: ForecastData, series: Series, scaling: Scaling, horizon_times=None,
            future_values: Optional[np.ndarray] = None) -> Prepared:
    """Scaled arrays and windows for a series read with d's columns. ``horizon_times`` (and the user's
    ``future_values`` (K, Ff)) extend the known covariates past the end, for a forecast."""
    D, Fp = len(d.targets), len(d.past_covariates)
    transformed = apply_transform(d.transform, series.values[:, :D], d.targets, series.path, series.lines)
    targets = scaling.targets.transform(transformed)                                     # (T, D)
    covariates = scaling.covariates.transform(series.values[:, D:])                       # (T, Fp + Ff)
    past, known = covariates[:, :Fp], covariates[:, Fp:]
    if horizon_times is not None:
        future = np.zeros((len(horizon_times), known.shape[1]))
        if future_values is not None:
            future = scaling.covariates.transform(np.concatenate([np.zeros((len(future_values), Fp)), future_values],
                                                                 1))[:, Fp:]
        known = np.concatenate([known, future])
    if d.calendar and series.times is not None:
        times = series.times if horizon_times is None else series.times.append(horizon_times)
        known = np.concatenate([known, calendar_features(times, series.freq)[0]], 1)
    return Prepared(series, transformed, targets, Windows(targets, past, known, d.context, d.horizon))


class Task:
    """Everything the CLI needs for a forecasting run, built from a RunConfig."""

    def __init__(self, config: RunConfig, scaling: Optional[Scaling] = None, expected_sha256: Optional[str] = None):
        d = config.data
        if not d.train:
            raise DataError("no series: give --data FILE (or data.train)")
        if not d.targets:
            raise DataError("no target column: give --target NAME (or data.targets)")
        columns = list(d.targets) + list(d.past_covariates) + list(d.future_covariates)
        self.series = read_series(d.train, d.time_column, columns, d.freq, d.fill)
        self.notes: List[str] = list(self.series.report)
        self.sha256 = values_sha256(self.series)
        if expected_sha256 and self.sha256 != expected_sha256:
            raise DataError(f"{d.train}: the series changed since this run started")
        self.train_end, self.valid_end, self.test_end = split(d, self.series, d.train)
        self.scaling = scaling or Scaling.fit(d, self.series, self.train_end)
        self.data = prepare(d, self.series, self.scaling)
        C, K = d.context, d.horizon
        self.train_origins = origins(0, self.train_end, C, K, d.stride)
        if not self.train_origins:
            raise DataError(f"{d.train}: the training span ({self.train_end} rows) is shorter than data.context + "
                            f"data.horizon = {C + K}: lower them or give more training rows")
        self.valid_origins = origins(self.train_end, self.valid_end, C, K)
        self.test_origins = origins(self.valid_end, self.test_end, C, K, config.backtest.stride)
        if self.valid_end > self.train_end and not self.valid_origins:
            raise DataError(f"{d.train}: the validation span ({self.valid_end - self.train_end} rows) is shorter "
                            f"than data.horizon = {K}: enlarge data.valid_size or shorten the horizon")
        if not self.valid_origins:  # no validation rows: watch the most recent training windows instead
            self.valid_origins = self.train_origins[-min(len(self.train_origins), 1024):]
            self.notes.append("no validation span (data.valid_size=0): evaluations use the last training windows")
        self.season = config.backtest.season or season_length(self.series.freq)
        windows = self.data.windows
        known = windows.known.shape[1]
        self.config = config
        torch.manual_seed(config.train.seed)
        self.model = runs.build_within_memory(
            lambda: Forecaster(config.model, len(d.targets), C, K, windows.covariates.shape[1], known))
        self.batches = BucketBatches([1] * len(self.train_origins),
                                     lambda rows: windows.batch([self.train_origins[i] for i in rows]),
                                     d.batch_size, seed=config.train.seed + 1, pool=1)

    @property
    def train_size(self) -> int:
        return len(self.train_origins)

    def describe(self) -> str:
        d, m, s = self.config.data, self.config.model, self.series
        params = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        spans = f"train {self.train_end:,}, valid {self.valid_end - self.train_end:,}, test {self.test_end - self.valid_end:,}"
        return (f"forecast: {d.train}: {len(s):,} rows{f' every {s.freq}' if s.freq else ''} ({spans}); "
                f"targets {', '.join(d.targets)}; C={d.context}, K={d.horizon}; {len(self.train_origins):,} training "
                f"windows; {m.kind} {m.cell} {m.num_layers}x{m.hidden_size}, likelihood {m.likelihood}, "
                f"{params:,} parameters, path {self.model.rnn.path}")

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Loss over every validation window; for a direct model also MSE and MAE of its mean (scaled units)."""
        model, windows = self.model, self.data.windows
        model.eval()
        total, count, squared, absolute, values = 0.0, 0, 0.0, 0.0, 0
        size, device = self.config.data.eval_batch_size, next(model.parameters()).device
        for start in range(0, len(self.valid_origins), size):
            batch = to_device(windows.batch(self.valid_origins[start:start + size]), device)
            loss, n, mean = model.loss_and_mean(batch)
            total, count = total + float(loss) * n, count + n
            if mean is not None:
                error = mean - batch["future"]
                squared, absolute, values = squared + float((error ** 2).sum()), absolute + float(error.abs().sum()), \
                    values + error.numel()
        model.train()
        result = {"loss": total / count, "windows": len(self.valid_origins)}
        if values:
            result.update(mse=squared / values, mae=absolute / values)
        return result

    def meta(self) -> dict:
        return {"task": NAME, "config": to_dict(self.config), "scaling": self.scaling.to_json(),
                "freq": self.series.freq, "season": self.season, "sha256": self.sha256,
                "features": {"past": self.model.past_features, "known": self.model.future_features},
                "split": {"train_end": self.train_end, "valid_end": self.valid_end}}

    def spans(self) -> List[Tuple[str, List[int]]]:
        found = [("valid", origins(self.train_end, self.valid_end, self.config.data.context, self.config.data.horizon,
                                   self.config.backtest.stride)), ("test", self.test_origins)]
        return [(name, o) for name, o in found if o]

    def backtest(self) -> dict:
        """The rolling-origin backtest of the current weights and the baselines on each span."""
        bt = self.config.backtest
        baselines = fit_baselines(self.data, self.train_end, self.season, bt)
        return {name: backtest(self.model, self.data, span, self.train_end, self.season, bt, self.scaling,
                               self.config.data.eval_batch_size, self.config.model.num_samples, baselines)
                for name, span in self.spans()}

    def trainer(self, run_dir: str, callbacks=()) -> Trainer:
        return Trainer(self.model, self.batches, self.evaluate, self.config.train, run_dir, self.meta(), callbacks,
                       evaluate_final=self.backtest)


# --- the CLI's view of this task ---------------------------------------------------------------------
def format_eval(record: dict) -> str:
    extra = f", MSE {record['mse']:.4f}, MAE {record['mae']:.4f}" if "mse" in record else ""
    return f"step {record['step']}: valid loss {record['loss']:.4f}{extra}{'  (best)' if record['improved'] else ''}"


def finish(task: Task, run_dir: str, summary: dict) -> List[str]:
    """After training: the backtest tables, report.json and backtest.png in the run directory."""
    final = summary["final"]
    if not final:
        return []
    report = {name: final[name] for name in ("valid", "test") if name in final}
    ckpt.write_json_atomic(os.path.join(run_dir, "report.json"), report)
    lines = []
    for name, result in report.items():
        lines += [f"{name}: rolling-origin backtest, {result['origins']:,} origins, horizon {task.config.data.horizon}"]
        lines += format_table(result)
    last_span = task.spans()[-1]
    plot_backtest(task.model, task.data, last_span[1][-1], task.scaling, task.config,
                  os.path.join(run_dir, "forecast.png"), title=f"{os.path.basename(os.path.abspath(run_dir))}: "
                  f"{last_span[0]}, last window")
    return lines + [f"report.json, forecast.png in {run_dir}"]


def restore(meta: dict) -> dict:
    return {"scaling": Scaling.from_json(meta["scaling"]), "expected_sha256": meta["sha256"]}


def build_model(config: RunConfig, meta: dict) -> Forecaster:
    d = config.data
    past, known = meta["features"]["past"], meta["features"]["known"]  # covariate widths, calendar included
    return Forecaster(config.model, len(d.targets), d.context, d.horizon, past, known)


# --- a trained run ---------------------------------------------------------------------------------
@dataclass
class TrainedForecaster:
    model: Forecaster
    scaling: Scaling
    config: RunConfig
    freq: str
    season: int
    checkpoint: str


def load_trained(path: str, which: str = "best") -> TrainedForecaster:
    loaded = runs.load(path, which, sys.modules[__name__])
    meta = loaded.meta
    with runs.reading(loaded.checkpoint):
        scaling, freq, season = Scaling.from_json(meta["scaling"]), meta["freq"], int(meta["season"])
    return TrainedForecaster(loaded.model, scaling, loaded.config, freq, season, loaded.checkpoint)


def read_new(trained: TrainedForecaster, path: str) -> Series:
    """A new file with the run's columns, at the run's frequency."""
    d = trained.config.data
    columns = list(d.targets) + list(d.past_covariates) + list(d.future_covariates)
    series = read_series(path, d.time_column, columns, trained.freq or "auto", d.fill)
    if len(series) < d.context:
        raise DataError(f"{path}: {len(series)} rows, but the model needs data.context = {d.context} rows of history")
    return series


def read_future(trained: TrainedForecaster, path: str, times) -> np.ndarray:
    """The known-future covariates (K, Ff) for the horizon's timestamps, from --future."""
    d = trained.config.data
    future = read_series(path, d.time_column, list(d.future_covariates), trained.freq or "auto", "error")
    if len(future) < d.horizon or (times is not None and not future.times[:d.horizon].equals(times)):
        expected = f"{times[0]} .. {times[-1]}" if times is not None else f"{d.horizon} rows"
        raise DataError(f"{path}: expected the future covariates {list(d.future_covariates)} for the "
                        f"{d.horizon} steps after the history ({expected})")
    return future.values[:d.horizon]


def forecast_file(trained: TrainedForecaster, path: str, future_path: str = "") -> dict:
    """The forecast of the K steps after the file's last row: {"times", "point" (K, D), "levels",
    "quantiles" (K, D, Q) or None, "series", "data"}."""
    from .backtest import predict

    d, bt = trained.config.data, trained.config.backtest
    series = read_new(trained, path)
    times = future_times(series.times[-1], series.freq, d.horizon) if series.times is not None else None
    future = None
    if d.future_covariates:
        if not future_path:
            raise DataError(f"this model uses future covariates {list(d.future_covariates)}: give their values for "
                            f"the {d.horizon} forecast steps with --future FILE")
        future = read_future(trained, future_path, times)
    horizon_times = times if times is not None else np.arange(len(series), len(series) + d.horizon)
    data = prepare(d, series, trained.scaling, horizon_times, future)
    out = predict(trained.model, data.windows, [len(series)], trained.scaling, 1, trained.config.model.num_samples,
                  bt.levels())
    return {"times": horizon_times, "point": out["point"][0], "levels": bt.levels(),
            "quantiles": None if out["quantiles"] is None else out["quantiles"][0], "series": series, "data": data}


def alerts(trained: TrainedForecaster, path: str, level: float, batch_size: int = 1024) -> dict:
    """One-step-ahead intervals at ``level`` for every row after the first C (each from the rows
    before it only); the observations outside them. {"checked", "outside": [records], "level"}."""
    from .backtest import predict

    d, m = trained.config.data, trained.config.model
    if not m.probabilistic:
        raise DataError("alerts need a probabilistic model (model.likelihood=gaussian or student_t); this "
                        "run's model gives point forecasts only")
    series = read_new(trained, path)
    horizon_times = None
    last = len(series) - 1
    if not d.future_covariates:  # calendar covariates can be computed past the end: every row is checked
        horizon_times = (future_times(series.times[-1], series.freq, d.horizon) if series.times is not None
                         else np.arange(len(series), len(series) + d.horizon))
    else:
        last = len(series) - d.horizon
    data = prepare(d, series, trained.scaling, horizon_times)
    low_q, high_q = (1 - level) / 2, 1 - (1 - level) / 2
    checked = list(range(d.context, last + 1))
    if not checked:
        raise DataError(f"{path}: no row to check after the first data.context = {d.context} rows")
    out = predict(trained.model, data.windows, checked, trained.scaling, batch_size, m.num_samples, [low_q, high_q])
    q = out["quantiles"][:, 0]                                                # (W, D, 2) one step ahead
    observed = series.values[checked, :len(d.targets)]                        # (W, D)
    outside = []
    for w, d_ in zip(*np.nonzero((observed < q[..., 0]) | (observed > q[..., 1]))):
        row = checked[w]
        outside.append({"time": str(series.times[row]) if series.times is not None else int(row),
                        "line": int(series.lines[row]), "series": d.targets[d_], "observed": float(observed[w, d_]),
                        "low": float(q[w, d_, 0]), "high": float(q[w, d_, 1]),
                        "forecast": float(out["point"][w, 0, d_])})
    return {"checked": len(checked) * len(d.targets), "outside": outside, "level": level, "rows": len(checked)}


def evaluate_file(trained: TrainedForecaster, path: str) -> dict:
    """The run's backtest (its split, its baselines) on another version of the series."""

    d = trained.config.data
    series = read_new(trained, path)
    train_end, valid_end, test_end = split(d, series, path)
    data = prepare(d, series, trained.scaling)
    stride = trained.config.backtest.stride
    spans = [("valid", origins(train_end, valid_end, d.context, d.horizon, stride)),
             ("test", origins(valid_end, test_end, d.context, d.horizon, stride))]
    bt = trained.config.backtest
    baselines = fit_baselines(data, train_end, trained.season, bt)
    return {name: backtest(trained.model, data, o, train_end, trained.season, bt, trained.scaling, d.eval_batch_size,
                           trained.config.model.num_samples, baselines)
            for name, o in spans if o}


def evaluate(path: str, which: str, data: str, batch_size: Optional[int] = None) -> Report:
    """The run's rolling-origin backtest, next to its baselines, on another version of the series."""
    data = need_data(data, NAME, path)
    trained = load_trained(path, which)
    with torch.random.fork_rng():  # a probabilistic forecast's sample-based scores (CRPS), the same every time
        torch.manual_seed(trained.config.train.seed)
        report = evaluate_file(trained, data)
    if not report:
        raise DataError(f"{data}: no validation or test window under the run's split")
    lines = []
    for name, result in report.items():
        lines.append(f"{data}: {name}, {result['origins']:,} origins, horizon {trained.config.data.horizon} "
                     f"({os.path.basename(trained.checkpoint)})")
        lines += format_table(result)
    return Report({"data": data, "checkpoint": trained.checkpoint, **report}, lines, [])
