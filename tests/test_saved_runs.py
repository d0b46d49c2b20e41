"""Runs saved by an earlier rnnkit (tests/fixtures/saved_runs, made by its make.py with the version in
its VERSION file) still load in this one: `rnnkit evaluate` and each task's prediction verb print what
that version printed (numbers to within float rounding across machines), and `rnnkit resume` takes
them (their saved configs still build, their checkpoints still restore)."""

import io
import json
import math
import re
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from rnnkit.cli import main

from .tiny import TASKS as TINY

SAVED = Path(__file__).parent / "fixtures" / "saved_runs"
NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")


def same_output(got: str, expected: str) -> None:
    """The same text, but numbers with a fraction may differ in their last digits."""
    assert NUMBER.split(got) == NUMBER.split(expected), f"got:\n{got}\nexpected:\n{expected}"
    for a, b in zip(NUMBER.findall(got), NUMBER.findall(expected)):
        assert math.isclose(float(a), float(b), rel_tol=1e-4, abs_tol=1e-5), (a, b)


@pytest.fixture
def saved(tmp_path, monkeypatch):
    """A copy of the saved runs, worked on from inside each task's folder (their paths are relative)."""
    root = tmp_path / "saved_runs"
    shutil.copytree(SAVED, root)

    def enter(name):
        monkeypatch.chdir(root / name)
        return TINY[name](Path("data"))
    return enter


def run(*argv) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(list(argv)) == 0, argv
    return out.getvalue()


@pytest.mark.parametrize("name", TINY)
def test_an_earlier_versions_run_answers_as_it_did(name, saved):
    tiny = saved(name)
    got = run("evaluate", "run", *tiny.evaluate)
    expected = (SAVED / name / "evaluate.out").read_text(encoding="utf-8")
    assert json.loads(got).keys() == json.loads(expected).keys()
    same_output(got, expected)
    same_output(run(tiny.verb, "run", *tiny.predict), (SAVED / name / f"{tiny.verb}.out").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", TINY)
def test_an_earlier_versions_run_resumes(name, saved):
    saved(name)
    run("resume", "run", "--quiet")
