"""Damaged runs and checkpoints (issue 19): every file of a run, truncated, with bytes flipped or
replaced by garbage, either still loads or ends in a CheckpointError naming that file or its
checkpoint, never in another exception (hypothesis generates the damage, by the thousand across the
files). Flipped bytes inside tensor data are caught by the checksums written with the checkpoint; a
FIFO in place of a file is refused without blocking; `rnnkit resume` passes over a damaged last
checkpoint to the newest whole one, says so, and still ends bit for bit where the uninterrupted run
ends; a write killed half-way leaves no temporary file after the next save."""

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from rnnkit.cli import EXIT_BAD_INPUT, main
from rnnkit.errors import RnnkitError
from rnnkit.tasks import TASKS, runs
from rnnkit.training import checkpoint as ckpt

from ..tiny import TASKS as TINY

LM = TASKS["lm"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny language-model run with checkpoints at steps 10, 20 and 30 (all kept)."""
    root = tmp_path_factory.mktemp("damage")
    tiny = TINY["lm"](root / "data")
    out = root / "run"
    assert main(["train", *tiny.train, "--out", str(out), "--set", "train.keep=5"]) == 0
    return out


def files_of(run_dir: Path):
    last = run_dir / "checkpoints" / "step-00000030"
    return {"model": last / ckpt.MODEL_FILE, "train": last / ckpt.TRAIN_FILE, "meta": last / ckpt.META_FILE,
            "last": run_dir / "checkpoints" / "last.json", "best": run_dir / "checkpoints" / "best.json",
            "config": run_dir / "config.yaml"}


def damage(data: bytes, kind: str, where: int, garbage: bytes) -> bytes:
    if not data:
        return garbage
    at = where % len(data)
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
    if kind == "splice":
        return data[:at] + garbage + data[at + len(garbage):]
    return garbage  # "replace"


def load_everything(run_dir: Path):
    """What the verbs do with a run: find its task, load it for use (evaluate, generate), and resume it."""
    runs.read_run_config(str(run_dir))
    runs.load(str(run_dir), "best", LM)
    runs.load(str(run_dir), "last", LM)
    runs.resume(str(run_dir), LM)


DAMAGE = st.tuples(st.sampled_from(["truncate", "flip", "splice", "replace"]), st.integers(0, 10**6),
                   st.binary(min_size=0, max_size=64))


@pytest.mark.parametrize("target", ["model", "train", "meta", "last", "best", "config"])
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damaged=DAMAGE)
def test_a_damaged_file_loads_or_is_named(run, target, damaged, tmp_path_factory):
    copy = tmp_path_factory.mktemp("copy") / "run"
    shutil.copytree(run, copy)
    path = files_of(copy)[target]
    path.write_bytes(damage(path.read_bytes(), *damaged))
    try:
        load_everything(copy)
    except RnnkitError as error:
        assert str(path) in str(error) or str(path.parent) in str(error), f"{error} does not name {path}"


def test_a_flipped_byte_in_the_weights_is_caught_by_the_checksum(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    weights = files_of(copy)["model"]
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01  # inside the tensor data: still a valid safetensors file, one weight changed
    weights.write_bytes(bytes(data))
    load_file(str(weights))  # safetensors itself sees nothing wrong
    with pytest.raises(ckpt.CheckpointError, match=f"{weights}: damaged .*SHA-256"):
        runs.load(str(copy), "last", LM)


@pytest.mark.parametrize("target", ["model", "meta", "last", "config"])
def test_a_fifo_in_place_of_a_file_is_refused_without_blocking(run, tmp_path, target):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    path = files_of(copy)[target]
    path.unlink()
    os.mkfifo(path)
    signal.alarm(20)  # a reader that opened the FIFO would wait for a writer forever
    try:
        with pytest.raises(ckpt.CheckpointError, match=f"{path}: .* not a regular file"):
            load_everything(copy)
    finally:
        signal.alarm(0)


def test_resume_passes_over_a_damaged_last_checkpoint_and_still_ends_bit_for_bit(run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    checkpoints = copy / "checkpoints"
    shutil.rmtree(checkpoints / "step-00000030")  # as if killed after step 20's checkpoint ...
    (checkpoints / "last.json").write_text(json.dumps({"checkpoint": "step-00000020"}))
    weights = checkpoints / "step-00000020" / ckpt.MODEL_FILE
    weights.write_bytes(weights.read_bytes()[:-10])  # ... and step 20's weights damaged since
    capsys.readouterr()
    assert main(["resume", str(copy), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"{weights}: damaged" in err and "passed over" in err and "resuming from" in err
    assert "step-00000010" in err
    expected = load_file(str(run / "checkpoints" / "step-00000030" / ckpt.MODEL_FILE))
    got = load_file(str(checkpoints / "step-00000030" / ckpt.MODEL_FILE))
    assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected)


def test_no_whole_checkpoint_is_one_clear_error(run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    for step in ("10", "20", "30"):
        (copy / "checkpoints" / f"step-000000{step}" / ckpt.TRAIN_FILE).write_bytes(b"")
    assert main(["resume", str(copy)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"rnnkit: error: {copy}: no checkpoint is whole") and err.count("\n") == 1


def test_every_verb_names_a_damaged_checkpoint_in_one_line(run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    meta = files_of(copy)["meta"]
    meta.write_text("{ not json")
    (copy / "checkpoints" / "best.json").write_text(json.dumps({"checkpoint": "step-00000030"}))
    corpus = str(run.parent / "data" / "corpus.txt")
    for argv in (["evaluate", str(copy), "--data", corpus], ["generate", str(copy), "--max-tokens", "3"],
                 ["evaluate", str(copy / "checkpoints" / "step-00000030"), "--data", corpus]):
        capsys.readouterr()
        assert main(argv) == EXIT_BAD_INPUT, argv
        err = capsys.readouterr().err
        assert err.startswith("rnnkit: error: ") and str(meta) in err and err.count("\n") == 1, err


def test_a_killed_pointer_write_leaves_no_temporary_file_after_the_next_save(tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    (directory / ".tmp-abc123.json").write_text('{"checkpoint": "step-0')  # what a kill mid-write leaves
    ckpt.save_checkpoint(str(directory), "step-00000001", torch.nn.Linear(2, 2), {}, {})
    assert sorted(p.name for p in directory.iterdir()) == ["step-00000001"]


def test_a_checkpoint_records_its_files_sizes_and_checksums(run):
    step = run / "checkpoints" / "step-00000030"
    meta = ckpt.read_meta(str(step))
    for name in (ckpt.MODEL_FILE, ckpt.TRAIN_FILE):
        assert meta["files"][name] == {"bytes": (step / name).stat().st_size, "sha256": ckpt.sha256_of(str(step / name))}


def test_a_changed_value_in_checkpoint_json_is_caught_and_resume_passes_over_it(run, tmp_path, capsys):
    """checkpoint.json records the SHA-256 of its own contents: a value changed so that the file still
    parses (the step, the learning rate's schedule) is named, and resume falls back past it."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    meta_path = files_of(copy)["meta"]
    meta = json.loads(meta_path.read_text())
    meta["step"] = 29
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ckpt.CheckpointError, match=f"{meta_path}: damaged: its contents do not match"):
        runs.load(str(copy), "last", LM)
    capsys.readouterr()
    assert main(["resume", str(copy), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "passed over" in err and "resuming from" in err and "step-00000020" in err
    expected = load_file(str(run / "checkpoints" / "step-00000030" / ckpt.MODEL_FILE))
    got = load_file(str(copy / "checkpoints" / "step-00000030" / ckpt.MODEL_FILE))
    assert all(torch.equal(expected[k], got[k]) for k in expected)
