"""Run directories, shared by every task: the saved config, and finding a run's checkpoints.

    RUN_DIR/config.yaml          {"task": NAME, "data": ..., "model": ..., "train": ...}
    RUN_DIR/checkpoints/         step-NNNNNNNN/ (safetensors + JSON), last.json, best.json
"""

import os
from typing import Callable, NamedTuple, Optional

import torch
import yaml
from torch import nn

from ..errors import ConfigError

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
        raise ckpt.CheckpointError(f"{run_dir}: not a run directory (no config.yaml) nor a checkpoint directory "
                                   f"(no {ckpt.META_FILE})")
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict) or "task" not in data:
        raise ckpt.CheckpointError(f"{path}: expected a mapping with a 'task' key")
    return data


def config_from_dict(cls, data: dict):
    data = dict(data)
    data.pop("task", None)
    return build(cls, data)


def resume(run_dir: str, task):
    """(Task, checkpoint path or None) for continuing ``run_dir`` from its last checkpoint; ``task`` is
    the task's module (tasks/contract.py). Killed before its first checkpoint, the run starts again
    from its saved config."""
    last = ckpt.read_pointer(os.path.join(run_dir, "checkpoints"), "last")
    if last is None:
        return task.Task(config_from_dict(task.RunConfig, read_run_config(run_dir))), None
    meta = ckpt.read_meta(last)
    return task.Task(config_from_dict(task.RunConfig, meta["config"]), **task.restore(meta)), last


class Loaded(NamedTuple):
    model: nn.Module   # in eval mode
    config: object     # the task's RunConfig
    meta: dict         # the checkpoint's
    checkpoint: str    # its directory


def load(path: str, which: str, task) -> Loaded:
    """A trained run of ``task`` (its module) from a run or checkpoint directory: reads no data."""
    found = find_checkpoint(path, which)
    meta = ckpt.read_meta(found)
    if meta.get("task") != task.NAME:
        raise ckpt.CheckpointError(f"{found}: a {meta.get('task')!r} checkpoint, not a {task.RUNS} one "
                                   f"(rnnkit train {task.NAME})")
    config = config_from_dict(task.RunConfig, meta["config"])
    model = build_within_memory(lambda: task.build_model(config, meta))
    ckpt.load_model_weights(found, model)
    model.eval()
    return Loaded(model, config, meta, found)


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


def memory_size() -> int:
    """This machine's physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def build_within_memory(build: Callable[[], nn.Module], limit: Optional[int] = None) -> nn.Module:
    """``build()``, once a dry run on the meta device (shapes only: no memory, no random numbers drawn)
    shows that training it fits in ``limit`` bytes (this machine's memory): its weights, their gradients
    and AdamW's two moments. A model too large is refused with its size before a byte is allocated
    (a hidden size of 1e9 would otherwise die in the allocator, or be killed by the kernel)."""
    limit = limit or memory_size()
    try:
        with torch.device("meta"):
            probe = build()
    except RuntimeError as problem:
        if "overflow" not in str(problem):
            raise
        raise ConfigError(f"the model is too large to be built at all ({problem}): make model.hidden_size, "
                          "model.num_layers or the embeddings smaller") from None
    count = sum(p.numel() for p in probe.parameters())
    size = sum(t.numel() * t.element_size() for t in [*probe.parameters(), *probe.buffers()])
    if 4 * size > limit:
        raise ConfigError(f"the model would have {count:,} parameters ({size / 2**30:,.1f} GiB; about "
                          f"{4 * size / 2**30:,.1f} GiB to train with AdamW), more than this machine's "
                          f"{limit / 2**30:,.1f} GiB of memory: make model.hidden_size, model.num_layers or the "
                          "embeddings smaller")
    return build()
