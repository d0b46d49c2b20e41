"""Text classification as a task: labeled files -> encoder -> bucketed batches -> TextClassifier ->
Trainer -> accuracy, per-class precision/recall/F1, confusion matrix; and a trained run loaded back
for evaluation and prediction.

Config sections (YAML or ``--set``): ``data`` (ClassificationData, below), ``model``
(TextClassifierConfig) and ``train`` (TrainConfig).
"""

import dataclasses
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from ..data import DataError
from ..data.batches import TRUNCATIONS, labeled_batches, sorted_batches, truncate
from ..data.encoder import KINDS, TextEncoder
from ..data.labeled import FORMATS, Examples, read_examples, sorted_classes, split_examples
from ..data.vectors import load_vectors
from ..models.text_classifier import TextClassifier, TextClassifierConfig
from ..training import checkpoint as ckpt
from ..training.config import to_dict
from ..training.metrics import classification_metrics, confusion_matrix, format_report, plot_confusion
from ..training.trainer import TrainConfig, Trainer
from . import runs
from .contract import Flag, Report, need_data, skipped_notes

# the task contract (tasks/contract.py)
NAME = "classify"
SUMMARY = "text classification"
RUNS = "classification"
DOCS = "classification.md"  # its page in docs/, which documents every key of its config
RATE = "texts_s"  # what the progress bar calls the count per second of model.loss
VERB = "predict"
TRAIN_FLAGS = (
    Flag("--data", "train", "labeled texts (CSV, TSV, JSON lines, or a folder per class), 10%% held out "
         "(stratified) without --valid", "FILE"),
    Flag("--valid", "valid", "validation data, in the same form as --data", "FILE"),
    Flag("--text-column", "text_column", "the column (key) holding the text (default: text)", "NAME"),
    Flag("--label-column", "label_column", "the column (key) holding the label (default: label)", "NAME"),
)
EVALUATE_FLAGS = (
    Flag("--text-column", "text_column", "text column (default: the run's)", "NAME"),
    Flag("--label-column", "label_column", "label column (default: the run's)", "NAME"),
    Flag("--format", "fmt", "the file's format (default: from its name)", choices=FORMATS),
    Flag("--skip-bad", "skip_bad", "skip and count broken rows and unknown labels instead of stopping",
         switch=True),
    Flag("--plot", "plot", "also draw the confusion matrix", "PNG"),
)
BALANCE = ("none", "class_weights", "sampling")


@dataclass(frozen=True)
class ClassificationData:
    train: str = ""                 # CSV/TSV/JSON lines file or a folder per class (required)
    valid: str = ""                 # the same; "" = hold out valid_fraction of train (stratified, seeded)
    valid_fraction: float = 0.1
    split_seed: int = 0             # the seed of that split
    format: str = "auto"            # auto (from the name), csv, tsv, jsonl or folder
    text_column: str = "text"
    label_column: str = "label"
    labels: Tuple[Union[str, int], ...] = ()  # the classes allowed, in this order; () = those in train
    skip_bad: bool = False          # skip (and count) broken rows instead of stopping at the first
    tokenizer: str = "word"         # word (regular expression) or bpe (byte-level, Hugging Face tokenizers)
    lowercase: bool = True
    strip_html: bool = True         # HTML tags (IMDB's <br />) read as spaces
    vocab_size: int = 30000         # word: most frequent kept (0 = all); bpe: target size (0 = 16000)
    min_count: int = 2              # word / bpe: rarer tokens are <unk> / not merged
    max_length: int = 400           # tokens kept per text; 0 = all
    truncation: str = "head"        # head, tail or head_tail (a quarter from the start, the rest from the end)
    vectors: str = ""               # pretrained word vectors, GloVe or word2vec text format (word level)
    batch_size: int = 32
    eval_batch_size: int = 256
    bucket_pool: int = 50           # batches sorted by length together (1 = no bucketing)
    balance: str = "none"           # none, class_weights (loss weighted n / (C n_c)) or sampling (balanced)

    def __post_init__(self):
        object.__setattr__(self, "labels", tuple(str(label) for label in self.labels))

        def fail(name, allowed):
            raise ValueError(f"data.{name}={getattr(self, name)!r}: expected {allowed}")

        for name, allowed in (("format", FORMATS), ("tokenizer", KINDS), ("truncation", TRUNCATIONS),
                              ("balance", BALANCE)):
            if getattr(self, name) not in allowed:
                fail(name, f"one of {allowed}")
        if not 0 < self.valid_fraction < 1:
            fail("valid_fraction", "a number in (0, 1)")
        for name in ("batch_size", "eval_batch_size", "bucket_pool", "min_count"):
            if getattr(self, name) < 1:
                fail(name, "an integer >= 1")
        for name in ("vocab_size", "max_length"):
            if getattr(self, name) < 0:
                fail(name, "an integer >= 0")
        if len(set(self.labels)) != len(self.labels) or len(self.labels) == 1:
            fail("labels", "at least two distinct classes, or [] for the classes found in train")
        if self.vectors and self.tokenizer != "word":
            fail("vectors", "word vectors with data.tokenizer=word")


@dataclass(frozen=True)
class RunConfig:
    train: TrainConfig  # required: it must name at least one limit (max_steps, max_epochs, time_budget)
    data: ClassificationData = field(default_factory=ClassificationData)
    model: TextClassifierConfig = field(default_factory=TextClassifierConfig)


def examples_sha256(examples: Examples) -> str:
    digest = hashlib.sha256()
    for text, label in zip(examples.texts, examples.labels):
        digest.update(f"{len(text)}:{label}:".encode())
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def encode_examples(encoder: TextEncoder, examples: Examples, max_length: int, truncation: str):
    """(id lists, unknown tokens, all tokens); a text with no tokens at all is an error naming it."""
    ids, unknown, total = encoder.encode_all(examples.texts)
    for sequence, origin in zip(ids, examples.origins):
        if not sequence:
            raise DataError(f"{origin}: the text has no tokens once normalized (HTML tags removed?)")
    return [truncate(s, max_length, truncation) for s in ids], unknown, total


def label_ids(examples: Examples, classes: Sequence[str]) -> torch.Tensor:
    index = {c: i for i, c in enumerate(classes)}
    for label, origin in zip(examples.labels, examples.origins):
        if label not in index:
            raise DataError(f"{origin}: label {label!r} is not one of the model's classes {list(classes)}")
    return torch.tensor([index[label] for label in examples.labels], dtype=torch.long)


@torch.no_grad()
def predict_sequences(model: TextClassifier, sequences: List[List[int]], batch_size: int) -> torch.Tensor:
    """Class probabilities (n, C) in the input's order; batches sorted by length for speed."""
    model.eval()
    device = model.output.weight.device
    probabilities = torch.empty(len(sequences), model.num_classes)
    for rows, batch in sorted_batches(sequences, batch_size):
        probabilities[rows] = model.predict_proba(batch["ids"].to(device), batch["lengths"].to(device)).cpu()
    return probabilities


def score(model: TextClassifier, sequences, labels: torch.Tensor, classes: Sequence[str], batch_size: int,
          full: bool = False) -> dict:
    """Loss (mean cross entropy, unweighted), accuracy and macro-F1; with ``full`` the per-class table
    and the confusion matrix as well."""
    probabilities = predict_sequences(model, sequences, batch_size)
    loss = F.nll_loss(probabilities.clamp(min=1e-12).log(), labels).item()
    confusion = confusion_matrix(labels, probabilities.argmax(-1), len(classes))
    metrics = classification_metrics(confusion, classes)
    result = {"loss": loss, "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
              "examples": len(sequences)}
    if full:
        result.update(metrics, loss=loss, classes=list(classes), confusion=confusion.tolist())
    return result


class Task:
    """Everything the CLI needs for a classification run, built from a RunConfig."""

    def __init__(self, config: RunConfig, encoder: Optional[TextEncoder] = None,
                 classes: Optional[Sequence[str]] = None, expected_sha256: Optional[str] = None):
        d = config.data
        if not d.train:
            raise DataError("no training data: give --data FILE (or data.train)")
        read = dict(text_column=d.text_column, label_column=d.label_column, fmt=d.format, skip_bad=d.skip_bad)
        examples = read_examples(d.train, labels=d.labels, **read)
        self.skipped = {d.train: examples.skipped}
        self.train_sha256 = examples_sha256(examples)
        if expected_sha256 and self.train_sha256 != expected_sha256:
            raise DataError(f"{d.train}: the training data changed since this run started")
        self.classes = list(classes or d.labels or sorted_classes(examples.labels))
        if len(self.classes) < 2:
            raise DataError(f"{d.train}: every example has the label {self.classes[0]!r}; a classifier needs 2 "
                            "classes or more")
        if d.valid:
            train, valid = examples, read_examples(d.valid, labels=self.classes, **read)
            self.skipped[d.valid] = valid.skipped
        else:
            train, valid = split_examples(examples, d.valid_fraction, d.split_seed)
        self.encoder = encoder or TextEncoder.fit(d.tokenizer, train.texts, d.lowercase, d.strip_html,
                                                  d.vocab_size, d.min_count)
        self.train_sequences, _, self.train_tokens = encode_examples(self.encoder, train, d.max_length, d.truncation)
        self.valid_sequences, unknown, total = encode_examples(self.encoder, valid, d.max_length, d.truncation)
        self.valid_unknown_rate = unknown / max(total, 1)
        self.train_labels, self.valid_labels = label_ids(train, self.classes), label_ids(valid, self.classes)
        self.notes: List[str] = []  # what the CLI should tell the user
        vectors = None
        if d.vectors and expected_sha256 is None:  # a resumed run has them in its weights (and its E)
            vectors = load_vectors(d.vectors, self.encoder.token_strings())
            counts = torch.bincount(torch.tensor([i for s in self.train_sequences for i in s]),
                                    minlength=len(self.encoder))
            self.notes.append(f"{d.vectors}: {vectors.report(counts)}")
            config = dataclasses.replace(config, model=dataclasses.replace(  # the vectors decide E
                config.model, embedding_size=vectors.dimension))
        self.config = config
        torch.manual_seed(config.train.seed)
        self.model = runs.build_within_memory(
            lambda: TextClassifier(config.model, len(self.encoder), len(self.classes)))
        if vectors is not None:
            self.model.set_embeddings(vectors.weight, vectors.found)
        counts = torch.bincount(self.train_labels, minlength=len(self.classes))
        if d.balance == "class_weights":  # scikit-learn's "balanced": n / (C n_c)
            self.model.class_weights.copy_(counts.sum() / (len(self.classes) * counts.clamp(min=1)))
        self.batches = labeled_batches(self.train_sequences, self.train_labels, d.batch_size, seed=config.train.seed + 1,
                                       pool=d.bucket_pool, balanced=d.balance == "sampling")

    @property
    def train_size(self) -> int:
        return len(self.train_sequences)

    def describe(self) -> str:
        cfg, model = self.config, self.model
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        counts = torch.bincount(self.train_labels, minlength=len(self.classes)).tolist()
        shown = ", ".join(f"{c}: {n:,}" for c, n in list(zip(self.classes, counts))[:8])
        direction = "bi" if cfg.model.bidirectional else ""
        return (f"classify: {self.train_size:,} training texts (classes {shown}{', ...' if len(counts) > 8 else ''}), "
                f"{len(self.valid_sequences):,} validation; vocabulary {len(self.encoder):,} ({cfg.data.tokenizer}); "
                f"{direction}{cfg.model.cell} {cfg.model.num_layers}x{cfg.model.hidden_size}, "
                f"{cfg.model.pooling} pooling, {params:,} trainable parameters, path {model.rnn.path}")

    def evaluate(self, full: bool = False) -> dict:
        return score(self.model, self.valid_sequences, self.valid_labels, self.classes,
                     self.config.data.eval_batch_size, full)

    def meta(self) -> dict:
        return {"task": NAME, "config": to_dict(self.config), "encoder": self.encoder.to_json(),
                "classes": self.classes, "train_sha256": self.train_sha256}

    def trainer(self, run_dir: str, callbacks=()) -> Trainer:
        return Trainer(self.model, self.batches, self.evaluate, self.config.train, run_dir, self.meta(), callbacks,
                       evaluate_final=lambda: self.evaluate(full=True))


# --- the CLI's view of this task ---------------------------------------------------------------------
def format_eval(record: dict) -> str:
    return (f"step {record['step']}: valid loss {record['loss']:.4f}, accuracy {record['accuracy']:.4f}, "
            f"macro-F1 {record['macro_f1']:.4f}{'  (best)' if record['improved'] else ''}")


def finish(task: Task, run_dir: str, summary: dict) -> List[str]:
    """After training: report.json and confusion.png in the run directory; the lines to print."""
    final = summary["final"]
    if not final:
        return []
    ckpt.write_json_atomic(os.path.join(run_dir, "report.json"), final)
    confusion = torch.tensor(final["confusion"])
    plot_confusion(confusion, task.classes, os.path.join(run_dir, "confusion.png"),
                   title=f"{os.path.basename(os.path.abspath(run_dir))}: validation")
    return (["validation, best weights:"] + format_report(final, confusion, task.classes)
            + [f"report.json, confusion.png in {run_dir}"])


def restore(meta: dict) -> dict:
    return {"encoder": TextEncoder.from_json(meta["encoder"]), "classes": meta["classes"],
            "expected_sha256": meta["train_sha256"]}


def build_model(config: RunConfig, meta: dict) -> TextClassifier:
    return TextClassifier(config.model, len(TextEncoder.from_json(meta["encoder"])), len(meta["classes"]))


# --- a trained run ---------------------------------------------------------------------------------
@dataclass
class TrainedClassifier:
    model: TextClassifier
    encoder: TextEncoder
    classes: List[str]
    config: RunConfig
    checkpoint: str

    def encode(self, texts: Sequence[str]):
        d = self.config.data
        ids, unknown, total = self.encoder.encode_all(list(texts))
        pad_id = 1 if self.encoder.kind == "word" else 0  # a text with no tokens reads as one <unk>
        return [truncate(s, d.max_length, d.truncation) or [pad_id] for s in ids], unknown, total

    def predict(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        """Probabilities (n, C) for raw texts."""
        return predict_sequences(self.model, self.encode(texts)[0], batch_size)


def load_trained(path: str, which: str = "best") -> TrainedClassifier:
    loaded = runs.load(path, which, sys.modules[__name__])
    with runs.reading(loaded.checkpoint):
        encoder, classes = TextEncoder.from_json(loaded.meta["encoder"]), [str(c) for c in loaded.meta["classes"]]
    return TrainedClassifier(loaded.model, encoder, classes, loaded.config, loaded.checkpoint)


def evaluate_file(trained: TrainedClassifier, path: str, text_column: Optional[str] = None,
                  label_column: Optional[str] = None, skip_bad: bool = False, batch_size: int = 256,
                  fmt: str = "auto"):
    """(metrics with per-class table and confusion, examples read); labels outside the model's classes
    are errors naming the line (or, with skip_bad, skipped and counted)."""
    d = trained.config.data
    examples = read_examples(path, text_column or d.text_column, label_column or d.label_column, fmt,
                             trained.classes, skip_bad)
    sequences, unknown, total = trained.encode(examples.texts)
    labels = label_ids(examples, trained.classes)
    metrics = score(trained.model, sequences, labels, trained.classes, batch_size, full=True)
    metrics["unknown_token_rate"] = unknown / max(total, 1)
    return metrics, examples


def report_lines(metrics: dict) -> List[str]:
    return format_report(metrics, torch.tensor(metrics["confusion"]), metrics["classes"])


def evaluate(path: str, which: str, data: str, batch_size: Optional[int] = None, text_column: Optional[str] = None,
             label_column: Optional[str] = None, fmt: str = "auto", skip_bad: bool = False,
             plot: Optional[str] = None) -> Report:
    """Accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix on labeled data."""
    data = need_data(data, NAME, path)
    trained = load_trained(path, which)
    metrics, examples = evaluate_file(trained, data, text_column, label_column, skip_bad, batch_size or 256,
                                      fmt or "auto")
    metrics = {"data": data, "checkpoint": trained.checkpoint, **metrics}
    if plot:
        plot_confusion(torch.tensor(metrics["confusion"]), trained.classes, plot, title=data)
    lines = [f"{data}: {metrics['examples']:,} texts, loss {metrics['loss']:.4f}, accuracy {metrics['accuracy']:.4f}, "
             f"macro-F1 {metrics['macro_f1']:.4f} ({os.path.basename(trained.checkpoint)}; "
             f"{100 * metrics['unknown_token_rate']:.1f}% of the tokens unknown)"] + report_lines(metrics)
    return Report(metrics, lines, skipped_notes({data: examples.skipped}))


def prediction_record(probabilities: torch.Tensor, classes: Sequence[str]) -> dict:
    best = int(probabilities.argmax())
    return {"label": classes[best], "probability": round(float(probabilities[best]), 6),
            "probabilities": {c: round(float(p), 6) for c, p in zip(classes, probabilities.tolist())}}


def dumps(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False)
