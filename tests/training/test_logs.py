"""What a run leaves besides checkpoints: metrics.jsonl truncated on resume, a torn last line skipped,
and the loss curve as a PNG."""

import json
import os

import pytest

from rnnkit.training.logs import MetricsLog, plot_losses, read_metrics


def write_run(path, steps, valid_every=2):
    log = MetricsLog(path)
    for step in range(1, steps + 1):
        log.write({"kind": "train", "step": step, "loss": 1.0 / step})
        if step % valid_every == 0:
            log.write({"kind": "valid", "step": step, "loss": 2.0 / step})
    log.flush()
    log.close()


def test_records_round_trip(tmp_path):
    path = str(tmp_path / "metrics.jsonl")
    write_run(path, 3)
    assert read_metrics(path) == [{"kind": "train", "step": 1, "loss": 1.0}, {"kind": "train", "step": 2, "loss": 0.5},
                                  {"kind": "valid", "step": 2, "loss": 1.0},
                                  {"kind": "train", "step": 3, "loss": 1.0 / 3}]


def test_resume_drops_what_came_after_the_checkpoint(tmp_path):
    resumed, uninterrupted = str(tmp_path / "resumed.jsonl"), str(tmp_path / "straight.jsonl")
    write_run(uninterrupted, 6)
    write_run(resumed, 5)  # killed after step 5; its last checkpoint was at step 4
    log = MetricsLog(resumed, resume_step=4)
    assert [r["step"] for r in read_metrics(resumed)] == [1, 2, 2, 3, 4, 4]
    for step in (5, 6):
        log.write({"kind": "train", "step": step, "loss": 1.0 / step})
        if step % 2 == 0:
            log.write({"kind": "valid", "step": step, "loss": 2.0 / step})
    log.close()
    with open(resumed) as a, open(uninterrupted) as b:
        assert a.read() == b.read()


def test_resume_without_a_file_starts_one(tmp_path):
    path = str(tmp_path / "metrics.jsonl")
    log = MetricsLog(path, resume_step=3)
    log.write({"kind": "train", "step": 4, "loss": 1.0})
    log.close()
    assert read_metrics(path) == [{"kind": "train", "step": 4, "loss": 1.0}]


def test_a_torn_last_line_is_skipped_and_dropped_on_resume(tmp_path):
    path = str(tmp_path / "metrics.jsonl")
    write_run(path, 2)
    with open(path, "a") as f:
        f.write('{"kind": "train", "st')  # killed in the middle of a write
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 2]
    log = MetricsLog(path, resume_step=2)
    log.write({"kind": "train", "step": 3, "loss": 0.25})
    log.close()
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 2, 3]  # the new record is whole


def test_plot_losses_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    metrics, png = str(tmp_path / "metrics.jsonl"), str(tmp_path / "loss.png")
    write_run(metrics, 8)
    with open(metrics, "a") as f:
        f.write(json.dumps({"kind": "train", "step": 9, "loss": float("nan")}) + "\n")  # a diverged step
    plot_losses(metrics, png, title="run")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["loss.png", "metrics.jsonl"]  # no temporary file left
