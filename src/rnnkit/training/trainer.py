"""The training loop: plain and readable, generic over models.

The model owns its loss: ``model.loss(batch, carry) -> (loss, count, carry)`` where ``loss`` is the
mean over ``count`` predictions and ``carry`` is state handed to the next batch (the hidden state of
truncated BPTT; ``None`` for models without one). The loop owns everything else: optimizer, learning
rate, clipping, accumulation, autocast, evaluation, early stopping, checkpoints, logs and seeds.

The data object hands out ``(batch, reset)`` pairs (``reset`` drops the carry, at a new epoch) and
saves and restores its own position: ``state() -> (json, tensors)``, ``load_state(json, tensors)``
and ``epochs`` (a float, for max_epochs). Evaluation is a callable returning a dict with ``loss``.

Resuming is exact: the checkpoint holds the weights, the optimizer's moments, every RNG state, the
data position and the carried state, so a resumed run repeats the uninterrupted one bit for bit (on
a GPU, as far as its kernels are deterministic).

``train.device`` puts the model on a GPU (or "auto": the GPU if there is one); batches follow it.
Checkpoints hold CPU tensors, so a model trained on a GPU loads anywhere.
"""

import math
import os
import re
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import torch

from ..errors import ConfigError, TrainingDiverged
from . import checkpoint as ckpt
from .logs import MetricsLog, TensorBoard, plot_losses
from .schedule import SCHEDULES, Plateau, cosine_factor, warmup_factor

OPTIMIZERS = ("adamw", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    # optimization
    optimizer: str = "adamw"        # "adamw" (Loshchilov & Hutter 2019) or "sgd" (with optional momentum)
    lr: float = 2e-3
    weight_decay: float = 0.01      # decoupled for adamw; L2 for sgd
    momentum: float = 0.0           # sgd only
    beta1: float = 0.9              # adamw only
    beta2: float = 0.999
    schedule: str = "cosine"        # "constant", "cosine" (to min_lr_ratio * lr) or "plateau"
    warmup_steps: int = 0           # linear warmup before the schedule
    min_lr_ratio: float = 0.1       # cosine: final lr / lr; plateau: lowest lr / lr
    plateau_factor: float = 0.25    # plateau: lr multiplier after plateau_patience bad evaluations
    plateau_patience: int = 0
    clip_norm: float = 1.0          # clip the gradient's global L2 norm; 0 = off
    accumulate: int = 1             # micro-batches per optimizer step
    bf16: bool = False              # bfloat16 autocast (CPU and CUDA)
    device: str = "cpu"             # "cpu", "cuda", "cuda:N", or "auto" (the first GPU if there is one)
    # how long: 0 = no limit; at least one is required and the first reached ends the run
    max_steps: int = 0              # optimizer steps
    max_epochs: float = 0.0
    time_budget: float = 0.0        # seconds of wall clock, evaluation included (not bitwise resumable)
    # evaluation, early stopping, checkpoints
    eval_every: int = 500           # optimizer steps between evaluations (and at the end)
    monitor: str = "loss"           # the evaluation metric that picks the best checkpoint and stops early
    monitor_mode: str = "auto"      # "min", "max", or "auto": max for accuracy/f1/bleu-like names, else min
    patience: int = 0               # stop after this many evaluations without improvement; 0 = never
    restore_best: bool = True       # end with the best evaluated weights
    checkpoint_every: int = 0       # optimizer steps between checkpoints; 0 = at each evaluation
    keep: int = 2                   # newest checkpoints kept (the best one is always kept)
    # reproducibility and logs
    seed: int = 0
    threads: int = 0                # torch CPU threads; 0 = torch's default
    log_every: int = 10             # steps between TensorBoard points and progress updates
    tensorboard: bool = True
    plot: bool = True               # loss.png at the end

    def __post_init__(self):
        def fail(name, allowed):
            raise ValueError(f"train.{name}={getattr(self, name)!r}: expected {allowed}")

        if self.optimizer not in OPTIMIZERS:
            fail("optimizer", f"one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            fail("schedule", f"one of {SCHEDULES}")
        for name in ("lr", "weight_decay", "momentum", "beta1", "beta2", "clip_norm", "max_epochs", "time_budget",
                     "min_lr_ratio", "plateau_factor"):
            if not math.isfinite(getattr(self, name)):  # (the config builder refuses them first)
                fail(name, "a finite number")
        if not self.lr > 0:
            fail("lr", "a number > 0")
        for name in ("weight_decay", "momentum", "clip_norm", "max_epochs", "time_budget"):
            if getattr(self, name) < 0:
                fail(name, "a number >= 0")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                fail(name, "a number in [0, 1)")
        if not 0 <= self.min_lr_ratio <= 1:
            fail("min_lr_ratio", "a number in [0, 1]")
        if not 0 < self.plateau_factor < 1:
            fail("plateau_factor", "a number in (0, 1)")
        for name in ("accumulate", "eval_every", "keep", "log_every"):
            if getattr(self, name) < 1:
                fail(name, "an integer >= 1")
        for name in ("warmup_steps", "max_steps", "patience", "checkpoint_every", "threads", "plateau_patience"):
            if getattr(self, name) < 0:
                fail(name, "an integer >= 0")
        if self.monitor_mode not in ("auto", "min", "max"):
            fail("monitor_mode", "one of ('auto', 'min', 'max')")
        if not (self.device in ("cpu", "cuda", "auto") or re.fullmatch(r"cuda:\d+", self.device)):
            fail("device", "'cpu', 'cuda', 'cuda:N' or 'auto'")
        if not (self.max_steps or self.max_epochs or self.time_budget):
            raise ValueError("train: no limit set: give at least one of train.max_steps, train.max_epochs, "
                             "train.time_budget (seconds); the first reached ends the run")


MAXIMIZED = ("acc", "f1", "bleu", "precision", "recall", "score", "auc")  # Keras's "auto" mode, extended


def maximized(config: TrainConfig) -> bool:
    """Whether a larger value of the monitored metric is better."""
    if config.monitor_mode != "auto":
        return config.monitor_mode == "max"
    return any(word in config.monitor.lower() for word in MAXIMIZED)


def resolve_device(name: str) -> torch.device:
    """train.device as a torch.device; a GPU that is asked for and absent is an error, not a silent CPU run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device={name!r}: CUDA is not available here (torch {torch.__version__}); "
                             "use train.device=cpu or auto")
        index = torch.device(name).index or 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"train.device={name!r}: only {torch.cuda.device_count()} GPU(s) here")
    return torch.device(name)


def to_device(batch, device: torch.device):
    """A batch (tensors in dicts, tuples or lists, at any depth) with every tensor on ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        items = [to_device(v, device) for v in batch]
        return type(batch)(*items) if hasattr(batch, "_fields") else type(batch)(items)
    return batch


class Callback:
    """Hooks for progress reporting (the CLI's progress bar is one). Library code prints nothing."""

    def on_start(self, trainer: "Trainer") -> None: ...
    def on_step(self, trainer: "Trainer", record: dict) -> None: ...
    def on_eval(self, trainer: "Trainer", record: dict) -> None: ...
    def on_checkpoint(self, trainer: "Trainer", path: str) -> None: ...
    def on_end(self, trainer: "Trainer", summary: dict) -> None: ...


def _parts(carry) -> Tuple[torch.Tensor, ...]:
    if carry is None:
        return ()
    return tuple(carry) if isinstance(carry, (tuple, list)) else (carry,)


def _detach(carry):
    if carry is None:
        return None
    if isinstance(carry, torch.Tensor):
        return carry.detach()
    return type(carry)(*(p.detach() for p in carry)) if hasattr(carry, "_fields") else tuple(p.detach() for p in carry)


class Trainer:
    def __init__(self, model: torch.nn.Module, data, evaluate: Callable[[], dict], config: TrainConfig,
                 run_dir: str, meta: Optional[dict] = None, callbacks: Sequence[Callback] = (),
                 evaluate_final: Optional[Callable[[], dict]] = None):
        self.model, self.data, self.evaluate, self.config = model, data, evaluate, config
        self.evaluate_final = evaluate_final  # e.g. on all the validation data, once, with the final weights
        self.run_dir, self.meta, self.callbacks = run_dir, dict(meta or {}), list(callbacks)
        self.checkpoint_dir = os.path.join(run_dir, "checkpoints")
        self.device = resolve_device(config.device)
        model.to(self.device)  # before the optimizer is built on its parameters
        params = [p for p in model.parameters() if p.requires_grad]
        self.params = params
        if config.optimizer == "adamw":
            self.optimizer = torch.optim.AdamW(params, lr=config.lr, betas=(config.beta1, config.beta2),
                                               weight_decay=config.weight_decay)
        else:
            self.optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                                             weight_decay=config.weight_decay)
        self.plateau = Plateau(config.plateau_factor, config.plateau_patience, config.min_lr_ratio)
        self.step = 0
        self.elapsed = 0.0              # training seconds before this process (from the checkpoint)
        self.carry = None
        self.maximize = maximized(config)
        self.best, self.best_step, self.bad_evals = None, -1, 0  # best value of config.monitor
        self.stopped_early = False
        self.last_eval_step = -1
        self.resumed_from: Optional[str] = None

    # --- learning rate --------------------------------------------------------------------------
    def progress(self, elapsed: float) -> float:
        """Fraction of the run done: the largest of the fractions of its limits."""
        cfg, fractions = self.config, []
        if cfg.max_steps:
            fractions.append(self.step / cfg.max_steps)
        if cfg.max_epochs:
            fractions.append(self.data.epochs / cfg.max_epochs)
        if cfg.time_budget:
            fractions.append(elapsed / cfg.time_budget)
        return max(fractions)

    def lr_at(self, elapsed: float) -> float:
        cfg = self.config
        factor = warmup_factor(self.step, cfg.warmup_steps)
        if cfg.schedule == "cosine":
            factor *= cosine_factor(self.progress(elapsed), cfg.min_lr_ratio)
        elif cfg.schedule == "plateau":
            factor *= self.plateau.scale
        return cfg.lr * factor

    # --- checkpoints ----------------------------------------------------------------------------
    def save(self, elapsed: float, best: bool = False) -> str:
        bad = [name for name, p in self.model.named_parameters() if not torch.isfinite(p).all()]
        if bad:  # an update can overflow with a finite loss and gradient; never checkpoint it
            raise TrainingDiverged(f"parameters {', '.join(bad[:3])} are no longer finite after step {self.step}; "
                                   "try a lower train.lr or a train.clip_norm")
        opt_tensors, opt_data = ckpt.optimizer_to_checkpoint(self.optimizer)
        data_json, data_tensors = self.data.state()
        tensors = {**opt_tensors, "rng.torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            for i, state in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda.{i}"] = state
        tensors.update({f"data.{k}": v for k, v in data_tensors.items()})
        tensors.update({f"carry.{i}": p for i, p in enumerate(_parts(self.carry))})
        meta = {**self.meta, "step": self.step, "epochs": self.data.epochs, "elapsed": elapsed,
                "optimizer": opt_data, "plateau": self.plateau.state(), "data": data_json,
                "early_stopping": {"monitor": self.config.monitor, "best": self.best,
                                   "best_step": self.best_step, "bad_evals": self.bad_evals,
                                   "stopped": self.stopped_early, "last_eval_step": self.last_eval_step}}
        path = ckpt.save_checkpoint(self.checkpoint_dir, f"step-{self.step:08d}", self.model, tensors, meta)
        if best:
            ckpt.set_pointer(self.checkpoint_dir, "best", path)
        ckpt.set_pointer(self.checkpoint_dir, "last", path)
        ckpt.prune(self.checkpoint_dir, self.config.keep, protect=(ckpt.read_pointer(self.checkpoint_dir, "best"),))
        for cb in self.callbacks:
            cb.on_checkpoint(self, path)
        return path

    def load(self, path: str) -> None:
        """Restore everything a checkpoint holds, so that training continues exactly. Its tensor files are
        checked against their checksums; a part of its JSON that is missing or garbled is named."""
        meta = ckpt.read_meta(path)
        ckpt.load_model_weights(path, self.model, meta)
        tensors = ckpt.load_train_tensors(path, meta)
        try:
            self._restore(path, meta, tensors)
        except ckpt.CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as error:
            raise ckpt.CheckpointError(f"{os.path.join(path, ckpt.META_FILE)}: damaged ({type(error).__name__}: "
                                       f"{error})") from None

    def _restore(self, path: str, meta: dict, tensors: dict) -> None:
        ckpt.optimizer_from_checkpoint(self.optimizer, tensors, meta["optimizer"])
        self.plateau.load(meta["plateau"])
        self.data.load_state(meta["data"], {k[5:]: v for k, v in tensors.items() if k.startswith("data.")})
        carry = [tensors[f"carry.{i}"] for i in range(len([k for k in tensors if k.startswith("carry.")]))]
        self.carry = tuple(c.to(self.device) for c in carry) if carry else None
        early = meta["early_stopping"]
        if early.get("monitor", "loss") != self.config.monitor:
            raise ckpt.CheckpointError(f"{path}: the run monitored {early.get('monitor', 'loss')!r}, the config "
                                       f"train.monitor is {self.config.monitor!r}")
        self.best = early["best"] if "best" in early else early.get("best_loss")
        self.best_step, self.bad_evals = early["best_step"], early["bad_evals"]
        self.stopped_early, self.last_eval_step = early["stopped"], early["last_eval_step"]
        self.step, self.elapsed = meta["step"], meta["elapsed"]
        torch.set_rng_state(tensors["rng.torch"])
        cuda = [tensors[k] for k in sorted(t for t in tensors if t.startswith("rng.cuda."))]
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda)
        self.resumed_from = path

    # --- the loop -------------------------------------------------------------------------------
    def done(self, elapsed: float) -> bool:
        cfg = self.config
        return (self.stopped_early or (cfg.max_steps and self.step >= cfg.max_steps)
                or (cfg.max_epochs and self.data.epochs >= cfg.max_epochs)
                or (cfg.time_budget and elapsed >= cfg.time_budget))

    def _in_eval_mode(self, evaluate: Callable[[], dict]) -> dict:
        self.model.eval()
        with torch.no_grad():
            metrics = dict(evaluate())
        self.model.train()
        return metrics

    def _evaluate(self, elapsed: float, log: MetricsLog, board: Optional[TensorBoard]) -> dict:
        """Evaluate, update early stopping and the plateau schedule, and report it (log, TensorBoard,
        callbacks); returns the record."""
        metrics = self._in_eval_mode(self.evaluate)
        self.last_eval_step = self.step
        monitor = self.config.monitor
        if monitor not in metrics:
            raise ValueError(f"train.monitor={monitor!r} is not among the evaluation's metrics {sorted(metrics)}")
        value = float(metrics[monitor])
        improved = self.best is None or (value > self.best if self.maximize else value < self.best)
        if improved:
            self.best, self.best_step, self.bad_evals = value, self.step, 0
        else:
            self.bad_evals += 1
            if self.config.patience and self.bad_evals >= self.config.patience:
                self.stopped_early = True
        if self.config.schedule == "plateau":
            self.plateau.update(-value if self.maximize else value)
        record = {"kind": "valid", "step": self.step, **metrics, "best": self.best, "improved": improved,
                  "elapsed": elapsed}
        log.write(record)
        if board:
            board.scalars("valid", {k: v for k, v in record.items() if k not in ("step", "kind")}, self.step)
        for cb in self.callbacks:
            cb.on_eval(self, record)
        return record

    def fit(self) -> dict:
        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        os.makedirs(self.run_dir, exist_ok=True)
        resume_step = self.step if self.resumed_from else None
        log = MetricsLog(os.path.join(self.run_dir, "metrics.jsonl"), resume_step=resume_step)
        board = TensorBoard(os.path.join(self.run_dir, "tensorboard"),
                            purge_step=self.step + 1 if self.resumed_from else None) if cfg.tensorboard else None
        autocast_device = self.device.type
        start = time.perf_counter()
        clock = lambda: self.elapsed + time.perf_counter() - start  # noqa: E731 (seconds, across resumes)
        every = cfg.checkpoint_every or cfg.eval_every
        window_tokens, window_start = 0, time.perf_counter()
        for cb in self.callbacks:
            cb.on_start(self)
        self.model.train()
        try:
            while not self.done(clock()):
                lr = self.lr_at(clock())
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                self.optimizer.zero_grad(set_to_none=True)
                total, count = 0.0, 0
                for _ in range(cfg.accumulate):
                    batch, reset = self.data.next()
                    batch = to_device(batch, self.device)
                    if reset:
                        self.carry = None
                    with torch.autocast(autocast_device, dtype=torch.bfloat16, enabled=cfg.bf16):
                        loss, n, carry = self.model.loss(batch, self.carry)
                    (loss / cfg.accumulate).backward()
                    self.carry = _detach(carry)
                    total, count = total + loss.item() * n, count + n
                step_loss = total / max(count, 1)
                norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.clip_norm if cfg.clip_norm else math.inf)
                if not (math.isfinite(step_loss) and math.isfinite(norm)):  # stop before the weights are hit
                    what = "loss" if not math.isfinite(step_loss) else "gradient norm"
                    value = step_loss if what == "loss" else float(norm)
                    raise TrainingDiverged(f"the training {what} is {value} at step {self.step + 1} (lr {lr:.3g}); "
                                           "try a lower train.lr or a train.clip_norm")
                self.optimizer.step()
                self.step += 1
                window_tokens += count
                record = {"kind": "train", "step": self.step, "loss": step_loss, "lr": lr,
                          "grad_norm": float(norm), "epochs": round(self.data.epochs, 6), "elapsed": round(clock(), 3)}
                if self.step % cfg.log_every == 0 or self.step == 1:
                    now = time.perf_counter()
                    record["tokens_per_s"] = window_tokens / max(now - window_start, 1e-9)
                    window_tokens, window_start = 0, now
                    if board:
                        board.scalars("train", {k: record[k] for k in ("loss", "lr", "grad_norm", "tokens_per_s")},
                                      self.step)
                log.write(record)
                for cb in self.callbacks:
                    cb.on_step(self, record)
                evaluated = improved = False
                if self.step % cfg.eval_every == 0:
                    evaluated, improved = True, self._evaluate(clock(), log, board)["improved"]
                if self.step % every == 0 or (evaluated and improved):
                    log.flush()
                    self.save(clock(), best=evaluated and improved)
            # the end: a last evaluation, a last checkpoint, the best weights back
            if self.last_eval_step != self.step:
                result = self._evaluate(clock(), log, board)
                log.flush()
                self.save(clock(), best=result["improved"])
            elif not os.path.exists(os.path.join(self.checkpoint_dir, f"step-{self.step:08d}")):
                log.flush()
                self.save(clock())
            best = ckpt.read_pointer(self.checkpoint_dir, "best")
            if cfg.restore_best and best and os.path.basename(best) != f"step-{self.step:08d}":
                ckpt.load_model_weights(best, self.model)
            final = None
            if self.evaluate_final is not None:
                final = self._in_eval_mode(self.evaluate_final)
                log.write({"kind": "final", "step": self.step,
                           "checkpoint": os.path.basename(best) if cfg.restore_best and best else None, **final})
        finally:
            log.close()
            if board:
                board.close()
        if cfg.plot:
            plot_losses(os.path.join(self.run_dir, "metrics.jsonl"), os.path.join(self.run_dir, "loss.png"),
                        title=os.path.basename(os.path.abspath(self.run_dir)))
        summary = {"steps": self.step, "elapsed": clock(), "monitor": cfg.monitor, "best": self.best,
                   "best_step": self.best_step,
                   "stopped_early": self.stopped_early, "final": final,
                   "best_checkpoint": best, "last_checkpoint": ckpt.read_pointer(self.checkpoint_dir, "last")}
        for cb in self.callbacks:
            cb.on_end(self, summary)
        return summary
