"""Every config file in configs/ builds its task's RunConfig: a renamed or misspelled key, or a value
out of range, fails here rather than in a user's first command."""

import os
import re

import pytest

from rnnkit.tasks import TASKS
from rnnkit.training import resolve

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "configs")
TASK_OF = {"quickstart": "lm", "shakespeare": "lm", "ptb-small": "lm", "ptb-medium": "lm", "imdb": "classify", "conll2003": "tag",
           "etth1": "forecast", "airline": "forecast", "sunspots": "forecast", "multi30k": "seq2seq",
           "headlines": "seq2seq"}


def test_every_config_file_is_listed():
    assert sorted(name[:-5] for name in os.listdir(CONFIGS) if name.endswith(".yaml")) == sorted(TASK_OF)


@pytest.mark.parametrize("name", sorted(TASK_OF))
def test_config_builds_and_its_command_names_the_task(name):
    path = os.path.join(CONFIGS, f"{name}.yaml")
    config = resolve(TASKS[TASK_OF[name]].RunConfig, files=[path])
    assert config.train.time_budget or config.train.max_steps or config.train.max_epochs
    with open(path, encoding="utf-8") as f:
        commands = re.findall(r"rnnkit train (\w+)", f.read())
    assert set(commands) <= {TASK_OF[name]}, f"{path}: its comment trains {commands}"
