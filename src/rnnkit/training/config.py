"""Resolve plain mappings (from YAML files and ``--set a.b=value`` overrides) onto frozen dataclasses.

Every config in rnnkit is a frozen dataclass beside what it configures, validated in its own
``__post_init__``. This module only turns text and dictionaries into those dataclasses: unknown keys
and ill-typed values are errors that name the key and list what is valid.
"""

import dataclasses
import json
import math
import os
import types
import typing
from typing import Any, Mapping, Optional, Sequence

import yaml

from ..errors import ConfigError


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp, where: str) -> Any:
    """``value`` checked (and, for numbers, widened) to the annotated type ``tp``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        others = [option for option in options if option is not type(None)]
        if len(others) == 1:  # Optional[X]: X's own error says best what is wrong
            try:
                return _coerce(value, others[0], where)
            except ConfigError as error:
                raise ConfigError(f"{error} (or null)") from None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(f"{where}: {value!r} is not a {' or '.join(_type_name(o) for o in options)}")
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {list(typing.get_args(tp))}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping of {tp.__name__} fields, got {value!r}")
        return build(tp, value, prefix=where + ".")
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is None:
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(number):  # .nan, .inf: no key of rnnkit's means anything by them
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: cannot read a value of type {_type_name(tp)}")


def build(cls, mapping: Optional[Mapping] = None, prefix: str = ""):
    """A ``cls`` instance from ``mapping`` (nested dataclasses from nested mappings); missing keys take
    the dataclass defaults. Errors name the full key (``train.lr``) and list the valid ones."""
    mapping = dict(mapping or {})
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    check_keys(cls, mapping, prefix)
    for f in dataclasses.fields(cls):  # a required section that was not given: its own defaults, its own errors
        if (f.init and f.name not in mapping and dataclasses.is_dataclass(hints[f.name])
                and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING):
            mapping[f.name] = {}
    values = {name: _coerce(mapping[name], hints[name], prefix + name) for name in names if name in mapping}
    try:
        return cls(**values)
    except TypeError as error:  # a required field without a default
        raise ConfigError(f"{prefix[:-1] or cls.__name__}: {error}") from None
    except ValueError as error:  # the dataclass's own validation
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(str(error)) from None


def check_keys(cls, mapping: Mapping, prefix: str = "", deep: bool = False, where: str = "") -> None:
    """A ConfigError naming the first key of ``mapping`` that ``cls`` has no field for (``deep``: in its
    sections too), with the valid keys; ``where`` (a file) goes first in the message."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted((str(key) for key in mapping if key not in fields), key=str)
    if unknown:
        raise ConfigError(f"{where + ': ' if where else ''}unknown key '{prefix}{unknown[0]}'; valid keys"
                          f"{' under ' + prefix[:-1] if prefix else ''}: {', '.join(fields)}")
    if deep:
        hints = typing.get_type_hints(cls)
        for key, value in mapping.items():
            if dataclasses.is_dataclass(hints[key]) and isinstance(value, Mapping):
                check_keys(hints[key], value, f"{prefix}{key}.", deep, where)


def to_dict(config) -> dict:
    """A dataclass as plain data (tuples become lists), ready for JSON or YAML."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def parse_override(text: str) -> tuple:
    """``"train.lr=0.001"`` -> (["train", "lr"], 0.001); the value is read as YAML (numbers, true/false,
    null, lists), so strings need no quotes. (YAML 1.1 reads ``3e-4`` as a string; ``build`` widens it
    for a float field.)"""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, for instance train.lr=0.001")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {text!r}: cannot read the value: {error}") from None
    return key.strip().split("."), value


def merge(base: dict, path: Sequence[str], value: Any) -> dict:
    node = base
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ConfigError(f"--set {'.'.join(path)}: {part!r} is a value, not a section")
        node = child
    node[path[-1]] = value
    return base


def load_yaml(path: str) -> dict:
    """A YAML config file as a mapping; errors name the file."""
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    except ValueError as error:  # a value YAML parses but Python cannot hold: 2020-13-45, 5,000 digits
        raise ConfigError(f"{path}: a value cannot be read: {str(error).split(';')[0]}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read (lists or mappings hundreds deep)") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top, got {type(data).__name__}")
    return data


def resolve(cls, base: Optional[Mapping] = None, files: Sequence[str] = (), overrides: Sequence[str] = (),
            flags: Optional[Mapping] = None):
    """``cls`` from, in increasing priority: ``base``, each YAML file, ``flags`` (the command line's own
    options, such as --target: what a user types beats the config file it names), each ``--set``."""
    merged = json.loads(json.dumps(base or {}))
    layers = []
    for path in files:
        layers.append(load_yaml(path))
        check_keys(cls, layers[-1], deep=True, where=path)  # a misspelled key is named with its file
    for layer in layers + [json.loads(json.dumps(flags or {}))]:
        for key, value in layer.items():
            if value is None:  # a section whose keys are all commented out
                value = {}
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key].update(value)
            else:
                merged[key] = value
    for text in overrides:
        merge(merged, *parse_override(text))
    return build(cls, merged)
