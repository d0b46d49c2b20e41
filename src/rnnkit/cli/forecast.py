"""`rnnkit forecast`: the next K steps of a series, intervals, a plot, alerts."""

import csv
import os
import sys

from .common import error, load_run


def _write_rows(path, header, rows) -> None:
    """CSV to a file (written whole, then renamed) or to stdout."""
    def write(stream):
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)

    if not path or path == "-":
        write(sys.stdout)
        return
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        write(f)
    os.replace(tmp, path)


def forecast(args) -> int:
    from ..data import DataError
    from ..training.checkpoint import CheckpointError

    trained, failed = load_run(args, "forecast")
    if failed is not None:
        return failed
    try:
        if args.alerts:
            return _alerts(args, trained)
        from ..tasks.forecasting import forecast_file

        result = forecast_file(trained, args.data, args.future or "")
    except (DataError, CheckpointError, FileNotFoundError) as problem:
        return error(str(problem))
    d, bt = trained.config.data, trained.config.backtest
    levels, quantiles = result["levels"], result["quantiles"]
    header = ["time", "series", "forecast"] + ([f"q{q:g}" for q in levels] if quantiles is not None else [])
    rows = []
    for k, time in enumerate(result["times"]):
        for j, name in enumerate(d.targets):
            row = [str(time), name, f"{result['point'][k, j]:.6g}"]
            if quantiles is not None:
                row += [f"{v:.6g}" for v in quantiles[k, j]]
            rows.append(row)
    _write_rows(args.output, header, rows)
    if args.plot:
        from ..tasks.backtest import plot_forecast

        series = result["series"]
        history = max(d.context, 3 * d.horizon)
        x = series.times if series.times is not None else list(range(len(series)))
        low = high = None
        if quantiles is not None:
            low, high = bt.interval_of(quantiles)
        plot_forecast(args.plot, d.targets, x[-history:], series.values[-history:, :len(d.targets)],
                      result["times"], result["point"], low, high, bt.interval,
                      title=f"{os.path.basename(args.data)}: {d.horizon} steps ahead")
    if args.output or args.plot:
        print(f"forecast of {d.horizon} steps after {result['series'].times[-1] if result['series'].times is not None else len(result['series'])}"
              + (f" -> {args.output}" if args.output else "") + (f", plot {args.plot}" if args.plot else ""),
              file=sys.stderr)
    return 0


def _alerts(args, trained) -> int:
    from ..tasks.forecasting import alerts

    level = args.level if args.level is not None else 0.95
    result = alerts(trained, args.data, level)
    outside = result["outside"]
    _write_rows(args.output, ["time", "line", "series", "observed", "forecast", "low", "high"],
                [[r["time"], r["line"], r["series"], f"{r['observed']:.6g}", f"{r['forecast']:.6g}", f"{r['low']:.6g}",
                  f"{r['high']:.6g}"] for r in outside])
    rate = len(outside) / max(result["checked"], 1)
    print(f"alerts: {len(outside):,} of {result['checked']:,} observations ({rate:.1%}) outside their one-step-ahead "
          f"{level:.0%} interval (about {1 - level:.0%} expected when the model is calibrated); {result['rows']:,} rows "
          f"checked after the first {trained.config.data.context}", file=sys.stderr)
    return 0
