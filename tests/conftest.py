"""Shared fixtures. Every test starts from the same random state and runs on CPU, one thread:
the sizes are tiny, and the machine is shared."""

import pytest
import torch

torch.set_num_threads(1)


def pytest_configure(config):
    # torch.compile's internals still call torch.jit.script_method; not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def seed():
    """Seed torch before every test; tests that need a second stream reseed explicitly."""
    torch.manual_seed(0)
    return 0


@pytest.fixture
def eager_only(monkeypatch):
    """Turn torch.compile off for this test (RNNKIT_COMPILE=0), so "auto" falls back to the eager scan."""
    monkeypatch.setenv("RNNKIT_COMPILE", "0")
