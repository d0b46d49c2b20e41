"""Exact resume, tested the hard way: a real SIGKILL sent to a training subprocess (once in the middle
of a checkpoint write, once at an arbitrary moment), then `rnnkit resume`, must end with the same
weights bit for bit, and the same per-step losses, as an uninterrupted run of the same steps.

Dropout, random BPTT lengths and the carried hidden state are all on, so every RNG state and the
data position must travel in the checkpoint for this to pass."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.training.logs import read_metrics

SETTINGS = ["train.max_steps=24", "train.eval_every=8", "train.checkpoint_every=4", "train.keep=2",
            "train.threads=1", "train.plot=false", "train.lr=0.01", "model.hidden_size=16", "model.num_layers=2",
            "model.dropout=0.3", "model.input_dropout=0.1", "model.embedding_dropout=0.1", "data.batch_size=4",
            "data.bptt=12", "data.random_bptt=true", "data.eval_batch_size=2", "data.eval_bptt=16"]


def command(verb, data, out):
    base = [sys.executable, "-m", "rnnkit"]
    if verb == "resume":
        return base + ["resume", out, "--quiet"]
    sets = [arg for s in SETTINGS for arg in ("--set", s)]
    return base + ["train", "lm", "--data", data, "--out", out, "--quiet"] + sets


def run(cmd, env=None):
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def kill_when(cmd, condition, env=None, timeout=120):
    """Start ``cmd``, SIGKILL it as soon as ``condition()`` holds; fail if it ends first."""
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    try:
        while not condition():
            if process.poll() is not None:
                pytest.fail(f"the run ended (rc {process.returncode}) before it could be killed: "
                            f"{process.stderr.read()}")
            if time.monotonic() > deadline:
                pytest.fail("the kill condition never held")
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL


def last_checkpoint(run_dir):
    pointer = os.path.join(run_dir, "checkpoints", "last.json")
    if not os.path.exists(pointer):
        return None
    with open(pointer) as f:
        return json.load(f)["checkpoint"]


def steps_and_losses(run_dir):
    records = read_metrics(os.path.join(run_dir, "metrics.jsonl"))
    return [(r["kind"], r["step"], r["loss"]) for r in records]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from rnnkit.data.corpus import stdlib_corpus

    path = tmp_path_factory.mktemp("data") / "corpus.txt"
    path.write_text(stdlib_corpus(12_000), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "reference")
    run(command("train", corpus, out))
    return out


def test_killed_twice_then_resumed_equals_uninterrupted(corpus, uninterrupted, tmp_path):
    out = str(tmp_path / "killed")
    env = {**os.environ, "RNNKIT_TEST_CHECKPOINT_PAUSE": "30"}
    writing = os.path.join(out, "checkpoints", "step-00000008.tmp", "model.safetensors")
    # 1. killed in the middle of writing the checkpoint of step 8 (model written, the rest not yet)
    kill_when(command("train", corpus, out), lambda: os.path.exists(writing), env=env)
    assert last_checkpoint(out) == "step-00000004"
    assert not os.path.exists(os.path.join(out, "checkpoints", "step-00000008"))
    # 2. resumed, then killed at whatever point it has reached once step 12 is saved
    kill_when(command("resume", corpus, out), lambda: last_checkpoint(out) == "step-00000012")
    assert not os.path.exists(os.path.join(out, "checkpoints", "step-00000008.tmp"))  # the torn write was cleared
    # 3. resumed to the end
    run(command("resume", corpus, out))

    assert steps_and_losses(out) == steps_and_losses(uninterrupted)
    final = last_checkpoint(uninterrupted)
    assert final == last_checkpoint(out) == "step-00000024"
    for name in ("model.safetensors", "train.safetensors"):
        expected = load_file(os.path.join(uninterrupted, "checkpoints", final, name))
        actual = load_file(os.path.join(out, "checkpoints", final, name))
        assert expected.keys() == actual.keys()
        for key in expected:
            assert torch.equal(expected[key], actual[key]), f"{name}:{key} differs after resume"


def test_resume_of_a_finished_run_changes_nothing(uninterrupted):
    before = steps_and_losses(uninterrupted)
    weights = load_file(os.path.join(uninterrupted, "checkpoints", "step-00000024", "model.safetensors"))
    run(command("resume", None, uninterrupted))
    assert steps_and_losses(uninterrupted) == before
    after = load_file(os.path.join(uninterrupted, "checkpoints", "step-00000024", "model.safetensors"))
    assert all(torch.equal(weights[k], after[k]) for k in weights)
