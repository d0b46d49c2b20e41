"""Time series from CSV: the timestamp formats and frequencies that are recognised, how gaps and missing values
are filled, calendar features, future timestamps and chronological splits, and the error a user sees for each
kind of bad input, naming the file and the line or column."""

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.series import read_series
from rnnkit.data.timeline import calendar_features, future_times, season_length, split_bounds
from rnnkit.data.text import DataError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # ../shared/data from the repo root


def write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return str(path)


def table(stamps, values, header="t,x"):
    return header + "\n" + "".join(f"{s},{v}\n" for s, v in zip(stamps, values))


def test_hourly_file_keeps_columns_in_the_order_asked(tmp_path):
    path = write(tmp_path / "d.csv", "date,a,b\n2016-07-01 00:00:00,1,10\n2016-07-01 01:00:00,2,20\n"
                                     "2016-07-01 02:00:00,3.5,30\n")
    series = read_series(path, "date", ["b", "a"])
    assert series.freq == "h" and len(series) == 3 and series.columns == ["b", "a"]
    assert series.values.dtype == np.float64 and series.values.tolist() == [[10, 1], [20, 2], [30, 3.5]]
    assert series.lines.tolist() == [2, 3, 4] and series.report == []
    assert series.times[2] == pd.Timestamp("2016-07-01 02:00")


def test_midnight_written_as_a_date_among_times(tmp_path):
    path = write(tmp_path / "d.csv", table(["2020-01-01", "2020-01-01 01:00", "2020-01-01 02:00:00"], [1, 2, 3]))
    assert read_series(path, "t", ["x"]).times[0] == pd.Timestamp("2020-01-01 00:00")


def test_monthly_months_with_quotes_and_crlf_like_the_airline_file(tmp_path):
    path = write(tmp_path / "d.csv", '"Month","Passengers"\r\n"1949-01",112\r\n"1949-02",118\r\n"1949-03",132')
    series = read_series(path, "Month", ["Passengers"])
    assert series.freq == "MS" and series.times[1] == pd.Timestamp("1949-02-01")
    assert series.values[:, 0].tolist() == [112, 118, 132] and series.lines.tolist() == [2, 3, 4]


@pytest.mark.parametrize("years", [["1700", "1701", "1702"], ["1700.0", "1701.0", "1702.0"], ["1500", "1501", "1502"]])
def test_integer_and_float_years_are_years_not_nanoseconds(tmp_path, years):
    series = read_series(write(tmp_path / "d.csv", table(years, [5, 11, 16])), "t", ["x"])
    assert series.freq == "YS-JAN" and [t.year for t in series.times] == [int(float(y)) for y in years]


@pytest.mark.parametrize("start, freq, expected", [
    ("2020-01-01 00:00", "h", "h"), ("2020-01-01 00:00", "15min", "15min"), ("2020-01-31", "D", "D"),
    ("2020-01-06", "B", "B"), ("2020-01-05", "W-SUN", "W-SUN"), ("2020-01-01", "MS", "MS"),
    ("2020-01-31", "ME", "ME"), ("2020-01-01", "QS-JAN", "QS-JAN"), ("2020-01-01", "YS-JAN", "YS-JAN"),
])
def test_inferred_frequency_with_and_without_a_gap(tmp_path, start, freq, expected):
    stamps = pd.date_range(start, periods=8, freq=freq)
    text = [str(t) if freq in ("h", "15min") else str(t.date()) for t in stamps]  # date and time, or ISO dates
    # an alias that draws the same grid passes: pandas versions name quarter starts from January QS-JAN or QS-OCT
    assert same_grid(read_series(write(tmp_path / "a.csv", table(text, range(8))), "t", ["x"]).freq, expected, start)
    gappy = text[:3] + text[5:]  # infer_freq fails; the most common spacing decides
    series = read_series(write(tmp_path / "b.csv", table(gappy, range(6))), "t", ["x"], fill="interpolate")
    assert same_grid(series.freq, expected, start) and len(series) == 8
    assert series.lines.tolist() == [2, 3, 4, 0, 0, 5, 6, 7]


def same_grid(freq, expected, start):
    return freq == expected or pd.date_range(start, periods=12, freq=freq).equals(
        pd.date_range(start, periods=12, freq=expected))


def test_tsv_compressed_and_no_time_column(tmp_path):
    tsv = write(tmp_path / "d.tsv", "t\tx\n2020-01-01\t1\n2020-01-02\t2\n2020-01-03\t3\n")
    assert read_series(tsv, "t", ["x"]).freq == "D"
    with gzip.open(tmp_path / "d.csv.gz", "wt", encoding="utf-8") as f:
        f.write("x,y\n1,2\n\n3,4\n")  # the blank line is skipped but counted
    steps = read_series(str(tmp_path / "d.csv.gz"), "", ["y", "x"])
    assert steps.times is None and steps.freq == "" and steps.lines.tolist() == [2, 4]
    assert steps.values.tolist() == [[2, 1], [4, 3]]


def test_given_frequency_is_checked_and_written_as_pandas_does(tmp_path):
    path = write(tmp_path / "d.csv", table(["2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 02:00"], [1, 2, 3]))
    assert read_series(path, "t", ["x"], freq="H").freq == "h"  # the legacy alias is accepted
    with pytest.raises(DataError, match=r"d\.csv: 1 row not on the '2h' grid \(data\.freq\) that starts at line 2 "
                                        r"\(2020-01-01 00:00:00\): line 3$"):
        read_series(path, "t", ["x"], freq="2h")
    with pytest.raises(DataError, match=r"the 'min' grid \(data\.freq\) from .* would need more than twice the 3 rows"):
        read_series(path, "t", ["x"], freq="min", fill="zero")
    with pytest.raises(DataError, match=r"data\.freq='fortnightly': not a pandas frequency"):
        read_series(path, "t", ["x"], freq="fortnightly")


def test_timezone_offsets_are_kept_and_changing_offsets_become_utc(tmp_path):
    fixed = write(tmp_path / "a.csv", table(["2020-01-01 00:00+01:00", "2020-01-01 01:00+01:00",
                                             "2020-01-01 02:00+01:00"], [1, 2, 3]))
    assert str(read_series(fixed, "t", ["x"]).times.tz) == "UTC+01:00"
    dst = write(tmp_path / "b.csv", table(["2020-03-29 00:00+01:00", "2020-03-29 01:00+01:00",
                                           "2020-03-29 03:00+02:00", "2020-03-29 04:00+02:00"], [1, 2, 3, 4]))
    series = read_series(dst, "t", ["x"])
    assert str(series.times.tz) == "UTC" and series.freq == "h" and len(series) == 4


GAPPY = table(["2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 04:00", "2020-01-01 05:00"], [1, 2, 8, 10])


@pytest.mark.parametrize("fill, inserted", [("interpolate", [4, 6]), ("ffill", [2, 2]), ("zero", [0, 0])])
def test_gaps_are_inserted_and_filled_by_each_policy(tmp_path, fill, inserted):
    series = read_series(write(tmp_path / "d.csv", GAPPY), "t", ["x"], fill=fill)
    assert series.values[:, 0].tolist() == [1, 2] + inserted + [8, 10]
    assert series.lines.tolist() == [2, 3, 0, 0, 4, 5]
    assert series.report == [f"{tmp_path / 'd.csv'}: 1 gap (2 timestamps) filled by {fill}: "
                             "after line 3 (2020-01-01 01:00:00)"]


def test_gaps_are_an_error_by_default_naming_the_lines_around_them(tmp_path):
    with pytest.raises(DataError, match=r"d\.csv: 1 gap \(2 timestamps missing\) in the 'h' grid \(inferred.*: "
                                        r"after line 3 \(2020-01-01 01:00:00\) 2 missing before line 4 "
                                        r"\(2020-01-01 04:00:00\); fill them with data\.fill=interpolate\|ffill\|zero"):
        read_series(write(tmp_path / "d.csv", GAPPY), "t", ["x"])


@pytest.mark.parametrize("fill, expected", [("interpolate", [2, 2, 4, 6, 6]), ("ffill", [2, 2, 2, 6, 6]),
                                            ("zero", [0, 2, 0, 6, 0])])
def test_missing_values_are_filled_by_each_policy(tmp_path, fill, expected):
    path = write(tmp_path / "d.csv", "t,x\n2020-01-01,\n2020-01-02,2\n2020-01-03,NA\n2020-01-04,6\n2020-01-05,nan\n")
    series = read_series(path, "t", ["x"], fill=fill)
    assert series.values[:, 0].tolist() == expected and series.lines.tolist() == [2, 3, 4, 5, 6]
    assert series.report == [f"{path}: 3 missing values in x filled by {fill} (lines 2, 4, 6)"]


def test_interpolation_is_linear_in_time_without_timestamps_by_row(tmp_path):
    path = write(tmp_path / "d.csv", "x,y\n0,1\n,1\n,1\n9,1\n")
    assert read_series(path, "", ["x", "y"], fill="interpolate").values[:, 0].tolist() == [0, 3, 6, 9]


@pytest.mark.parametrize("content, columns, message", [
    ("t,x\n2020-01-01,1\n", ["y"], r"d\.csv:1: no column 'y'; the header has \['t', 'x'\] \(choose with data\.targets"),
    ("time,x\n2020-01-01,1\n", ["x"], r"d\.csv:1: no column 't'; .*data\.time_column"),
    ("t,x\n2020-01-01,1\nabc,2\n", ["x"], r"d\.csv:3: column 't': cannot read 'abc' as a timestamp"),
    ("t,x\n2020-01-01,1\n01/02/2020,2\n", ["x"], r"d\.csv:3: column 't': cannot read '01/02/2020'.*format of line 2"),
    ("t,x\n2020-01-01,1\n,2\n", ["x"], r"d\.csv:3: column 't': the timestamp is empty"),
    ("t,x\n2020-01-01,1\n2020-01-02,2\n2020-01-01,3\n", ["x"], r"d\.csv: lines 2 and 4 have the same timestamp"),
    ("t,x\n2020-01-02,1\n2020-01-01,2\n2020-01-03,3\n", ["x"], r"d\.csv:3: timestamp 2020-01-01 00:00:00 comes after "
                                                            r"line 2's .*must be sorted by time"),
    ('t,x\n2020-01-01,1\n2020-01-02,"12,5"\n', ["x"], r"d\.csv:3: column 'x': '12,5' is not a number"),
    ("t,x\n2020-01-01,1\n2020-01-02,abc\n", ["x"], r"d\.csv:3: column 'x': 'abc' is not a number"),
    ("t,x\n2020-01-01,1\n2020-01-02,inf\n", ["x"], r"d\.csv:3: column 'x': 'inf' is infinite"),
    ("t,x\n2020-01-01,1\n2020-01-02,2,3\n", ["x"], r"d\.csv:3: 3 fields, the header has 2"),
    ("", ["x"], r"d\.csv: the file is empty"),
    ("t,x\n", ["x"], r"d\.csv: no data rows"),
    ("t,x\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n2020-01-04,NA\n", ["x"],
     r"d\.csv: column 'x': 2 missing values in x \(lines 3, 5\); set data\.fill=interpolate\|ffill\|zero"),
    ("t,x,y\n2020-01-01,1,\n2020-01-02,2,NA\n2020-01-03,3,\n", ["x", "y"], r"d\.csv: column 'y' has no values"),
    ("t,x\n2020-01-01,1\n2020-01-02,2\n", ["x"], r"d\.csv: 2 rows are too few to infer the frequency; set data\.freq"),
    ("t,x\n2020-01-01,1\n2020-01-02,2\n2020-01-05,3\n2020-01-15,4\n", ["x"],
     r"d\.csv: cannot infer a regular frequency .*; set data\.freq"),
    ("t,x\n2020-01-01,1\n", [], r"d\.csv: no value columns asked for; set data\.targets"),
    ("t,x\n2020-01-01,1\n", ["x", "x"], r"d\.csv: the columns \['x', 'x'\] repeat a name"),
])
def test_bad_input_names_the_file_the_line_or_column_and_the_fix(tmp_path, content, columns, message):
    with pytest.raises(DataError, match=message):
        read_series(write(tmp_path / "d.csv", content), "t", columns)


def test_bad_settings_name_their_key(tmp_path):
    path = write(tmp_path / "d.csv", "x\n1\n2\n")
    with pytest.raises(DataError, match=r"data\.fill='mean': expected one of error, interpolate, ffill, zero"):
        read_series(path, "", ["x"], fill="mean")
    with pytest.raises(DataError, match=r"data\.freq='h' needs timestamps: set data\.time_column"):
        read_series(path, "", ["x"], freq="h")


def test_first_five_gaps_are_listed(tmp_path):
    stamps = [f"2020-01-{day:02d}" for day in range(1, 26, 2)]  # every other day: 12 gaps
    with pytest.raises(DataError, match=r"12 gaps \(12 timestamps missing\) in the 'D' grid \(data\.freq\): "
                                        r"(after line \d+ [^,]*, ){4}after line 6 [^,]*, \.\.\.; fill them"):
        read_series(write(tmp_path / "d.csv", table(stamps, range(13))), "t", ["x"], freq="D")


@pytest.mark.parametrize("freq, season", [
    ("h", 24), ("H", 24), ("2h", 12), ("D", 7), ("B", 5), ("W-SUN", 52), ("MS", 12), ("ME", 12), ("M", 12),
    ("QS-JAN", 4), ("YS-JAN", 1), ("YE-DEC", 1), ("A-DEC", 1), ("min", 60), ("15min", 96), ("30min", 48),
    ("s", 60), ("", 1),
])
def test_season_length(freq, season):
    assert season_length(freq) == season


def test_calendar_features_at_known_timestamps():
    times = pd.DatetimeIndex(["2024-01-01 06:00", "2024-01-04 18:00"])  # Monday 6 am, Thursday 6 pm
    features, names = calendar_features(times, "h")
    assert names == ["hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "yearday_sin", "yearday_cos",
                     "month_sin", "month_cos"]
    assert features.dtype == np.float32 and features.shape == (2, 8)
    hour_sin, hour_cos, weekday_sin, weekday_cos = features[:, :4].T
    np.testing.assert_allclose(hour_sin, [1, -1], atol=1e-6)
    np.testing.assert_allclose(hour_cos, [0, 0], atol=1e-6)
    np.testing.assert_allclose(weekday_sin, [0, math.sin(2 * math.pi * 3 / 7)], atol=1e-6)
    np.testing.assert_allclose(weekday_cos[0], 1, atol=1e-6)
    np.testing.assert_allclose(features[0, 4:], [0, 1, 0, 1], atol=1e-6)  # 1 January: the start of both cycles


@pytest.mark.parametrize("freq, names", [
    ("D", ["weekday", "yearday", "month"]), ("W-SUN", ["yearday", "month"]), ("MS", ["month"]),
    ("QS-JAN", ["month"]), ("YS-JAN", []), ("", []),
])
def test_calendar_features_keep_the_cycles_the_step_resolves(freq, names):
    times = pd.date_range("2020-04-01", periods=3, freq=freq or "D")
    features, got = calendar_features(times, freq)
    assert got == [f"{name}_{part}" for name in names for part in ("sin", "cos")]
    assert features.shape == (3, 2 * len(names))
    if freq == "MS":  # April is month 3 of 0..11
        np.testing.assert_allclose(features[0], [1, 0], atol=1e-6)


def test_future_times_continue_the_grid():
    hours = future_times(pd.Timestamp("2016-07-01 23:00"), "h", 2)
    assert list(hours) == [pd.Timestamp("2016-07-02 00:00"), pd.Timestamp("2016-07-02 01:00")]
    assert list(future_times(pd.Timestamp("1960-12-01"), "MS", 1)) == [pd.Timestamp("1961-01-01")]
    assert list(future_times(pd.Timestamp("2008-01-01"), "YS-JAN", 2)) == [pd.Timestamp("2009"), pd.Timestamp("2010")]
    assert list(future_times(pd.Timestamp("1960-12-15"), "MS", 1)) == [pd.Timestamp("1961-01-01")]  # off the grid
    assert len(future_times(pd.Timestamp("2020-01-01"), "D", 0)) == 0
    assert calendar_features(hours, "h")[0].shape == (2, 8)  # known-future covariates
    with pytest.raises(DataError, match="future timestamps need a frequency: set data.time_column"):
        future_times(pd.Timestamp("2020-01-01"), "", 3)


def test_split_bounds_by_fractions_counts_and_dates():
    assert split_bounds(100, None) == (70, 80)
    assert split_bounds(10, None, train=0.8, valid=0.2) == (8, 10)  # no test part
    assert split_bounds(5, None, train=0.7, valid=0.3) == (4, 5)  # rounding never overshoots
    assert split_bounds(17420, None, train=8640, valid=2880) == (8640, 11520)  # ETTh1's standard split
    months = pd.date_range("1949-01-01", periods=144, freq="MS")
    assert split_bounds(144, months, valid_start="1958-01-01", test_start="1959-01-01") == (108, 120)
    assert split_bounds(144, months, test_start="1959-01") == (101, 120)  # train by fraction, validation to the date
    assert split_bounds(144, months, valid_start="1958-01-15", valid=12) == (109, 121)  # first row at or after


@pytest.mark.parametrize("n, times, settings, message", [
    (10, None, dict(train=0.8, valid=0.3), r"d\.csv: training and validation need 11 rows, the series has 10"),
    (10, None, dict(train=8, valid=4), r"need 12 rows, the series has 10.*lower data\.train_size or data\.valid_size"),
    (10, None, dict(train=0.01), r"d\.csv: no training rows .*data\.train_size=0\.01"),
    (10, None, dict(valid=0.01), r"d\.csv: no validation rows .*data\.valid_size=0\.01"),
    (10, None, dict(train=2.5), r"data\.train_size=2\.5: expected a fraction in \(0, 1\] or a whole count"),
    (10, None, dict(valid=-1), r"data\.valid_size=-1: expected a fraction"),
    (10, None, dict(test_start="2020-01-05"), r"data\.test_start='2020-01-05' needs timestamps: set data\.time_column"),
    (10, "D", dict(valid_start="2019-01-01"), r"data\.valid_start='2019-01-01' is not inside the series, which runs "
                                              r"from 2020-01-01 00:00:00 to 2020-01-10 00:00:00 \(10 rows\)"),
    (10, "D", dict(test_start="2021-01-01"), r"data\.test_start='2021-01-01' is not inside the series"),
    (10, "D", dict(valid_start="2020-01-08", test_start="2020-01-05"), r"no validation rows.*valid_start must come "
                                                                       r"before test_start"),
    (10, "D", dict(valid_start="someday"), r"data\.valid_start='someday': not a date"),
])
def test_split_bounds_errors_name_the_keys(n, times, settings, message):
    times = pd.date_range("2020-01-01", periods=n, freq=times) if times else None
    with pytest.raises(DataError, match=message):
        split_bounds(n, times, path="d.csv", **settings)


@pytest.mark.parametrize("folder, name, time_column, columns, rows, freq, season", [
    ("ett", "ETTh1.csv", "date", ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"], 17420, "h", 24),
    ("airline-passengers", "airline-passengers.csv", "Month", ["Passengers"], 144, "MS", 12),
    ("sunspots-yearly", "sunspots.csv", "YEAR", ["SUNACTIVITY"], 309, "YS-JAN", 1),
])
def test_real_files(folder, name, time_column, columns, rows, freq, season):
    path = SHARED / folder / name
    if not path.exists():
        pytest.skip(f"{path} is not here")
    series = read_series(str(path), time_column, columns)
    assert (len(series), series.freq, series.values.shape[1], series.report) == (rows, freq, len(columns), [])
    assert season_length(series.freq) == season and np.isfinite(series.values).all()
    assert series.lines[0] == 2 and series.lines[-1] == rows + 1
    if folder == "sunspots-yearly":
        assert (series.times[0].year, series.times[-1].year) == (1700, 2008)


def test_split_bounds_without_validation():
    assert split_bounds(10, None, train=8, valid=0) == (8, 8)
