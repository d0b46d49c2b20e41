"""Config resolution: YAML files and --set overrides onto frozen dataclasses, in order of priority;
unknown keys and ill-typed values are errors that name the key and list the valid ones."""

from dataclasses import dataclass, field
from typing import Literal, Optional, Tuple

import pytest

from rnnkit.training.config import ConfigError, build, load_yaml, merge, parse_override, resolve, to_dict


@dataclass(frozen=True)
class Model:
    hidden_size: int = 8
    dropout: float = 0.1
    cell: Literal["lstm", "gru"] = "lstm"
    sizes: Tuple[int, ...] = (1, 2)

    def __post_init__(self):
        if self.hidden_size < 1:
            raise ValueError(f"model.hidden_size={self.hidden_size}: expected an integer >= 1")


@dataclass(frozen=True)
class Train:
    lr: float = 1e-3
    bf16: bool = False
    name: str = "run"
    seed: Optional[int] = None


@dataclass(frozen=True)
class Required:
    path: str


@dataclass(frozen=True)
class Run:
    model: Model = field(default_factory=Model)
    train: Train = field(default_factory=Train)


def test_empty_mapping_gives_defaults():
    assert build(Run, {}) == Run()


def test_nested_values_land_in_their_sections():
    run = build(Run, {"model": {"hidden_size": 32, "cell": "gru", "sizes": [3, 4]}, "train": {"seed": 7}})
    assert run.model == Model(hidden_size=32, cell="gru", sizes=(3, 4))
    assert run.train == Train(seed=7)


@pytest.mark.parametrize("mapping, key, valid", [
    ({"modle": {}}, "'modle'", "model, train"),
    ({"train": {"lr": 1.0, "learning_rate": 1.0}}, "'train.learning_rate'", "under train: lr, bf16, name, seed"),
])
def test_unknown_key_names_it_and_lists_valid_keys(mapping, key, valid):
    with pytest.raises(ConfigError) as error:
        build(Run, mapping)
    assert f"unknown key {key}" in str(error.value)
    assert valid in str(error.value)


@pytest.mark.parametrize("mapping, message", [
    ({"train": {"lr": "fast"}}, "train.lr: expected a number, got 'fast'"),
    ({"train": {"lr": True}}, "train.lr: expected a number, got True"),
    ({"train": {"bf16": 1}}, "train.bf16: expected true or false, got 1"),
    ({"train": {"name": 3}}, "train.name: expected a string, got 3"),
    ({"model": {"hidden_size": 8.5}}, "model.hidden_size: expected an integer, got 8.5"),
    ({"model": {"hidden_size": True}}, "model.hidden_size: expected an integer, got True"),
    ({"model": {"cell": "rnn"}}, "model.cell: 'rnn' is not one of ['lstm', 'gru']"),
    ({"model": {"sizes": 3}}, "model.sizes: expected a list, got 3"),
    ({"model": {"sizes": [1, "x"]}}, "model.sizes[1]: expected an integer, got 'x'"),
    ({"model": 5}, "model: expected a mapping of Model fields, got 5"),
])
def test_ill_typed_value_names_the_key(mapping, message):
    with pytest.raises(ConfigError) as error:
        build(Run, mapping)
    assert str(error.value) == message


def test_numbers_widen_to_float_and_yaml_11_exponents_are_read():
    # YAML 1.1 (PyYAML) reads 1e-3 without a dot as a string; a float field still takes it
    run = build(Run, {"model": {"dropout": 0}, "train": {"lr": "1e-3"}})
    assert type(run.model.dropout) is float and run.model.dropout == 0.0
    assert run.train.lr == pytest.approx(1e-3)


def test_optional_rejects_other_types():
    with pytest.raises(ConfigError, match=r"^train.seed: expected an integer, got 'x' \(or null\)$"):
        build(Run, {"train": {"seed": "x"}})


def test_optional_accepts_none_and_the_type():
    assert build(Train, {"seed": None}).seed is None
    assert build(Train, {"seed": 3}).seed == 3


def test_the_dataclass_validation_becomes_a_config_error():
    with pytest.raises(ConfigError, match=r"model.hidden_size=0: expected an integer >= 1"):
        build(Run, {"model": {"hidden_size": 0}})


def test_a_missing_required_field_is_a_config_error():
    with pytest.raises(ConfigError, match="Required.*path"):
        build(Required, {})


def test_to_dict_round_trips_through_build():
    run = build(Run, {"model": {"sizes": [5]}, "train": {"lr": 0.5}})
    plain = to_dict(run)
    assert plain["model"]["sizes"] == [5]  # plain data: a list, not a tuple
    assert build(Run, plain) == run


@pytest.mark.parametrize("text, path, value", [
    ("train.lr=0.5", ["train", "lr"], 0.5),
    ("train.bf16=true", ["train", "bf16"], True),
    ("model.sizes=[3, 4]", ["model", "sizes"], [3, 4]),
    ("train.name=hello world", ["train", "name"], "hello world"),
    ("train.seed=null", ["train", "seed"], None),
    ("train.name=", ["train", "name"], ""),
    (" train.name = a=b", ["train", "name"], "a=b"),  # the value is everything after the first '='
])
def test_parse_override(text, path, value):
    assert parse_override(text) == (path, value)


@pytest.mark.parametrize("text", ["train.lr", "=3", " =3"])
def test_parse_override_needs_key_and_value(text):
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_override(text)


def test_parse_override_bad_yaml_value():
    with pytest.raises(ConfigError, match="cannot read the value"):
        parse_override("model.sizes=[1, 2")


def test_merge_into_a_value_is_an_error():
    with pytest.raises(ConfigError, match="'lr' is a value, not a section"):
        merge({"train": {"lr": 1.0}}, ["train", "lr", "x"], 2)


def test_resolve_priority_base_then_files_then_overrides(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("train:\n  lr: 0.1\n  name: from-a\nmodel:\n  hidden_size: 16\n")
    second.write_text("train:\n  lr: 0.2\n")
    base = {"train": {"bf16": True, "lr": 0.01}, "model": {"dropout": 0.5}}
    run = resolve(Run, base, files=[str(first), str(second)], overrides=["train.lr=3e-4", "model.cell=gru"])
    # sections merge key by key: later sources replace only the keys they name
    assert run == Run(model=Model(hidden_size=16, dropout=0.5, cell="gru"),
                      train=Train(lr=3e-4, bf16=True, name="from-a"))
    assert base == {"train": {"bf16": True, "lr": 0.01}, "model": {"dropout": 0.5}}  # not modified


def test_command_line_flags_beat_the_config_files_and_lose_to_set(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("train:\n  lr: 0.1\n  name: from-file\n")
    run = resolve(Run, files=[str(path)], flags={"train": {"name": "from-flag", "lr": 0.5}}, overrides=["train.lr=0.2"])
    assert run.train.name == "from-flag" and run.train.lr == 0.2


def test_resolve_unknown_override_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'train.lrr'; valid keys under train: lr, bf16"):
        resolve(Run, overrides=["train.lrr=1"])


def test_load_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 0.5\n")
    assert load_yaml(str(path)) == {"train": {"lr": 0.5}}
    path.write_text("")
    assert load_yaml(str(path)) == {}


@pytest.mark.parametrize("content, message", [
    (None, "config file not found"),
    ("train: [1, 2\n", "not valid YAML"),
    ("- 1\n- 2\n", "expected a mapping of sections at the top, got list"),
    (b"train:\n  name: \xff\n", "not valid YAML"),
    ("train:\n  name: 2020-13-45\n", "a value cannot be read: month must be in 1..12"),
    ("train:\n  lr: " + "9" * 5000 + "\n", "a value cannot be read: Exceeds the limit (4300 digits)"),
    ("train: " + "[" * 2000 + "\n", "nested too deeply to read"),
])
def test_load_yaml_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "c.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as error:
        load_yaml(str(path))
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_resolve_a_file_section_with_every_key_commented_out_keeps_the_base(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  # lr: 0.5\nmodel:\n  hidden_size: 4\n")
    run = resolve(Run, {"train": {"lr": 0.25}}, files=[str(path)])
    assert run == Run(model=Model(hidden_size=4), train=Train(lr=0.25))


@pytest.mark.parametrize("content, key", [("model:\n  hiden_size: 4\n", "'model.hiden_size'; valid keys under model"),
                                          ("trian:\n  lr: 0.5\n", "'trian'; valid keys: model, train")])
def test_a_misspelled_key_in_a_config_file_is_named_with_the_file(tmp_path, content, key):
    path = tmp_path / "c.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=f"^{path}: unknown key {key}"):
        resolve(Run, files=[str(path)])
