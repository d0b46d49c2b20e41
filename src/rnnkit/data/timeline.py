"""The time axis of a series: frequency aliases, the natural season, calendar features, the
timestamps after the last row, and the chronological split into train / validation / test."""

import re
from typing import List, Optional, Tuple

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .text import DataError

# Aliases that pandas 2.2 deprecated and pandas 3 rejects, still common in configs and older tutorials.
LEGACY_ALIASES = {"H": "h", "T": "min", "S": "s", "L": "ms", "U": "us", "N": "ns", "M": "ME", "Q": "QE",
                  "A": "YE", "Y": "YE", "AS": "YS", "BM": "BME", "BQ": "BQE", "BA": "BYE", "BY": "BYE",
                  "BAS": "BYS", "SM": "SME"}
FREQ_HINT = "h, 15min, D, B, W-SUN, MS, QS-JAN or YS-JAN"


def offset_of(freq: str):
    """The pandas offset of an alias, accepting the legacy spellings (H, T, M, A-DEC, ...)."""
    try:
        return to_offset(freq)
    except ValueError:
        pass
    match = re.fullmatch(r"(\d*)([A-Za-z]+)(-[A-Za-z]+)?", freq.strip())
    if match and match[2] in LEGACY_ALIASES:
        try:
            return to_offset(match[1] + LEGACY_ALIASES[match[2]] + (match[3] or ""))
        except ValueError:
            pass
    raise DataError(f"data.freq={freq!r}: not a pandas frequency; expected an offset alias such as {FREQ_HINT}")


def mean_spacing(offset) -> pd.Timedelta:
    """The average step: exact for hours and days, a calendar average for business days (7/5 days), months
    and years, over 480 steps (a multiple of 5, 12 and 4; in seconds, as 480 years overflow nanoseconds)."""
    steps = pd.date_range("2000-01-03", periods=481, freq=offset, unit="s")
    return (steps[-1] - steps[0]) / 480


def season_length(freq: str) -> int:
    """The natural seasonal period in steps: hourly 24, daily 7, business daily 5, weekly 52, monthly 12,
    quarterly 4, yearly 1, minutely 60, 15-minutely 96, "2h" 12; "" 1. It is the shortest of the minute,
    hour, day and week cycles that spans at least 5 steps (4 quarter-hours in an hour are too few to be a
    season, so 15-minute data gets the day), else the year."""
    if not freq:
        return 1
    step = mean_spacing(offset_of(freq)).total_seconds()
    for cycle in (60, 3600, 86400, 7 * 86400):
        if cycle / step >= 5:
            return round(cycle / step)
    return max(1, round(365.2425 * 86400 / step))


def calendar_features(times: pd.DatetimeIndex, freq: str) -> Tuple[np.ndarray, List[str]]:
    """(T, F) float32 sin/cos pairs of the cycles finer than a year that a step of ``freq`` resolves:
    hour of day (steps under a day), day of week (under a week), day of year (under 28 days), month of
    year (under a year). Yearly data, or no frequency, gives (T, 0). Pure functions of the timestamps,
    so they serve as known-future covariates on future_times."""
    if not freq:
        return np.zeros((len(times), 0), np.float32), []
    step, day = mean_spacing(offset_of(freq)), pd.Timedelta(days=1)
    cycles = []  # (name, phase in [0, 1))
    if step < day:
        cycles.append(("hour", (times.hour + times.minute / 60 + times.second / 3600) / 24))
    if step < 7 * day:
        cycles.append(("weekday", times.day_of_week / 7))  # Monday 0
    if step < 28 * day:
        cycles.append(("yearday", (times.day_of_year - 1) / (365 + times.is_leap_year)))
    if step < 365 * day:
        cycles.append(("month", (times.month - 1) / 12))
    columns, names = [], []
    for name, phase in cycles:
        angle = 2 * np.pi * np.asarray(phase, np.float64)
        columns += [np.sin(angle), np.cos(angle)]
        names += [f"{name}_sin", f"{name}_cos"]
    features = np.stack(columns, axis=1) if columns else np.zeros((len(times), 0))
    return features.astype(np.float32), names


def future_times(last: pd.Timestamp, freq: str, steps: int) -> pd.DatetimeIndex:
    """The ``steps`` timestamps of the ``freq`` grid after ``last``."""
    if not freq:
        raise DataError("future timestamps need a frequency: set data.time_column (and data.freq)")
    times = pd.date_range(start=last, periods=steps + 1, freq=offset_of(freq))
    return times[1:] if times[0] == last else times[:-1]  # date_range rolls an off-grid start forward


def _row_at(date: str, times: Optional[pd.DatetimeIndex], key: str, where: str) -> int:
    """The first row at or after ``date``, which must leave rows before it and from it on."""
    if times is None:
        raise DataError(f"{where}{key}={date!r} needs timestamps: set data.time_column, or split by data.train_size "
                        "and data.valid_size")
    try:
        stamp = pd.Timestamp(date)
    except ValueError:
        raise DataError(f"{where}{key}={date!r}: not a date; expected for example 2018-01-01") from None
    stamp = stamp.tz_localize(times.tz) if stamp.tz is None else stamp.tz_convert(times.tz)
    row = int(times.searchsorted(stamp))
    if not 0 < row < len(times):
        raise DataError(f"{where}{key}={date!r} is not inside the series, which runs from {times[0]} to "
                        f"{times[-1]} ({len(times)} rows); choose a date after the first row and up to the last")
    return row


def split_bounds(n: int, times: Optional[pd.DatetimeIndex], *, train: float = 0.7, valid: float = 0.1,
                 valid_start: str = "", test_start: str = "", path: str = "") -> Tuple[int, int]:
    """(train_end, valid_end): rows [0, train_end) train, [train_end, valid_end) validation, the rest test.

    train and valid are fractions of n (test gets the rest, possibly nothing) or row counts when above 1
    (ETTh1's standard split: train=8640, valid=2880); valid=0 means no validation rows. A date in valid_start / test_start overrides the
    bound it sets: that part starts at the first row at or after the date."""
    where = f"{path}: " if path else ""
    for key, value in (("data.train_size", train), ("data.valid_size", valid)):
        if not (0 < value <= 1 or value == int(value) > 1 or (value == 0 and key == "data.valid_size")):
            raise DataError(f"{where}{key}={value}: expected a fraction in (0, 1] or a whole count of rows")
    train_rows, valid_rows = (round(value * n) if value <= 1 else int(value) for value in (train, valid))
    train_end = _row_at(valid_start, times, "data.valid_start", where) if valid_start else train_rows
    if test_start:
        valid_end = _row_at(test_start, times, "data.test_start", where)
    elif train <= 1 and valid <= 1 and not valid_start:
        valid_end = round((train + valid) * n)  # cumulative, so that rounding twice cannot overshoot n
    else:
        valid_end = train_end + valid_rows
    settings = (f"data.train_size={train}, data.valid_size={valid}, data.valid_start={valid_start!r}, "
                f"data.test_start={test_start!r} on {n} rows")
    if train_end <= 0 or valid_end < train_end or (valid_end == train_end and valid != 0):
        raise DataError(f"{where}no {'training' if train_end <= 0 else 'validation'} rows from {settings}; each "
                        "part needs rows, and valid_start must come before test_start")
    if valid_end > n:
        raise DataError(f"{where}training and validation need {valid_end} rows, the series has {n} ({settings}); "
                        "lower data.train_size or data.valid_size (their fractions add up to at most 1)")
    return train_end, valid_end
