"""Run directories, shared by every task: the saved config, and finding a run's checkpoints.

    RUN_DIR/config.yaml          {"task": NAME, "data": ..., "model": ..., "train": ...}
    RUN_DIR/checkpoints/         step-NNNNNNNN/ (safetensors + JSON), last.json, best.json
"""

import os

import yaml

from ..training import checkpoint as ckpt
from ..training.config import build, to_dict


def save_run_config(run_dir: str, task: str, config) -> None:
    os.makedirs(run_dir, exist_ok=True)
    tmp = os.path.join(run_dir, ".config.yaml.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        yaml.safe_dump({"task": task, **to_dict(config)}, f, sort_keys=False)
    os.replace(tmp, os.path.join(run_dir, "config.yaml"))


def read_run_config(run_dir: str) -> dict:
    """The mapping saved in RUN_DIR/config.yaml (with its "task")."""
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        raise ckpt.CheckpointError(f"{run_dir}: not a run directory (no config.yaml)")
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict) or "task" not in data:
        raise ckpt.CheckpointError(f"{path}: expected a mapping with a 'task' key")
    return data


def config_from_dict(cls, data: dict):
    data = dict(data)
    data.pop("task", None)
    return build(cls, data)


def resume(run_dir: str, config_class, make_task):
    """(task, checkpoint path or None) for continuing ``run_dir`` from its last checkpoint.
    ``make_task(config, meta)`` builds the task; meta is None when the run was killed before its first
    checkpoint (it then starts again from the saved config)."""
    last = ckpt.read_pointer(os.path.join(run_dir, "checkpoints"), "last")
    if last is None:
        return make_task(config_from_dict(config_class, read_run_config(run_dir)), None), None
    meta = ckpt.read_meta(last)
    return make_task(config_from_dict(config_class, meta["config"]), meta), last


def run_task(path: str) -> str:
    """The task name of a run directory or a checkpoint directory."""
    if os.path.isfile(os.path.join(path, ckpt.META_FILE)):
        return ckpt.read_meta(path).get("task", "?")
    return read_run_config(path)["task"]


def find_checkpoint(path: str, which: str = "best") -> str:
    """A checkpoint directory from a run directory (its best, else last) or a checkpoint directory."""
    if os.path.isfile(os.path.join(path, ckpt.META_FILE)):
        return path
    directory = os.path.join(path, "checkpoints")
    found = ckpt.read_pointer(directory, which) or ckpt.read_pointer(directory, "last")
    if found is None:
        raise ckpt.CheckpointError(f"{path}: no checkpoint found (expected a run directory with checkpoints/ "
                                   "or a checkpoint directory)")
    return found


def load_meta(path: str, which: str, task: str, what: str):
    """(checkpoint directory, its meta) for a run of ``task``; a clear error for another task's run."""
    found = find_checkpoint(path, which)
    meta = ckpt.read_meta(found)
    if meta.get("task") != task:
        raise ckpt.CheckpointError(f"{found}: a {meta.get('task')!r} checkpoint, not {what}")
    return found, meta
