"""Checkpoints as data: safetensors for tensors, JSON for everything else; loading runs no code.

A checkpoint is a directory ``RUN/checkpoints/step-00001200/`` holding

    model.safetensors   the model's parameters and buffers (tied weights stored once)
    train.safetensors   optimizer moments, RNG states, the carried hidden state, the data sampler's RNG
    checkpoint.json     step, config, vocabulary, optimizer scalars, schedule, data position, metrics

It is written into a temporary sibling directory and renamed into place; ``last.json`` and
``best.json`` point at checkpoint directories and are replaced atomically too (``os.replace``). So a
crash at any moment, SIGKILL during a write included, leaves the previous checkpoint whole and
``last.json`` pointing at a complete one; a stray ``*.tmp`` directory or ``.tmp-*`` file is removed by
the next save.

Reading trusts nothing: checkpoint.json records the size and SHA-256 of both safetensors files, and
they are checked before a tensor is used (a flipped byte in the weights is named, not loaded), and the
SHA-256 of its own contents (a changed value that still parses is named too); every
file must be a regular file (a FIFO in its place would block the reader); every JSON file, tensor
file, tensor name, dtype and shape that does not fit ends in a CheckpointError naming the file. A
checkpoint written before the checksums (no "files" or "json_sha256" entry) loads unverified.
"""

import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from typing import Optional, Tuple

import torch
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError

FORMAT = "rnnkit-checkpoint"
VERSION = 1
MODEL_FILE, TRAIN_FILE, META_FILE = "model.safetensors", "train.safetensors", "checkpoint.json"


def aliases(state: dict) -> list:
    """Groups of state-dict names that are one and the same tensor (tied weights), each sorted."""
    groups: dict = {}
    for name, t in state.items():
        key = (t.device, t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)
        groups.setdefault(key, []).append(name)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def model_tensors(model: torch.nn.Module) -> dict:
    """The model's state as independent CPU tensors, a tied weight once (under its first name, as
    safetensors' save_model keeps it). Parameters may be views of one buffer (cuDNN's layout on a GPU,
    layers/recurrent.py): each is copied out on its own, which safetensors requires."""
    state = model.state_dict()
    tied = {name for group in aliases(state) for name in group[1:]}
    out = {}
    for name, t in state.items():
        if name not in tied:
            t = t.detach().cpu().contiguous()
            out[name] = t if t.untyped_storage().nbytes() == t.numel() * t.element_size() else t.clone()
    return out


def _fsync_file(path: str) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def write_json_atomic(path: str, data) -> None:
    """``data`` as JSON at ``path``, via a temporary file in the same directory and ``os.replace``."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make report.json and exports private
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_record(path: str) -> dict:
    return {"bytes": os.path.getsize(path), "sha256": sha256_of(path)}


def save_checkpoint(directory: str, name: str, model: torch.nn.Module, tensors: dict, meta: dict) -> str:
    """Write checkpoint ``directory/name`` atomically and return its path."""
    os.makedirs(directory, exist_ok=True)
    for entry in os.listdir(directory):  # leftovers of a write that was killed: a checkpoint's, a pointer's
        if entry.endswith(".tmp"):
            shutil.rmtree(os.path.join(directory, entry), ignore_errors=True)
        elif entry.startswith(".tmp-"):
            os.unlink(os.path.join(directory, entry))
    final = os.path.join(directory, name)
    tmp = final + ".tmp"
    os.makedirs(tmp)
    save_file(model_tensors(model), os.path.join(tmp, MODEL_FILE))
    _fsync_file(os.path.join(tmp, MODEL_FILE))
    pause = float(os.environ.get("RNNKIT_TEST_CHECKPOINT_PAUSE", "0"))  # tests kill a run mid-write
    if pause:
        time.sleep(pause)
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, os.path.join(tmp, TRAIN_FILE))
    _fsync_file(os.path.join(tmp, TRAIN_FILE))
    files = {file: _file_record(os.path.join(tmp, file)) for file in (MODEL_FILE, TRAIN_FILE)}
    body = {"format": FORMAT, "version": VERSION, "files": files, **meta}
    write_json_atomic(os.path.join(tmp, META_FILE), {**body, "json_sha256": _json_sha256(json.loads(json.dumps(body)))})
    if os.path.exists(final):  # the same step saved again (after a resume): replace it
        shutil.rmtree(final)
    os.rename(tmp, final)
    return final


def regular_file(path: str, what: str) -> str:
    """``path``, once it is known to be a regular file (a FIFO or a device would block or never end)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CheckpointError(f"{path}: {what} is missing") from None
    except OSError as error:
        raise CheckpointError(f"{path}: {what} cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(mode):
        raise CheckpointError(f"{path}: {what} is not a regular file")
    return path


def read_json(path: str, what: str) -> dict:
    """A JSON object from ``path``; anything else is a CheckpointError naming the file."""
    regular_file(path, what)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise CheckpointError(f"{path}: {what} is damaged (not JSON: {error})") from None
    except OSError as error:
        raise CheckpointError(f"{path}: {what} cannot be read ({error.strerror})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: {what} is damaged (expected a JSON object)")
    return data


def read_pointer(directory: str, which: str = "last") -> Optional[str]:
    """The checkpoint path that ``last.json`` / ``best.json`` points at, or None when there is none."""
    pointer = os.path.join(directory, f"{which}.json")
    if not os.path.lexists(pointer):
        return None
    name = read_json(pointer, f"the {which!r} pointer").get("checkpoint")
    if not isinstance(name, str) or not name.startswith("step-") or os.sep in name or (os.altsep or os.sep) in name:
        raise CheckpointError(f"{pointer}: the {which!r} pointer is damaged (expected a step-* checkpoint name, "
                              f"got {name!r})")
    return os.path.join(directory, name)


def set_pointer(directory: str, which: str, path: str) -> None:
    write_json_atomic(os.path.join(directory, f"{which}.json"), {"checkpoint": os.path.basename(path)})


def read_meta(path: str) -> dict:
    """A checkpoint's JSON part, checked for format and version."""
    meta_path = os.path.join(path, META_FILE)
    if not os.path.isdir(path):
        raise CheckpointError(f"{path}: not a checkpoint directory")
    if not os.path.lexists(meta_path):
        raise CheckpointError(f"{path}: not a checkpoint (no {META_FILE})")
    meta = read_json(meta_path, "the checkpoint's description")
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CheckpointError(f"{meta_path}: format {meta.get('format')!r} version {meta.get('version')!r}; "
                              f"expected {FORMAT!r} version {VERSION}")
    recorded = meta.pop("json_sha256", None)  # absent in checkpoints written before it
    if recorded is not None and recorded != _json_sha256(meta):
        raise CheckpointError(f"{meta_path}: damaged: its contents do not match the SHA-256 written with them")
    return meta


def _json_sha256(data) -> str:
    """The SHA-256 of ``data`` as canonical JSON (sorted keys): the same for what was written and what is
    read back, since JSON keeps Python's floats exactly."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _checked(path: str, file: str, meta: dict) -> Tuple[str, bool]:
    """(path/file once it is a regular file whose size and SHA-256 are those ``meta`` recorded, whether
    a record was there to check: a checkpoint written before the checksums has none)."""
    where = regular_file(os.path.join(path, file), "a tensor file")
    files = meta.get("files", {})
    record = files.get(file) if isinstance(files, dict) else files
    if record is None:
        return where, False
    if not isinstance(record, dict) or not {"bytes", "sha256"} <= set(record):
        raise CheckpointError(f"{os.path.join(path, META_FILE)}: the record of {file} is damaged")
    size = os.path.getsize(where)
    if size != record["bytes"]:
        raise CheckpointError(f"{where}: damaged ({size:,} bytes, the checkpoint wrote {record['bytes']!r})")
    if sha256_of(where) != record["sha256"]:
        raise CheckpointError(f"{where}: damaged (its SHA-256 is not the one the checkpoint wrote)")
    return where, True


def _tensors(path: str, file: str, meta: Optional[dict] = None) -> dict:
    """The tensors of ``path/file``, checked against the record in the checkpoint's ``meta`` (read if not
    given)."""
    where, _ = _checked(path, file, read_meta(path) if meta is None else meta)
    try:
        return load_file(where)
    except Exception as error:  # safetensors' own errors (a bad header, a truncated file), and any other
        raise CheckpointError(f"{where}: damaged (not a safetensors file: {error})") from None


def verify(path: str) -> None:
    """Check every file of checkpoint ``path`` (its JSON, the checksums of its tensor files) without
    loading a tensor; a file with no checksum recorded (an older checkpoint) is parsed instead. A damaged
    checkpoint is a CheckpointError naming the file."""
    meta = read_meta(path)
    for file in (MODEL_FILE, TRAIN_FILE):
        if not _checked(path, file, meta)[1]:
            _tensors(path, file, meta)


def load_model_weights(path: str, model: torch.nn.Module, meta: Optional[dict] = None) -> None:
    """Load ``model.safetensors`` into ``model`` (strict: every name, shape and dtype must match);
    ``meta``: the checkpoint's, when the caller has read it already."""
    tensors = _tensors(path, MODEL_FILE, meta)
    where = os.path.join(path, MODEL_FILE)
    state = model.state_dict()
    for group in aliases(state):  # a tied weight is stored under one of its names
        stored = [name for name in group if name in tensors]
        for name in group:
            if stored and name not in tensors:
                tensors[name] = tensors[stored[0]]
    missing, unexpected = sorted(set(state) - set(tensors)), sorted(set(tensors) - set(state))
    if missing or unexpected:
        raise CheckpointError(f"{where}: weights do not fit the model: missing {missing[:5]}, unexpected "
                              f"{unexpected[:5]}")
    for name, value in state.items():
        if tensors[name].dtype != value.dtype or tensors[name].shape != value.shape:
            raise CheckpointError(f"{where}: {name} is {tensors[name].dtype} {tuple(tensors[name].shape)}, the "
                                  f"model's is {value.dtype} {tuple(value.shape)}")
    model.load_state_dict(tensors)


def load_train_tensors(path: str, meta: Optional[dict] = None) -> dict:
    return _tensors(path, TRAIN_FILE, meta)


def prune(directory: str, keep: int, protect: tuple = ()) -> None:
    """Delete all but the ``keep`` newest ``step-*`` checkpoints, never one in ``protect``."""
    names = sorted(n for n in os.listdir(directory) if n.startswith("step-") and not n.endswith(".tmp"))
    protected = {os.path.basename(p) for p in protect if p}
    for name in names[:max(0, len(names) - keep)]:
        if name not in protected:
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)


def optimizer_to_checkpoint(optimizer: torch.optim.Optimizer) -> tuple:
    """An optimizer's state dict split into (tensors for safetensors, plain data for JSON)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_checkpoint(optimizer: torch.optim.Optimizer, tensors: dict, data: dict) -> None:
    state = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, entry in data["scalars"].items():
        state.setdefault(int(index), {}).update(entry)
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in data["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
