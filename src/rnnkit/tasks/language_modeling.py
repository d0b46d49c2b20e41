"""Language modeling as a task: files -> tokenizer -> streams -> LanguageModel -> Trainer -> metrics,
plus loading a trained run back for evaluation and generation.

Config sections (YAML or ``--set``): ``data`` (LanguageModelData, below), ``model``
(LanguageModelConfig) and ``train`` (TrainConfig).
"""

import functools
import hashlib
import math
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import torch
from ..data import DataError, read_text
from ..data.corpus import STDLIB, stdlib_corpus
from ..data.streams import TokenStream, eval_windows
from ..data.tokenizer import KINDS, fit_tokenizer, tokenizer_from_json
from ..models import LanguageModel, LanguageModelConfig
from . import runs
from .contract import Flag, Report, need_data, unknown_note, whole
from ..training.config import to_dict
from ..training.trainer import TrainConfig, Trainer

# the task contract (tasks/contract.py)
NAME = "lm"
SUMMARY = "language model (character, word or BPE level)"
RUNS = "language-model"
DOCS = "language-modeling.md"  # its page in docs/, which documents every key of its config
RATE = "tok_s"  # what the progress bar calls the count per second of model.loss
VERB = "generate"
TRAIN_FLAGS = (
    Flag("--data", "train", "training text (UTF-8; default: the Python standard library's source), its last 10%% "
         "held out without --valid", "FILE"),
    Flag("--valid", "valid", "validation text", "FILE"),
)
EVALUATE_FLAGS = (Flag("--bptt", "bptt", "steps per window (default 256)", "T", whole(1)),)


@dataclass(frozen=True)
class LanguageModelData:
    train: str = STDLIB             # text file, or "@stdlib" (the Python standard library's source)
    valid: str = ""                 # text file; "" = the last valid_fraction of train
    valid_fraction: float = 0.1
    tokenizer: str = "char"         # char, word (whitespace, <eos> per line, <unk>) or bpe (byte-level)
    vocab_size: int = 0             # word: keep the most frequent (0 = all); bpe: target size (0 = 8000)
    min_count: int = 1              # word / bpe: rarer symbols are not in the vocabulary
    batch_size: int = 64            # B parallel streams
    bptt: int = 128                 # T steps of truncated backpropagation through time
    random_bptt: bool = False       # AWD-LSTM's randomized window length
    eval_batch_size: int = 16
    eval_bptt: int = 256
    eval_fraction: float = 1.0      # fraction of the validation text used by evaluations during training

    def __post_init__(self):
        if self.tokenizer not in KINDS:
            raise ValueError(f"data.tokenizer={self.tokenizer!r}: expected one of {KINDS}")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"data.valid_fraction={self.valid_fraction!r}: expected a number in (0, 1)")
        if not 0 < self.eval_fraction <= 1:
            raise ValueError(f"data.eval_fraction={self.eval_fraction!r}: expected a number in (0, 1]")
        for name in ("batch_size", "bptt", "eval_batch_size", "eval_bptt", "min_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"data.{name}={getattr(self, name)!r}: expected an integer >= 1")
        if self.vocab_size < 0:
            raise ValueError(f"data.vocab_size={self.vocab_size!r}: expected an integer >= 0")


@dataclass(frozen=True)
class RunConfig:
    train: TrainConfig  # required: it must name at least one limit (max_steps, max_epochs, time_budget)
    data: LanguageModelData = field(default_factory=LanguageModelData)
    model: LanguageModelConfig = field(default_factory=LanguageModelConfig)


def read_corpus(path: str) -> str:
    return stdlib_corpus() if path == STDLIB else read_text(path)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_texts(cfg: LanguageModelData):
    """(train text, valid text); without a valid file, the last ``valid_fraction`` of train (cut at a
    line break where there is one near, so words are not split)."""
    text = read_corpus(cfg.train)
    if cfg.valid:
        return text, read_text(cfg.valid)
    cut = int(len(text) * (1 - cfg.valid_fraction))
    if cfg.tokenizer != "char":
        newline = text.rfind("\n", 0, cut)
        cut = newline + 1 if newline > 0 else cut
    if cut < 2 or len(text) - cut < 2:
        raise DataError(f"{cfg.train}: {len(text)} characters are too few to split off a validation part")
    return text[:cut], text[cut:]


def encode(tokenizer, text: str, where: str) -> torch.Tensor:
    ids, unknown = tokenizer.encode_checked(text)
    if len(ids) < 2:
        raise DataError(f"{where}: fewer than 2 tokens after tokenization")
    return torch.tensor(ids, dtype=torch.long), unknown


def evaluate_stream(model: LanguageModel, ids: torch.Tensor, batch_size: int, length: int, limit: float = 1.0,
                    chars_per_token: float = 1.0) -> dict:
    """Loss in nats per token, perplexity, and bits per character over ``ids`` read as contiguous
    streams with the state carried, as in training."""
    batch_size = max(1, min(batch_size, ids.numel() // 2))
    total, count, state = 0.0, 0, None
    device = next(model.parameters()).device
    for batch in eval_windows(ids, batch_size, length, limit):
        batch = {k: v.to(device) for k, v in batch.items()}
        loss, n, state = model.loss(batch, state)
        total, count = total + loss.item() * n, count + n
    loss = total / count
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)),
            "bits_per_char": loss / math.log(2) / chars_per_token, "tokens": count}


class Task:
    """Everything the CLI needs for a language-model run, built from a RunConfig."""

    def __init__(self, config: RunConfig, tokenizer=None, expected_sha256: Optional[str] = None):
        self.config = config
        data = config.data
        train_text, valid_text = split_texts(data)
        digest = sha256(train_text)
        if expected_sha256 and digest != expected_sha256:
            raise DataError(f"{data.train}: the training text changed since this run started "
                            f"(sha256 {digest[:12]}..., the checkpoint has {expected_sha256[:12]}...)")
        self.train_sha256 = digest
        self.tokenizer = tokenizer or fit_tokenizer(data.tokenizer, train_text, data.vocab_size, data.min_count)
        self.train_ids, _ = encode(self.tokenizer, train_text, data.train)
        self.valid_ids, self.valid_unknown = encode(self.tokenizer, valid_text, data.valid or data.train)
        self.chars_per_token = len(train_text) / self.train_ids.numel()
        torch.manual_seed(config.train.seed)
        self.model = runs.build_within_memory(lambda: LanguageModel(config.model, len(self.tokenizer)))
        self.stream = TokenStream(self.train_ids, data.batch_size, data.bptt, data.random_bptt,
                                  seed=config.train.seed + 1)

    def evaluate(self, fraction: Optional[float] = None) -> dict:
        """Validation metrics on the leading ``fraction`` of the text (default: data.eval_fraction)."""
        d = self.config.data
        return evaluate_stream(self.model, self.valid_ids, d.eval_batch_size, d.eval_bptt,
                               d.eval_fraction if fraction is None else fraction, self.chars_per_token)

    def describe(self) -> str:
        cfg, model = self.config, self.model
        params = sum(p.numel() for p in model.parameters())
        return (f"lm: {self.train_ids.numel():,} training and {self.valid_ids.numel():,} validation tokens, "
                f"vocabulary {len(self.tokenizer):,} ({cfg.data.tokenizer}); {cfg.model.cell} "
                f"{cfg.model.num_layers}x{cfg.model.hidden_size}, {params:,} parameters, path {model.rnn.path}")

    def meta(self) -> dict:
        return {"task": NAME, "config": to_dict(self.config), "vocabulary": self.tokenizer.to_json(),
                "train_sha256": self.train_sha256, "chars_per_token": self.chars_per_token}

    def trainer(self, run_dir: str, callbacks=()) -> Trainer:
        full = functools.partial(self.evaluate, 1.0) if self.config.data.eval_fraction < 1 else None
        return Trainer(self.model, self.stream, self.evaluate, self.config.train, run_dir, self.meta(), callbacks,
                       evaluate_final=full)


# --- the CLI's view of this task ---------------------------------------------------------------------
def format_eval(record: dict) -> str:
    return (f"step {record['step']}: valid loss {record['loss']:.4f}, perplexity {record['perplexity']:.2f}, "
            f"bits/char {record['bits_per_char']:.4f}{'  (best)' if record['improved'] else ''}")


def finish(task: "Task", run_dir: str, summary: dict) -> list:
    """The lines to print after training."""
    lines = [f"best valid perplexity {math.exp(min(summary['best'], 700.0)):.2f}"] if summary["monitor"] == "loss" else []
    final = summary["final"]
    if not final:
        return lines
    return lines + [f"all of the validation data: loss {final['loss']:.4f}, perplexity {final['perplexity']:.2f}, "
            f"{final['bits_per_char']:.4f} bits/char"]


def restore(meta: dict) -> dict:
    return {"tokenizer": tokenizer_from_json(meta["vocabulary"]), "expected_sha256": meta["train_sha256"]}


def build_model(config: RunConfig, meta: dict) -> LanguageModel:
    return LanguageModel(config.model, len(tokenizer_from_json(meta["vocabulary"])))


def load_trained(path: str, which: str = "best"):
    """(model in eval mode, tokenizer, meta) from a run or checkpoint directory; reads data only."""
    loaded = runs.load(path, which, sys.modules[__name__])
    with runs.reading(loaded.checkpoint):
        tokenizer = tokenizer_from_json(loaded.meta["vocabulary"])
    return loaded.model, tokenizer, {**loaded.meta, "checkpoint": loaded.checkpoint}


def evaluate_file(path: str, model, tokenizer, meta: dict, batch_size: int = 16, length: int = 256):
    """Metrics of a trained model on a text file, with the symbols it did not know."""
    text = read_text(path)
    ids, unknown = encode(tokenizer, text, path)
    with torch.no_grad():
        metrics = evaluate_stream(model, ids, batch_size, length, chars_per_token=len(text) / ids.numel())
    return metrics, unknown


def evaluate(path: str, which: str, data: str, batch_size: Optional[int] = None, bptt: Optional[int] = None) -> Report:
    """Loss, perplexity and bits per character on a text file read as contiguous streams, the state carried."""
    data = need_data(data, NAME, path)
    model, tokenizer, meta = load_trained(path, which)
    metrics, unknown = evaluate_file(data, model, tokenizer, meta, batch_size or 16, bptt or 256)
    handling = "dropped" if tokenizer.kind == "char" else "read as <unk>"
    metrics = {"data": data, "checkpoint": meta["checkpoint"], **metrics}
    line = (f"{data}: loss {metrics['loss']:.4f} nats/token, perplexity {metrics['perplexity']:.2f}, "
            f"{metrics['bits_per_char']:.4f} bits/char over {metrics['tokens']:,} tokens "
            f"({os.path.basename(meta['checkpoint'])})")
    return Report(metrics, [line], unknown_note(unknown, f"symbols of {data} ({handling}) are"))


def prompt_ids(tokenizer, prompt: str):
    """(ids, unknown symbols) for a prompt; an empty prompt starts from a line break."""
    ids, unknown = tokenizer.encode_checked(prompt) if prompt else ([], Counter())
    if tokenizer.kind == "word" and ids and prompt and not prompt.endswith("\n"):
        ids = ids[:-1]  # the prompt's line goes on: no <eos> after it
    if not ids:
        ids = tokenizer.encode_checked("\n")[0] or [0]
    return ids, unknown
