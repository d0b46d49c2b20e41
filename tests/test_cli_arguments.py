"""Bad numbers get a clear error, never a result or a traceback (issue 19): every numeric option of every
verb is range-checked by argparse (exit code 2, the option named); every float config key refuses NaN
and infinity (exit code 1, the key named); a model too large for this machine is refused with its
size before anything is allocated; a missing GPU is an error; an absurd learning rate ends as a
divergence (exit code 3)."""

from pathlib import Path

import pytest
import torch

from rnnkit.cli import EXIT_BAD_INPUT, EXIT_DIVERGED, main
from rnnkit.errors import CheckpointError, ConfigError, DataError, RnnkitError, TrainingDiverged
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.tasks.runs import build_within_memory, memory_size

from .tiny import TASKS as TINY

BAD_OPTIONS = [
    (["predict", "RUN", "--batch-size", "-1"], "--batch-size: expected an integer >= 1, got -1"),
    (["predict", "RUN", "--batch-size", "0"], "--batch-size: expected an integer >= 1, got 0"),
    (["evaluate", "RUN", "--batch-size", "0"], "--batch-size: expected an integer >= 1, got 0"),
    (["evaluate", "RUN", "--bptt", "0"], "--bptt: expected an integer >= 1, got 0"),
    (["evaluate", "RUN", "--beam-size", "two"], "--beam-size: expected an integer >= 1, got 'two'"),
    (["tag", "RUN", "--batch-size", "-5"], "--batch-size: expected an integer >= 1, got -5"),
    (["tag", "RUN", "--token-column", "-1"], "--token-column: expected an integer >= 0, got -1"),
    (["generate", "RUN", "--temperature", "nan"], "--temperature: expected a number in [0, inf), got 'nan'"),
    (["generate", "RUN", "--temperature", "-1"], "--temperature: expected a number in [0, inf), got '-1'"),
    (["generate", "RUN", "--top-k", "-3"], "--top-k: expected an integer >= 0, got -3"),
    (["generate", "RUN", "--top-p", "0"], "--top-p: expected a number in (0, 1], got '0'"),
    (["generate", "RUN", "--top-p", "inf"], "--top-p: expected a number in (0, 1], got 'inf'"),
    (["generate", "RUN", "--max-tokens", "-1"], "--max-tokens: expected an integer >= 0, got -1"),
    (["translate", "RUN", "--n-best", "0"], "--n-best: expected an integer >= 1, got 0"),
    (["translate", "RUN", "--length-penalty", "nan"], "--length-penalty: expected a number in [0, inf), got 'nan'"),
    (["translate", "RUN", "--max-length-a", "-1"], "--max-length-a: expected a number in [0, inf), got '-1'"),
    (["forecast", "RUN", "--data", "x.csv", "--level", "1"], "--level: expected a number in (0, 1), got '1'"),
    (["train", "forecast", "--out", "o", "--horizon", "0"], "--horizon: expected an integer >= 1, got 0"),
    (["bench", "cells", "--threads", "-1"], "--threads: expected an integer >= 0, got -1"),
]


@pytest.mark.parametrize("argv, message", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_a_numeric_option_out_of_range_is_a_command_line_error(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert f"argument {message}" in capsys.readouterr().err


@pytest.fixture
def lm_data(tmp_path):
    return TINY["lm"](tmp_path / "data")


def train(tiny, out, *sets):
    return main(["train", *tiny.train, "--out", str(out), *[a for s in sets for a in ("--set", s)]])


@pytest.mark.parametrize("setting", ["train.lr=.inf", "train.clip_norm=.nan", "train.max_epochs=.nan",
                                     "train.weight_decay=.nan", "train.time_budget=.inf", "model.dropout=.nan",
                                     "model.forget_bias=-.inf", "data.valid_fraction=.nan"])
def test_a_config_value_that_is_not_finite_is_refused_by_key(setting, lm_data, tmp_path, capsys):
    assert train(lm_data, tmp_path / "run", setting) == EXIT_BAD_INPUT
    key, value = setting.split("=")
    shown = value.replace(".", "")  # YAML's .nan / -.inf, printed as Python's nan / -inf
    err = capsys.readouterr().err
    assert f"rnnkit: error: {key}: expected a finite number, got {shown}" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists(), "nothing is written for a config that does not build"


def test_betas_outside_their_range_are_refused(lm_data, tmp_path, capsys):
    assert train(lm_data, tmp_path / "run", "train.beta2=1.0") == EXIT_BAD_INPUT
    assert "train.beta2=1.0: expected a number in [0, 1)" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_a_gpu_asked_for_where_there_is_none(lm_data, tmp_path, capsys):
    assert train(lm_data, tmp_path / "run", "train.device=cuda") == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "train.device='cuda': CUDA is not available here" in err and "Traceback" not in err


# The first size is over this machine's memory by the recurrent weights alone (4H x H floats, trained
# with AdamW: 4 copies), whatever the machine: 30,000 fits the 128 GiB of a GPU host and was allocated there.
@pytest.mark.parametrize("hidden, message", [(int((memory_size() / 64) ** 0.5) + 1, "more than this machine's"),
                                             (10**9, "too large to be built at all")])
def test_a_model_too_large_for_the_machine_is_refused_before_it_is_allocated(hidden, message, lm_data, tmp_path,
                                                                              capsys):
    assert train(lm_data, tmp_path / "run", f"model.hidden_size={hidden}") == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and "model.hidden_size" in err and "Traceback" not in err


def test_building_within_memory_draws_no_random_numbers_and_counts_the_training_footprint():
    config = LanguageModelConfig(hidden_size=32, num_layers=1, init="keras")
    torch.manual_seed(0)
    plain = LanguageModel(config, 40)
    torch.manual_seed(0)
    checked = build_within_memory(lambda: LanguageModel(config, 40))
    for (name, a), b in zip(plain.state_dict().items(), checked.state_dict().values()):
        assert torch.equal(a, b), name
    size = sum(p.numel() * 4 for p in plain.parameters())
    build_within_memory(lambda: LanguageModel(config, 40), limit=4 * size)
    with pytest.raises(ConfigError, match=f"{sum(p.numel() for p in plain.parameters()):,} parameters"):
        build_within_memory(lambda: LanguageModel(config, 40), limit=4 * size - 1)


def test_an_absurd_learning_rate_ends_as_a_divergence(lm_data, tmp_path, capsys):
    assert train(lm_data, tmp_path / "run", "train.lr=1e30") == EXIT_DIVERGED
    assert "rnnkit: training stopped:" in capsys.readouterr().err


def test_every_error_of_rnnkits_is_one_family_with_its_exit_code():
    for error in (ConfigError, DataError, CheckpointError):
        assert issubclass(error, RnnkitError) and issubclass(error, ValueError)
        assert error.exit_code == EXIT_BAD_INPUT
    assert issubclass(TrainingDiverged, RnnkitError) and TrainingDiverged.exit_code == EXIT_DIVERGED


def test_an_error_a_verb_did_not_report_still_ends_in_one_line(monkeypatch, tmp_path, capsys):
    """main() turns any RnnkitError into its message and exit code (no traceback)."""
    from rnnkit.tasks import runs

    def damaged(run_dir):
        raise CheckpointError(f"{run_dir}/config.yaml: damaged")

    monkeypatch.setattr(runs, "read_run_config", damaged)
    assert main(["resume", str(tmp_path)]) == EXIT_BAD_INPUT
    assert capsys.readouterr().err == f"rnnkit: error: {tmp_path}/config.yaml: damaged\n"
    assert Path(tmp_path).exists()
