"""The user's guide lists every configuration key a user can set: a key added to a config dataclass
without a line in docs/language-modeling.md fails here."""

import dataclasses
import os

import pytest

from rnnkit.models import LanguageModelConfig
from rnnkit.tasks.language_modeling import LanguageModelData
from rnnkit.training import TrainConfig

DOC = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "language-modeling.md")


@pytest.mark.parametrize("config", [LanguageModelData, LanguageModelConfig, TrainConfig])
def test_every_key_is_documented(config):
    text = open(DOC, encoding="utf-8").read()
    missing = [f.name for f in dataclasses.fields(config) if f"`{f.name}`" not in text]
    assert not missing, f"docs/language-modeling.md does not document {config.__name__} keys {missing}"
