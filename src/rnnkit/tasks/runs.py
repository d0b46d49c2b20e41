"""Run directories, shared by every task: the saved config, and finding a run's checkpoints.

    RUN_DIR/config.yaml          {"task": NAME, "data": ..., "model": ..., "train": ...}
    RUN_DIR/checkpoints/         step-NNNNNNNN/ (safetensors + JSON), last.json, best.json
"""

import contextlib
import os
from typing import Callable, List, NamedTuple, Optional

import torch
import yaml
from torch import nn

from ..errors import CheckpointError, ConfigError, RnnkitError
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
    if not os.path.lexists(path):
        raise CheckpointError(f"{run_dir}: not a run directory (no config.yaml) nor a checkpoint directory "
                              f"(no {ckpt.META_FILE})")
    ckpt.regular_file(path, "the run's config")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as error:
        raise CheckpointError(f"{path}: the run's config is damaged (not YAML: {error})") from None
    if not isinstance(data, dict) or "task" not in data:
        raise CheckpointError(f"{path}: the run's config is damaged (expected a mapping with a 'task' key)")
    return data


def config_from_dict(cls, data: dict):
    data = dict(data)
    data.pop("task", None)
    return build(cls, data)


def stored_config(task, data, where: str):
    """The RunConfig saved in a run or checkpoint (``where``): a CheckpointError naming the file when it
    does not build (damaged, or from a version whose keys this one does not take)."""
    if not isinstance(data, dict):
        raise CheckpointError(f"{where}: the stored config is damaged (expected a mapping)")
    try:
        return config_from_dict(task.RunConfig, data)
    except ConfigError as error:
        raise CheckpointError(f"{where}: the stored config does not build: {error}") from None


@contextlib.contextmanager
def reading(checkpoint: str):
    """Around code that rebuilds things from a checkpoint's JSON (vocabularies, scalers, the model's
    shape): whatever fails there (a missing key, a garbled vocabulary, a tokenizer library's own error)
    is that file's damage, reported as a CheckpointError naming it."""
    try:
        yield
    except RnnkitError:
        raise
    except Exception as error:
        raise CheckpointError(f"{os.path.join(checkpoint, ckpt.META_FILE)}: damaged ({type(error).__name__}: "
                              f"{error})") from None


class Resumed(NamedTuple):
    task: object                 # the task, rebuilt as the checkpoint's run had it
    checkpoint: Optional[str]    # where training continues from; None: from the start
    passed_over: List[str]       # the damaged checkpoints passed over on the way, each "why"


def resume(run_dir: str, task) -> Resumed:
    """The task and checkpoint to continue ``run_dir`` from: its last checkpoint, or when that one is
    damaged the newest one that is whole (every file checked: ckpt.verify). ``task`` is the task's
    module (tasks/contract.py). Killed before its first checkpoint, the run starts again from its saved
    config."""
    directory = os.path.join(run_dir, "checkpoints")
    passed_over = []
    try:
        last = ckpt.read_pointer(directory, "last")
    except CheckpointError as problem:
        passed_over.append(str(problem))
        last = None
    older = sorted((os.path.join(directory, name) for name in (os.listdir(directory) if os.path.isdir(directory)
                                                               else ()) if name.startswith("step-")
                    and not name.endswith(".tmp")), reverse=True)
    candidates = ([last] if last else []) + [path for path in older if path != last]
    for path in candidates:
        try:
            ckpt.verify(path)
            meta = ckpt.read_meta(path)
            config = stored_config(task, meta.get("config"), os.path.join(path, ckpt.META_FILE))
            with reading(path):
                saved = task.restore(meta)
            return Resumed(task.Task(config, **saved), path, passed_over)
        except CheckpointError as problem:
            passed_over.append(str(problem))
    if candidates:
        raise CheckpointError(f"{run_dir}: no checkpoint is whole: " + "; ".join(passed_over))
    config = stored_config(task, read_run_config(run_dir), os.path.join(run_dir, "config.yaml"))
    return Resumed(task.Task(config), None, passed_over)


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
    config = stored_config(task, meta.get("config"), os.path.join(found, ckpt.META_FILE))
    with reading(found):
        model = build_within_memory(lambda: task.build_model(config, meta))
    ckpt.load_model_weights(found, model, meta)
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
