"""The command line, in process: --version, help, and `bench cells` on a tiny benchmark (the real one
takes minutes)."""

import json
import math

import pytest
import torch

import rnnkit
from rnnkit import bench
from rnnkit.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"rnnkit {rnnkit.__version__}"


def test_no_verb_prints_help(capsys):
    assert main([]) == 0
    assert "bench" in capsys.readouterr().out


def test_bench_cells_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "cells", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--quick" in out and "--json" in out and "--threads" in out


def test_bench_needs_what(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench"])
    assert exit_.value.code == 2


@pytest.fixture
def tiny_bench(monkeypatch):
    monkeypatch.setattr(bench, "BATCH", 2)
    monkeypatch.setattr(bench, "STEPS", 3)


def assert_sane(row: bench.Row):
    for field in ("forward_ms", "forward_ratio", "train_ms", "train_ratio", "train_gflops", "ceiling_gflops"):
        value = getattr(row, field)
        assert math.isfinite(value) and value > 0, field


def test_bench_layer_row(tiny_bench):
    row = bench.bench_layer("lstm", "lstm", 8, 1, {}, repeats=1, ceiling=bench.matmul_ceiling(8, repeats=1))
    assert (row.name, row.hidden, row.layers, row.path) == ("lstm", 8, 1, "fused")
    assert_sane(row)


def test_bench_cells_json(tiny_bench, monkeypatch, capsys):
    """The CLI end to end, with the benchmark cut to two tiny rows."""
    def two_rows(quick, progress, device):
        assert quick and device == "cpu"
        for name, mode in (("lstm", "lstm"), ("gru", "gru")):
            yield bench.bench_layer(name, mode, 8, 1, {}, 1, 1.0)

    monkeypatch.setattr(bench, "cell_benchmark", two_rows)
    assert main(["bench", "cells", "--quick", "--json", "--threads", "1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["name"] for row in rows] == ["lstm", "gru"]
    for row in rows:
        assert_sane(bench.Row(**row))

    assert main(["bench", "cells", "--quick"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"rnnkit {rnnkit.__version__}") and "batch 2, 3 steps" in out
    assert any(line.startswith("gru") and "fused" in line for line in out.splitlines())
    if not torch.cuda.is_available():
        assert main(["bench", "cells", "--quick", "--device", "cuda"]) == 1
        assert "CUDA is not available" in capsys.readouterr().err
