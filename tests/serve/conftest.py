"""The saved runs of every task (tests/fixtures/saved_runs), for the server tests to serve."""

import os
import shutil
from pathlib import Path

import pytest

SAVED = Path(__file__).parent.parent / "fixtures" / "saved_runs"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A copy of the saved runs, read from inside it (their configs name their data relatively)."""
    root = tmp_path_factory.mktemp("serve") / "saved_runs"
    shutil.copytree(SAVED, root)
    cwd = os.getcwd()
    os.chdir(root)
    yield root
    os.chdir(cwd)


