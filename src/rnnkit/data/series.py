"""A time series from a CSV file for forecasting, checked first: a forecaster assumes one row per step of a
regular clock, and a file that breaks that quietly (a missing hour, a repeated day, "12,5" read as NaN) gives
a model that is wrong without saying so. Each problem names the file, the line (the header is line 1) or the
column, and the config key that fixes it:

    timestamps   present, readable (ISO dates and times, months like 1949-01, years like 1700 or 1700.0),
                 unique, increasing
    frequency    inferred (data.freq=auto) or given; every row must sit on its grid
    gaps         timestamps missing from the grid: an error, or rows inserted and filled (data.fill)
    values       numbers; empty cells and NA strings are missing (an error, or filled by data.fill);
                 other text and infinities are errors, never coerced

UTC offsets are kept; offsets that change within the file (daylight saving) become UTC, as a regular grid
needs one clock. Without a time column (data.time_column="") the rows are the steps. Files are .csv or .tsv,
possibly compressed (.gz, .bz2, .xz), with LF or CRLF line endings.
"""

import csv
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .labeled import OPENERS, open_text
from .text import DataError
from .timeline import FREQ_HINT, mean_spacing, offset_of

FILL_POLICIES = ("error", "interpolate", "ffill", "zero")
NA_STRINGS = frozenset({"", "na", "n/a", "#n/a", "nan", "-nan", "null", "none"})  # compared lowercased


@dataclass
class Series:
    """The columns asked for, one row per step of a regular grid, with the file line of each row."""

    path: str
    times: Optional[pd.DatetimeIndex]  # (T,); None when the file has no time column
    freq: str  # pandas offset alias as pandas writes it ("h", "MS", "YS-JAN"); "" without a time column
    columns: List[str]
    values: np.ndarray  # (T, D) float64, finite after the fill policy
    lines: np.ndarray  # (T,) int: the file line of each row; 0 for rows inserted to fill a gap
    report: List[str]  # one human line per thing that was filled

    def __len__(self) -> int:
        return len(self.values)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _listed(items, limit: int = 5) -> str:
    items = list(items)
    return ", ".join(str(i) for i in items[:limit]) + (", ..." if len(items) > limit else "")


def _lines(numbers) -> str:
    return ("line " if len(numbers) == 1 else "lines ") + _listed(numbers)


def _read_table(path: str, wanted: Sequence[Tuple[str, str]]) -> Tuple[Dict[str, pd.Series], np.ndarray]:
    """({column: its cells as stripped strings}, (T,) line of each row) for the (config key, column) pairs
    wanted; blank lines skipped, every row as wide as the header."""
    name = path.lower()
    for suffix in OPENERS:
        name = name.removesuffix(suffix)
    delimiter = "\t" if name.endswith((".tsv", ".tab")) else ","
    with open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader, [])]
            rows, lines, start = [], [], reader.line_num + 1
            for row in reader:
                if row:
                    if len(row) != len(header):
                        raise DataError(f"{path}:{start}: {len(row)} fields, the header has {len(header)}")
                    rows.append([cell.strip() for cell in row])
                    lines.append(start)
                start = reader.line_num + 1
        except csv.Error as error:
            raise DataError(f"{path}:{reader.line_num}: broken CSV row: {error}") from None
    if not header:
        raise DataError(f"{path}: the file is empty; expected a header row naming the columns")
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    for key, name in wanted:
        if name not in header:
            raise DataError(f"{path}:1: no column {name!r}; the header has {header} (choose with {key})")
    cells = {name: pd.Series([row[header.index(name)] for row in rows], dtype=object) for _, name in wanted}
    return cells, np.array(lines, np.int64)


def _parse_values(path: str, name: str, cells: pd.Series, lines: np.ndarray) -> np.ndarray:
    """(T,) float64 of one column, NaN where missing; any other text that is not a number is an error."""
    missing = cells.str.lower().isin(NA_STRINGS).to_numpy()
    numbers = pd.to_numeric(cells.where(~missing), errors="coerce").to_numpy(np.float64)
    for bad, problem in ((np.isnan(numbers) & ~missing, "is not a number"), (np.isinf(numbers), "is infinite")):
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{path}:{lines[i]}: column {name!r}: {cells.iloc[i]!r} {problem}; expected a number "
                            "with a '.' decimal point, or an empty cell or NA where the value is missing")
    return numbers


def _parse_times(path: str, name: str, cells: pd.Series, lines: np.ndarray) -> pd.DatetimeIndex:
    """The timestamps of one column; an empty or unreadable one is an error naming its line."""
    empty = (cells == "").to_numpy()
    if empty.any():
        raise DataError(f"{path}:{lines[np.argmax(empty)]}: column {name!r}: the timestamp is empty; every row "
                        "needs one (or set data.time_column=\"\" to use the row order)")
    if cells.str.fullmatch(r"\d+(\.0*)?").all():
        years = cells.astype(float).astype(int)
        if years.between(1, 9999).all():  # years (sunspots), not nanoseconds since 1970
            return pd.DatetimeIndex(np.array([f"{y:04d}" for y in years], dtype="datetime64[us]"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": bad rows are reported below
        try:
            parsed = pd.to_datetime(cells, errors="coerce")
        except ValueError:  # UTC offsets that change within the file
            parsed = pd.to_datetime(cells, errors="coerce", utc=True)
        if parsed.isna().any():  # ISO forms that differ from the first row's, e.g. midnight written as a date
            iso = pd.to_datetime(cells, errors="coerce", format="ISO8601", utc=parsed.dt.tz is not None)
            parsed = iso if not iso.isna().any() else parsed
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        like = f" in the format of line {lines[0]} ({cells.iloc[0]!r})" if i else ""
        raise DataError(f"{path}:{lines[i]}: column {name!r}: cannot read {cells.iloc[i]!r} as a timestamp{like}; "
                        "expected dates like 2020-01-31 or 2016-07-01 00:00:00, months like 1949-01 or years "
                        "like 1700 (or data.time_column=\"\" to use the row order)")
    return pd.DatetimeIndex(parsed)


def _check_order(path: str, name: str, times: pd.DatetimeIndex, lines: np.ndarray) -> None:
    """Each timestamp once, oldest first."""
    duplicated = times.duplicated()
    if duplicated.any():
        j = int(np.argmax(duplicated))
        i = int(np.flatnonzero(times == times[j])[0])
        raise DataError(f"{path}: lines {lines[i]} and {lines[j]} have the same timestamp {times[j]}; each step "
                        "must appear once: remove or merge the duplicate rows")
    back = np.flatnonzero(times[1:] < times[:-1])
    if back.size:
        j = int(back[0])
        raise DataError(f"{path}:{lines[j + 1]}: timestamp {times[j + 1]} comes after line {lines[j]}'s "
                        f"{times[j]} ({_count(back.size, 'row')} out of order); the file must be sorted by "
                        f"time, oldest first: sort it by column {name!r}")


def _calendar_alias(times: pd.DatetimeIndex, months: int) -> Optional[str]:
    """MS/ME, QS-/QE-, YS-/YE- for timestamps at midnight on the first or on the last day of a month."""
    if not (times == times.normalize()).all():
        return None
    kind = "S" if (times.day == 1).all() else "E" if times.is_month_end.all() else None
    if kind is None:
        return None
    if months == 1:
        return "M" + kind
    month = times[0].month
    if months == 3:  # pandas names quarters by the first start month (JAN-MAR) or last end month (OCT-DEC)
        month = (month - 1) % 3 + 1 if kind == "S" else 12 - (12 - month) % 3
    return f"{'Q' if months == 3 else 'Y'}{kind}-{pd.Timestamp(2000, month, 1).strftime('%b').upper()}"


def _infer_offset(path: str, times: pd.DatetimeIndex):
    """infer_freq on the whole index; with gaps, the most common spacing, which must cover half the steps."""
    if len(times) < 3:
        raise DataError(f"{path}: {_count(len(times), 'row')} are too few to infer the frequency; set data.freq "
                        f"(for example {FREQ_HINT})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 warns that infer_freq will return an offset: both suit to_offset
        alias = pd.infer_freq(times)
    if alias is not None:
        return to_offset(alias)
    deltas = pd.Series(times[1:] - times[:-1])
    step = deltas.value_counts().idxmax()
    days = step / pd.Timedelta(days=1)
    regular, alias = deltas == step, None
    for low, high, months in ((28, 31, 1), (89, 92, 3), (365, 366, 12)):  # calendar steps vary in length
        if low <= days <= high:
            regular = deltas.between(pd.Timedelta(days=low), pd.Timedelta(days=high))
            alias = _calendar_alias(times, months)
            break
    else:
        if days == 7:
            alias = "W-" + times[0].strftime("%a").upper()
        elif days == 1 and (times.day_of_week < 5).all() and times[0].day_of_week + (times[-1] - times[0]).days > 4:
            alias, regular = "B", deltas.isin([step, 3 * step])  # weekdays only, across a weekend
        else:
            alias = f"{int(days)}D" if days == int(days) else to_offset(step).freqstr
    if alias is None or regular.mean() < 0.5:
        raise DataError(f"{path}: cannot infer a regular frequency (the most common spacing, {step}, is "
                        f"{int(regular.sum())} of {len(deltas)} steps); set data.freq (for example {FREQ_HINT})")
    return to_offset(alias)


def _fill_gaps(path, times, values, lines, offset, inferred: bool, fill: str):
    """Check every row is on the grid from the first timestamp to the last; insert NaN rows for gaps."""
    freq = offset.freqstr
    how = " (inferred: set data.freq if that is not the spacing)" if inferred else " (data.freq)"
    if (times[-1] - times[0]) / mean_spacing(offset) > 2 * len(times) + 10:
        raise DataError(f"{path}: the {freq!r} grid{how} from {times[0]} to {times[-1]} would need more than twice "
                        f"the {len(times)} rows of the file; set data.freq to the spacing of the rows")
    grid = pd.date_range(times[0], times[-1], freq=offset)
    at = grid.get_indexer(times)
    off = np.flatnonzero(at < 0)
    if off.size:
        raise DataError(f"{path}: {_count(off.size, 'row')} not on the {freq!r} grid{how} that starts at line "
                        f"{lines[0]} ({times[0]}): {_lines(lines[off])}")
    steps = np.diff(at)
    gaps = np.flatnonzero(steps > 1)
    if not gaps.size:
        return times, values, lines, []
    missing = _count(int((steps[gaps] - 1).sum()), "timestamp")
    if fill == "error":
        around = _listed(f"after line {lines[i]} ({times[i]}) {steps[i] - 1} missing before line {lines[i + 1]} "
                         f"({times[i + 1]})" for i in gaps)
        raise DataError(f"{path}: {_count(gaps.size, 'gap')} ({missing} missing) in the {freq!r} grid{how}: "
                        f"{around}; fill them with data.fill=interpolate|ffill|zero, or fix the file")
    full = np.full((len(grid), values.shape[1]), np.nan)  # (T', D)
    full[at] = values
    full_lines = np.zeros(len(grid), np.int64)
    full_lines[at] = lines
    report = (f"{path}: {_count(gaps.size, 'gap')} ({missing}) filled by {fill}: "
              + _listed(f"after line {lines[i]} ({times[i]})" for i in gaps))
    return grid, full, full_lines, [report]


def _fill_values(path, columns, times, values, lines, fill: str):
    """Fill NaN (missing cells and inserted gap rows) by the policy; report the missing cells per column."""
    read = lines > 0
    report = []
    for d, name in enumerate(columns):
        if np.isnan(values[read, d]).all():
            raise DataError(f"{path}: column {name!r} has no values (all {read.sum()} rows are empty or NA); "
                            "drop it from data.targets or fill it in the file")
        missing = np.flatnonzero(np.isnan(values[:, d]) & read)
        if not missing.size:
            continue
        where = f"{_count(missing.size, 'missing value')} in {name}"
        if fill == "error":
            raise DataError(f"{path}: column {name!r}: {where} ({_lines(lines[missing])}); set "
                            "data.fill=interpolate|ffill|zero to fill them, or fix the file")
        report.append(f"{path}: {where} filled by {fill} ({_lines(lines[missing])})")
    if not np.isnan(values).any():
        return values, report
    frame = pd.DataFrame(values, index=times)
    if fill == "interpolate":  # np.interp holds the nearest value beyond the ends
        frame = frame.interpolate(method="linear" if times is None else "time", limit_direction="both")
    elif fill == "ffill":
        frame = frame.ffill().bfill()
    else:
        frame = frame.fillna(0.0)
    return frame.to_numpy(np.float64), report


def read_series(path: str, time_column: str, columns: Sequence[str], freq: str = "auto",
                fill: str = "error") -> Series:
    """The ``columns`` of the file at ``path`` on a regular grid of ``time_column``'s timestamps.

    freq "auto" (or "") infers the frequency; a given alias is checked against the rows. ``fill`` is one of
    FILL_POLICIES: "error" refuses gaps and missing values, the others fill them (linear in time, last value,
    zero) and say so in ``report``."""
    if fill not in FILL_POLICIES:
        raise DataError(f"data.fill={fill!r}: expected one of {', '.join(FILL_POLICIES)}")
    columns = list(columns)
    if not columns:
        raise DataError(f"{path}: no value columns asked for; set data.targets to one or more columns of the file")
    if len(set(columns)) < len(columns) or time_column in columns:
        raise DataError(f"{path}: the columns {columns} repeat a name or include the time column {time_column!r}; "
                        "list each value column once in data.targets")
    if not time_column and freq not in ("auto", ""):
        raise DataError(f"data.freq={freq!r} needs timestamps: set data.time_column (or data.freq=auto)")
    wanted = [("data.time_column", time_column)] * bool(time_column) + [("data.targets", c) for c in columns]
    cells, lines = _read_table(path, wanted)
    values = np.stack([_parse_values(path, name, cells[name], lines) for name in columns], axis=1)  # (T, D)
    times, report = None, []
    if time_column:
        times = _parse_times(path, time_column, cells[time_column], lines)
        _check_order(path, time_column, times, lines)
        inferred = freq in ("auto", "")
        offset = _infer_offset(path, times) if inferred else offset_of(freq)
        times, values, lines, report = _fill_gaps(path, times, values, lines, offset, inferred, fill)
        freq = offset.freqstr
    else:
        freq = ""
    values, filled = _fill_values(path, columns, times, values, lines, fill)
    return Series(path, times, freq, columns, values, lines, report + filled)
