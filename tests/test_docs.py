"""The user's guide lists every configuration key a user can set: a key added to a config dataclass
without a line in its task's page (docs/language-modeling.md, classification.md, tagging.md,
forecasting.md, seq2seq.md) fails here."""

import dataclasses
import os

import pytest

from rnnkit.models import LanguageModelConfig
from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.models.sequence_tagger import SequenceTaggerConfig
from rnnkit.models.text_classifier import TextClassifierConfig
from rnnkit.tasks.backtest import BacktestConfig
from rnnkit.tasks.classification import ClassificationData
from rnnkit.tasks.decoding import DecodeConfig
from rnnkit.tasks.forecasting import ForecastData
from rnnkit.tasks.language_modeling import LanguageModelData
from rnnkit.tasks.seq2seq import Seq2SeqData
from rnnkit.tasks.tagging import TaggingData
from rnnkit.training import TrainConfig

DOCS = os.path.join(os.path.dirname(__file__), os.pardir, "docs")


@pytest.mark.parametrize("page, config", [
    ("language-modeling.md", LanguageModelData), ("language-modeling.md", LanguageModelConfig),
    ("language-modeling.md", TrainConfig), ("classification.md", ClassificationData),
    ("classification.md", TextClassifierConfig), ("tagging.md", TaggingData), ("tagging.md", SequenceTaggerConfig),
    ("forecasting.md", ForecastData), ("forecasting.md", ForecasterConfig), ("forecasting.md", BacktestConfig),
    ("seq2seq.md", Seq2SeqData), ("seq2seq.md", Seq2SeqConfig), ("seq2seq.md", DecodeConfig)])
def test_every_key_is_documented(page, config):
    text = open(os.path.join(DOCS, page), encoding="utf-8").read()
    missing = [f.name for f in dataclasses.fields(config) if f"`{f.name}`" not in text]
    assert not missing, f"docs/{page} does not document {config.__name__} keys {missing}"
