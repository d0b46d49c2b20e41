"""The task contract (tasks/contract.py), tested once over every registered task on tiny data
(tests/tiny.py): each provides the contract's names; trains from the command line; an interrupted run
resumed from its checkpoint ends bit for bit where the uninterrupted run does (dropout and every other
random draw on); `rnnkit evaluate` and the task's prediction verb work on the run; and every other
task's verb refuses it, naming the verb that fits. A task added to the registry without a tiny setup
fails here."""

import json
import os
import typing
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.cli import EXIT_BAD_INPUT, build_parser, main
from rnnkit.cli.training import read_config
from rnnkit.tasks import TASKS, runs

from .interrupt import assert_resume_repeats
from .tiny import TASKS as TINY

CONTRACT = ("NAME", "SUMMARY", "RUNS", "DOCS", "RATE", "VERB", "TRAIN_FLAGS", "EVALUATE_FLAGS", "RunConfig", "Task",
            "restore", "build_model", "format_eval", "finish", "evaluate", "load_trained")


def test_every_task_has_a_tiny_setup():
    assert set(TINY) == set(TASKS)


@pytest.mark.parametrize("name", TASKS)
def test_the_module_provides_the_contract(name):
    module = TASKS[name]
    missing = [attribute for attribute in CONTRACT if not hasattr(module, attribute)]
    assert not missing, f"tasks {name!r} lacks {missing}"
    assert module.NAME == name
    assert {"train", "data", "model"} <= {f for f in module.RunConfig.__dataclass_fields__}
    data_keys = typing.get_type_hints(module.RunConfig)["data"].__dataclass_fields__
    for flag in module.TRAIN_FLAGS:
        assert flag.dest in data_keys, f"{flag.name} sets data.{flag.dest}, which is no data key"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each task trained once from the command line: {name: (its Tiny, run directory)}."""
    root = tmp_path_factory.mktemp("tasks")
    done = {}
    for name, make in TINY.items():
        tiny = make(root / name / "data")
        out = str(root / name / "run")
        assert main(["train", *tiny.train, "--out", out]) == 0, name
        done[name] = (tiny, out)
    return done


# more random draws to restore on resume: a probabilistic forecaster samples in its evaluations
RESUME_EXTRA = {"forecast": ["--set", "model.likelihood=gaussian"]}


@pytest.mark.parametrize("name", TASKS)
def test_an_interrupted_run_resumes_bit_for_bit(name, tmp_path):
    tiny = TINY[name](tmp_path / "data")
    config = read_config(build_parser().parse_args(["train", *tiny.train, *RESUME_EXTRA.get(name, []),
                                                    "--out", str(tmp_path / "unused")]))
    checkpoint = assert_resume_repeats(TASKS[name], config, str(tmp_path), stop=15)
    assert checkpoint.endswith("step-00000010"), "resumed from the checkpoint before the interruption"


@pytest.mark.parametrize("name", TASKS)
def test_evaluate_and_the_prediction_verb_work_on_a_run(name, trained, capsys):
    tiny, out = trained[name]
    capsys.readouterr()
    assert main(["evaluate", out, *tiny.evaluate]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert tiny.metric in metrics and metrics["checkpoint"].startswith(out)
    assert main([tiny.verb, out, *tiny.predict]) == 0
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("name", TASKS)
def test_other_verbs_refuse_the_run_and_name_the_one_that_fits(name, trained, capsys):
    tiny, out = trained[name]
    for other in TASKS.values():
        if other.NAME == name:
            continue
        capsys.readouterr()
        arguments = {"generate": ["--prompt", "x"], "forecast": ["--data", "x.csv"]}.get(other.VERB, [])
        assert main([other.VERB, out, *arguments]) == EXIT_BAD_INPUT
        assert f"for a {name!r} run, `rnnkit {tiny.verb}`" in capsys.readouterr().err


@pytest.mark.parametrize("name", TASKS)
def test_a_loaded_run_has_the_weights_as_saved(name, trained):
    """runs.load rebuilds the model from the checkpoint's meta alone (no data read), in eval mode, with
    every saved tensor in place."""
    _, out = trained[name]
    loaded = runs.load(out, "best", TASKS[name])
    assert not loaded.model.training and Path(loaded.checkpoint).parent.name == "checkpoints"
    state = loaded.model.state_dict()
    for key, value in load_file(os.path.join(loaded.checkpoint, "model.safetensors")).items():
        assert torch.equal(state[key], value), key


# every layer option in use somewhere, each kind of cell once (the scan kinds eager: no compile here)
LAYER_OPTIONS = {
    "lstm proj peephole layer_norm zoneout": ["cell=lstm", "proj_size=4", "peephole=true", "layer_norm=true",
                                              "forget_bias=1.0", "zoneout=0.1", "zoneout_cell=0.2", "init=keras",
                                              "num_layers=2", "dropout=0.1"],
    "gru cho recurrent dropout": ["cell=gru", "reset_after=false", "recurrent_dropout=0.2", "variational=true",
                                  "backend=eager"],
    "rnn_relu no bias dropconnect": ["cell=rnn_relu", "bias=false", "weight_dropout=0.2", "zoneout=0.1",
                                     "backend=eager"],
}


@pytest.mark.parametrize("options", LAYER_OPTIONS.values(), ids=LAYER_OPTIONS.keys())
@pytest.mark.parametrize("name", TASKS)
def test_every_layer_option_works_in_every_task(name, options, tmp_path, capsys):
    """The layer's options are the same model.* keys in every task (layers/config.py): each trains,
    saves, loads and evaluates there, with the model sized for a projected output."""
    tiny = TINY[name](tmp_path / "data")
    out = str(tmp_path / "run")
    sets = [a for option in options for a in ("--set", f"model.{option}")]
    assert main(["train", *tiny.train, *sets, "--set", "train.max_steps=2", "--set", "train.eval_every=2",
                 "--out", out]) == 0, capsys.readouterr().err
    loaded = runs.load(out, "last", TASKS[name])
    for option in options:
        key, value = option.split("=")
        assert str(getattr(loaded.config.model, key)).lower() == value.lower()
    capsys.readouterr()
    assert main(["evaluate", out, *tiny.evaluate]) == 0
    assert tiny.metric in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name, refused", [("lm", ["bidirectional=true"]),
                                           ("forecast", ["bidirectional=true", "kind=autoregressive"])])
def test_an_option_a_task_cannot_use_is_refused_by_name(name, refused, tmp_path, capsys):
    tiny = TINY[name](tmp_path / "data")
    sets = [a for part in refused for a in ("--set", f"model.{part}")]
    assert main(["train", *tiny.train, *sets, "--out", str(tmp_path / "run")]) == EXIT_BAD_INPUT
    assert "model.bidirectional=True: expected false" in capsys.readouterr().err
