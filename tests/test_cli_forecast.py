"""`rnnkit train forecast | evaluate | forecast` (resume: tests/test_tasks.py) end to end, in process, on a small generated
hourly series with a daily cycle."""

import csv
import json
import os

import numpy as np
import pytest

from rnnkit.cli import EXIT_BAD_INPUT, main
from rnnkit.tasks import forecasting


TINY = ["--set", "train.threads=1", "--set", "train.plot=false", "--set", "train.tensorboard=false",
        "--set", "model.hidden_size=16", "--set", "model.num_layers=1", "--set", "data.batch_size=16",
        "--set", "train.lr=0.01", "--set", "backtest.baselines=[last, seasonal_naive]"]


def write_series(path, n=480, seed=0, spike=None, drop_row=None, blank=None):
    """Two hourly series with a daily cycle, and a random covariate; rows as the CSV lines 2.. n+1."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    load = 10 + 3 * np.sin(2 * np.pi * t / 24) + 0.2 * rng.standard_normal(n)
    temp = 20 + 2 * np.cos(2 * np.pi * t / 24) + 0.01 * t + 0.2 * rng.standard_normal(n)
    wind = rng.standard_normal(n)
    if spike is not None:
        load[spike] += 8
    times = np.datetime64("2021-03-01T00:00") + t.astype("timedelta64[h]")
    with open(path, "w", encoding="utf-8") as f:
        f.write("date,load,temp,wind\n")
        for i in range(n):
            if i == drop_row:
                continue
            value = "" if i == blank else f"{load[i]:.4f}"
            f.write(f"{str(times[i]).replace('T', ' ')},{value},{temp[i]:.4f},{wind[i]:.4f}\n")
    return str(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecast")
    data = write_series(root / "series.csv")
    out = str(root / "run")
    code = main(["train", "forecast", "--data", data, "--target", "load", "--target", "temp", "--covariates", "wind",
                 "--horizon", "6", "--context", "24", "--out", out, "--quiet", *TINY,
                 "--set", "model.likelihood=gaussian", "--set", "train.max_steps=150", "--set", "train.eval_every=50",
                 "--set", "data.train_size=0.6", "--set", "data.valid_size=0.2"])
    assert code == 0
    return data, out


def test_training_learns_the_cycle_and_writes_the_report(run):
    _, out = run
    report = json.load(open(os.path.join(out, "report.json")))
    assert set(report) == {"valid", "test"}
    methods = report["valid"]["methods"]
    model = methods["rnnkit direct gru"]
    assert model["scaled_mse"] < 0.5 * methods["last"]["scaled_mse"]  # it learned the daily cycle
    assert 0.3 < model["coverage"] <= 1 and model["crps"] > 0
    assert os.path.getsize(os.path.join(out, "forecast.png")) > 1000


def test_baseline_scores_match_a_direct_computation(run):
    """The last-value baseline's test MAE and RMSE, computed here from the file itself."""
    data, out = run
    report = json.load(open(os.path.join(out, "report.json")))["test"]
    values = np.loadtxt(data, delimiter=",", skiprows=1, usecols=(1, 2))
    n, K = len(values), 6
    valid_end = round(0.8 * n)
    origins = range(valid_end, n - K + 1)
    errors = np.stack([values[o:o + K] - values[o - 1] for o in origins])
    assert report["origins"] == len(origins)
    assert report["methods"]["last"]["mae"] == pytest.approx(np.abs(errors).mean(), rel=1e-9)
    assert report["methods"]["last"]["rmse"] == pytest.approx(np.sqrt((errors ** 2).mean()), rel=1e-9)


def test_evaluate_repeats_the_runs_backtest(run, capsys):
    data, out = run
    capsys.readouterr()
    assert main(["evaluate", out, "--data", data, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    report = json.load(open(os.path.join(out, "report.json")))
    for span in ("valid", "test"):
        for method in ("rnnkit direct gru", "last"):
            assert again[span]["methods"][method]["mae"] == pytest.approx(report[span]["methods"][method]["mae"])


def test_forecast_writes_the_next_steps_with_ordered_quantiles_and_a_plot(run, tmp_path, capsys):
    data, out = run
    target, plot = str(tmp_path / "f.csv"), str(tmp_path / "f.png")
    assert main(["forecast", out, "--data", data, "--output", target, "--plot", plot]) == 0
    rows = list(csv.DictReader(open(target)))
    assert len(rows) == 6 * 2 and [r["series"] for r in rows[:2]] == ["load", "temp"]
    assert rows[0]["time"] == "2021-03-21 00:00:00" and rows[-1]["time"] == "2021-03-21 05:00:00"  # after 480 h
    for r in rows:
        q = [float(r[k]) for k in ("q0.1", "q0.5", "q0.9")]
        assert q == sorted(q)
        assert q[0] <= float(r["forecast"]) <= q[2]
    assert os.path.getsize(plot) > 1000


def test_alerts_flag_an_injected_spike(run, tmp_path, capsys):
    _, out = run
    spiky = write_series(tmp_path / "spiky.csv", spike=300)
    capsys.readouterr()
    assert main(["forecast", out, "--data", spiky, "--alerts", "--level", "0.99"]) == 0
    captured = capsys.readouterr()
    flagged = list(csv.DictReader(captured.out.splitlines()))
    assert any(r["time"] == "2021-03-13 12:00:00" and r["series"] == "load" and r["line"] == "302" for r in flagged)
    assert len(flagged) < 0.1 * (480 - 24) * 2
    assert "outside their one-step-ahead 99% interval" in captured.err


def test_bad_input_is_named(run, tmp_path, capsys):
    data, out = run
    base = ["train", "forecast", "--out", str(tmp_path / "r"), "--quiet", *TINY, "--set", "train.max_steps=1"]
    assert main([*base, "--data", data, "--target", "power"]) == EXIT_BAD_INPUT
    assert "no column 'power'" in capsys.readouterr().err
    gap = write_series(tmp_path / "gap.csv", drop_row=100)
    assert main([*base, "--data", gap, "--target", "load"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "gap.csv" in err and "data.fill" in err
    blank = write_series(tmp_path / "blank.csv", blank=50)
    assert main([*base, "--data", blank, "--target", "load"]) == EXIT_BAD_INPUT
    assert "line 52" in capsys.readouterr().err
    assert main([*base, "--data", blank, "--target", "load", "--set", "data.fill=interpolate"]) == 0
    assert main([*base, "--data", data, "--target", "load", "--text-column", "x"]) == EXIT_BAD_INPUT
    with pytest.raises(SystemExit) as stopped:  # argparse: the command line itself (exit code 2)
        main(["forecast", out, "--data", data, "--alerts", "--level", "1.5"])
    assert stopped.value.code == 2
    assert "argument --level: expected a number in (0, 1), got '1.5'" in capsys.readouterr().err


def test_point_models_have_no_alerts_and_future_covariates_need_their_values(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv", n=200)
    out = str(tmp_path / "r")
    assert main(["train", "forecast", "--data", data, "--target", "load", "--future-covariates", "temp",
                 "--horizon", "4", "--context", "12", "--out", out, "--quiet", *TINY, "--set", "train.max_steps=3"]) == 0
    assert main(["forecast", out, "--data", data, "--alerts"]) == EXIT_BAD_INPUT
    assert "probabilistic model" in capsys.readouterr().err
    assert main(["forecast", out, "--data", data]) == EXIT_BAD_INPUT
    assert "--future FILE" in capsys.readouterr().err
    future = tmp_path / "future.csv"
    future.write_text("date,temp\n" + "".join(f"2021-03-09 {8 + k:02d}:00:00,20.5\n" for k in range(4)))
    assert main(["forecast", out, "--data", data, "--future", str(future)]) == 0
    assert capsys.readouterr().out.count("load") == 4


def test_autoregressive_model_trains_and_samples(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv", n=200)
    out = str(tmp_path / "r")
    assert main(["train", "forecast", "--data", data, "--target", "load", "--horizon", "4", "--context", "12",
                 "--out", out, "--quiet", *TINY, "--set", "train.max_steps=5", "--set", "model.kind=autoregressive",
                 "--set", "model.likelihood=student_t", "--set", "model.num_samples=20"]) == 0
    report = json.load(open(os.path.join(out, "report.json")))
    assert "crps" in report["valid"]["methods"]["rnnkit autoregressive gru"]
    capsys.readouterr()
    assert main(["forecast", out, "--data", data]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 4


def test_scaling_is_fitted_on_the_training_rows_only(run):
    data, out = run
    trained = forecasting.load_trained(out)
    values = np.loadtxt(data, delimiter=",", skiprows=1, usecols=(1, 2, 3))
    train = values[:round(0.6 * len(values))]
    np.testing.assert_allclose(trained.scaling.targets.mean, train[:, :2].mean(0))
    np.testing.assert_allclose(trained.scaling.targets.std, train[:, :2].std(0))
    np.testing.assert_allclose(trained.scaling.covariates.mean, train[:, 2:].mean(0))
