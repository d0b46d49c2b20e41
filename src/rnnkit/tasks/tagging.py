"""Sequence labeling as a task: CoNLL / JSON-lines files -> tag scheme conversion -> vocabularies ->
bucketed batches -> SequenceTagger (BiLSTM-CRF) -> Trainer -> exact-span F1; and a trained run loaded
back to evaluate and to tag new text, in the input's own tag scheme.

Config sections (YAML or ``--set``): ``data`` (TaggingData, below), ``model`` (SequenceTaggerConfig)
and ``train`` (TrainConfig).
"""

import dataclasses
import hashlib
import os
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import torch

from ..data import DataError
from ..data.batches import BucketBatches
from ..data.conll import FORMATS, Sentences, read_sentences
from ..data.schemes import SCHEMES, convert, detect, spans
from ..data.tagging import CASES, UNSEEN, TaggingVocabulary, allowed_transitions, collate
from ..data.vectors import load_vectors
from ..models.sequence_tagger import SequenceTagger, SequenceTaggerConfig
from ..training import checkpoint as ckpt
from ..training.config import to_dict
from ..training.metrics import span_metrics
from ..training.trainer import TrainConfig, Trainer
from . import runs
from .contract import Flag, Report, need_data

# the task contract (tasks/contract.py)
NAME = "tag"
SUMMARY = "sequence labeling (named entities, BiLSTM-CRF)"
RUNS = "sequence-labeling"
DOCS = "tagging.md"  # its page in docs/, which documents every key of its config
RATE = "tok_s"  # what the progress bar calls the count per second of model.loss
VERB = "tag"
TRAIN_FLAGS = (
    Flag("--data", "train", "CoNLL column file or JSON lines, 10%% of the sentences held out without --valid", "FILE"),
    Flag("--valid", "valid", "validation sentences, in the same form as --data", "FILE"),
)
EVALUATE_FLAGS = ()


@dataclass(frozen=True)
class TaggingData:
    train: str = ""                 # CoNLL column file or JSON lines (required)
    valid: str = ""                 # the same; "" = hold out valid_fraction of the sentences (seeded)
    valid_fraction: float = 0.1
    split_seed: int = 0
    format: str = "auto"            # auto (.jsonl/.json: JSON lines, else CoNLL), conll or jsonl
    token_column: int = 0           # CoNLL: the column of the tokens (from 0)
    tag_column: int = -1            # CoNLL: the column of the tags (-1 = the last)
    scheme: str = "auto"            # the files' tag scheme: auto (detected), iob1, iob2 or iobes
    train_scheme: str = "iobes"     # the scheme the model learns: iobes or iob2 (output is in the input's)
    lowercase: bool = True          # words looked up lower-cased (characters keep the case)
    zeros: bool = True              # digits read as 0 in word lookups
    vocab_size: int = 0             # most frequent words kept (0 = all)
    min_count: int = 1              # rarer words read as <unk>
    max_length: int = 512           # a longer sentence is an error (a missing blank line?)
    vectors: str = ""               # pretrained word vectors, GloVe or word2vec text format
    batch_size: int = 32            # sentences per batch
    eval_batch_size: int = 256
    bucket_pool: int = 50

    def __post_init__(self):
        def fail(name, allowed):
            raise ValueError(f"data.{name}={getattr(self, name)!r}: expected {allowed}")

        if self.format not in FORMATS:
            fail("format", f"one of {FORMATS}")
        if self.scheme not in ("auto",) + SCHEMES:
            fail("scheme", f"one of {('auto',) + SCHEMES}")
        if self.train_scheme not in ("iob2", "iobes"):
            fail("train_scheme", "iob2 or iobes")
        if not 0 < self.valid_fraction < 1:
            fail("valid_fraction", "a number in (0, 1)")
        for name in ("batch_size", "eval_batch_size", "bucket_pool", "min_count"):
            if getattr(self, name) < 1:
                fail(name, "an integer >= 1")
        for name in ("vocab_size", "max_length", "token_column"):
            if getattr(self, name) < 0:
                fail(name, "an integer >= 0")


@dataclass(frozen=True)
class RunConfig:
    train: TrainConfig  # required: it must name at least one limit (max_steps, max_epochs, time_budget)
    data: TaggingData = field(default_factory=TaggingData)
    model: SequenceTaggerConfig = field(default_factory=SequenceTaggerConfig)


def read(path: str, d: TaggingData, tags: bool = True) -> Sentences:
    return read_sentences(path, d.token_column, d.tag_column if tags else None, d.format, d.max_length, d.scheme)


def split_sentences(sentences: Sentences, fraction: float, seed: int):
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    cut = round(len(order) * fraction)
    if cut < 1 or cut >= len(order):
        raise DataError(f"{len(sentences)} sentences are too few to hold out a fraction of {fraction}")
    return sentences.subset(sorted(order[cut:])), sentences.subset(sorted(order[:cut]))


def sentences_sha256(sentences: Sentences) -> str:
    digest = hashlib.sha256()
    for tokens, tags in zip(sentences.tokens, sentences.tags):
        digest.update(("\t".join(tokens) + "\n" + "\t".join(tags or []) + "\n\n").encode("utf-8"))
    return digest.hexdigest()


@dataclass
class Encoded:
    items: List[dict]    # for ``collate``: words, chars, cases (and tags, ids in the training scheme)
    unknown: int         # words not in the vocabulary
    tokens: int
    unseen: Counter      # gold tags the model was not trained on -> tokens (their id is UNSEEN)
    first_unseen: str = ""  # "file:line" of the first sentence holding one

    def unseen_note(self, path: str) -> str:
        """What scoring does with tags the model never saw ("" when there are none)."""
        if not self.unseen:
            return ""
        shown = ", ".join(f"{tag} x{count:,}" for tag, count in self.unseen.most_common(5))
        sentences = sum(UNSEEN in item.get("tags", ()) for item in self.items)
        return (f"{path}: tags the model was not trained on ({shown}; the first at {self.first_unseen}): "
                f"their spans count as misses, and the loss leaves out the {sentences:,} of {len(self.items):,} "
                "sentences that hold them")


def encode(vocabulary: TaggingVocabulary, sentences: Sentences, scheme: Optional[str] = None) -> Encoded:
    """The sentences as ids; with ``scheme`` the tags are converted into it, and a tag the vocabulary lacks
    (a type never seen in training) is counted and encoded as UNSEEN."""
    encoded = Encoded([], 0, 0, Counter())
    for tokens, tags, origin in zip(sentences.tokens, sentences.tags, sentences.origins):
        words, chars, cases, missing = vocabulary.encode(tokens)
        item = {"words": words, "chars": chars, "cases": cases}
        if scheme is not None and tags is not None:
            item["tags"] = vocabulary.tag_ids(convert(tags, scheme))
            if UNSEEN in item["tags"]:  # counted as the file writes them (the conversion keeps positions)
                encoded.unseen.update(t for t, i in zip(tags, item["tags"]) if i == UNSEEN)
                encoded.first_unseen = encoded.first_unseen or origin
        encoded.items.append(item)
        encoded.unknown, encoded.tokens = encoded.unknown + missing, encoded.tokens + len(tokens)
    return encoded


@torch.no_grad()
def predict(model: SequenceTagger, items: List[dict], batch_size: int, with_loss: bool = False):
    """(predicted tag ids per sentence in input order, mean loss per token or None: None also when every
    sentence holds a tag the model was not trained on)."""
    model.eval()
    device = model.emission.weight.device
    order = sorted(range(len(items)), key=lambda i: len(items[i]["words"]))
    predictions: List[Optional[List[int]]] = [None] * len(items)
    total, tokens = 0.0, 0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = {k: v.to(device) for k, v in collate([items[i] for i in rows]).items()}
        emissions = model.emissions(batch)  # one forward pass for the tags and the loss
        for row, tags in zip(rows, model.decode(batch, emissions)):
            predictions[row] = tags
        if with_loss:  # over the sentences whose gold tags the model knows (an UNSEEN id has no score)
            known = (batch["tags"] != UNSEEN).all(dim=1)
            if not known.all():
                batch, emissions = {k: v[known] for k, v in batch.items()}, emissions[known]
            if len(emissions):
                loss, n, _ = model.loss(batch, emissions=emissions)
                total, tokens = total + loss.item() * n, tokens + n
    return predictions, (total / tokens if tokens else None) if with_loss else None


def score(model, items, gold_tags: Sequence[Sequence[str]], vocabulary, batch_size: int) -> dict:
    """Exact-span precision/recall/F1 (micro and per type), token accuracy and loss."""
    predicted, loss = predict(model, items, batch_size, with_loss=True)
    predicted_tags = [[vocabulary.tags[i] for i in ids] for ids in predicted]
    metrics = span_metrics([spans(g) for g in gold_tags], [spans(p) for p in predicted_tags])
    correct = sum(a == b for item, ids in zip(items, predicted) for a, b in zip(item["tags"], ids))
    tokens = sum(len(ids) for ids in predicted)
    return {"loss": loss, "f1": metrics["f1"], "precision": metrics["precision"], "recall": metrics["recall"],
            "accuracy": correct / tokens, "per_type": metrics["per_type"], "spans": metrics["spans"]}


class Task:
    """Everything the CLI needs for a tagging run, built from a RunConfig."""

    def __init__(self, config: RunConfig, vocabulary: Optional[TaggingVocabulary] = None,
                 scheme: Optional[str] = None, expected_sha256: Optional[str] = None):
        d = config.data
        if not d.train:
            raise DataError("no training data: give --data FILE (or data.train)")
        sentences = read(d.train, d)
        self.train_sha256 = sentences_sha256(sentences)
        if expected_sha256 and self.train_sha256 != expected_sha256:
            raise DataError(f"{d.train}: the training data changed since this run started")
        if d.valid:
            train, valid = sentences, read(d.valid, d)
        else:
            train, valid = split_sentences(sentences, d.valid_fraction, d.split_seed)
        self.scheme = scheme or (detect(train.tags) if d.scheme == "auto" else d.scheme)  # the files' scheme
        train_tags = [convert(t, d.train_scheme) for t in train.tags]
        self.vocabulary = vocabulary or TaggingVocabulary.fit(train.tokens, train_tags, d.lowercase, d.zeros,
                                                              d.vocab_size, d.min_count)
        training = encode(self.vocabulary, train, d.train_scheme)
        if training.unseen:  # only a vocabulary from another run can lack a training tag
            raise DataError(training.unseen_note(d.train).replace("count as misses", "cannot be trained"))
        self.train_items, self.train_tokens = training.items, training.tokens
        validation = encode(self.vocabulary, valid, d.train_scheme)
        self.valid_items, self.valid_gold = validation.items, valid.tags
        self.valid_unknown_rate = validation.unknown / max(validation.tokens, 1)
        self.notes: List[str] = [validation.unseen_note(d.valid or d.train)] if validation.unseen else []
        if all(UNSEEN in item["tags"] for item in self.valid_items):
            raise DataError(validation.unseen_note(d.valid or d.train).split(": their")[0] + " in every validation "
                            "sentence: nothing to measure the loss on; validate on sentences of the training types")
        vectors = None
        if d.vectors and expected_sha256 is None:  # a resumed run has them in its weights (and its E)
            vectors = load_vectors(d.vectors, self.vocabulary.words)
            counts = torch.bincount(torch.tensor([i for item in self.train_items for i in item["words"]]),
                                    minlength=len(self.vocabulary.words))
            self.notes.append(f"{d.vectors}: {vectors.report(counts)}")
            config = dataclasses.replace(config, model=dataclasses.replace(
                config.model, word_embedding_size=vectors.dimension))
        self.config = config
        torch.manual_seed(config.train.seed)
        self.model = runs.build_within_memory(lambda: tagger(config, self.vocabulary))
        if vectors is not None:
            self.model.set_embeddings(vectors.weight, vectors.found)
        items = self.train_items
        self.batches = BucketBatches([len(item["words"]) for item in items], lambda rows: collate([items[i] for i in rows]),
                                     d.batch_size, seed=config.train.seed + 1, pool=d.bucket_pool)

    def describe(self) -> str:
        cfg, v = self.config, self.vocabulary
        params = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        kinds = sorted({t.partition("-")[2] for t in v.tags if t != "O"})
        return (f"tag: {len(self.train_items):,} training sentences ({self.train_tokens:,} tokens), "
                f"{len(self.valid_items):,} validation; {len(v.words):,} words, {len(v.chars):,} characters, "
                f"{len(v.tags)} tags ({cfg.data.train_scheme}; the files are {self.scheme}; types {', '.join(kinds)}); "
                f"{'bi' if cfg.model.bidirectional else ''}{cfg.model.cell} {cfg.model.num_layers}x{cfg.model.hidden_size} "
                f"+ {cfg.model.char_encoder} characters + {cfg.model.output}, {params:,} trainable parameters, "
                f"path {self.model.rnn.path}")

    def evaluate(self) -> dict:
        metrics = score(self.model, self.valid_items, self.valid_gold, self.vocabulary,
                        self.config.data.eval_batch_size)
        return {k: v for k, v in metrics.items() if k not in ("per_type",)}

    def report(self) -> dict:
        return score(self.model, self.valid_items, self.valid_gold, self.vocabulary, self.config.data.eval_batch_size)

    def meta(self) -> dict:
        return {"task": NAME, "config": to_dict(self.config), "vocabulary": self.vocabulary.to_json(),
                "scheme": self.scheme, "train_sha256": self.train_sha256}

    def trainer(self, run_dir: str, callbacks=()) -> Trainer:
        return Trainer(self.model, self.batches, self.evaluate, self.config.train, run_dir, self.meta(), callbacks,
                       evaluate_final=self.report)


def tagger(config: RunConfig, vocabulary: TaggingVocabulary) -> SequenceTagger:
    allowed = allowed_transitions(vocabulary.tags, config.data.train_scheme)
    return SequenceTagger(config.model, len(vocabulary.words), len(vocabulary.chars), len(vocabulary.tags),
                          len(CASES), *allowed)


# --- the CLI's view of this task ---------------------------------------------------------------------
def format_eval(record: dict) -> str:
    return (f"step {record['step']}: valid loss {record['loss']:.4f}, span F1 {100 * record['f1']:.2f} "
            f"(P {100 * record['precision']:.2f}, R {100 * record['recall']:.2f}), token accuracy "
            f"{100 * record['accuracy']:.2f}{'  (best)' if record['improved'] else ''}")


def report_lines(metrics: dict) -> List[str]:
    width = max([8] + [len(k) for k in metrics["per_type"]])
    lines = [f"{'type':<{width}}  precision  recall      f1  support"]
    for kind, row in metrics["per_type"].items():
        lines.append(f"{kind:<{width}}  {100 * row['precision']:>9.2f}  {100 * row['recall']:>6.2f}  "
                     f"{100 * row['f1']:>6.2f}  {row['support']:>7,}")
    lines.append(f"{'micro':<{width}}  {100 * metrics['precision']:>9.2f}  {100 * metrics['recall']:>6.2f}  "
                 f"{100 * metrics['f1']:>6.2f}  {metrics['spans']:>7,}")
    lines.append(f"token accuracy {100 * metrics['accuracy']:.2f}")
    return lines


def finish(task: Task, run_dir: str, summary: dict) -> List[str]:
    final = summary["final"]
    if not final:
        return []
    ckpt.write_json_atomic(os.path.join(run_dir, "report.json"), final)
    return ["validation, best weights (exact-span, conlleval semantics):"] + report_lines(final) + [
        f"report.json in {run_dir}"]


def restore(meta: dict) -> dict:
    return {"vocabulary": TaggingVocabulary.from_json(meta["vocabulary"]), "scheme": meta["scheme"],
            "expected_sha256": meta["train_sha256"]}


def build_model(config: RunConfig, meta: dict) -> SequenceTagger:
    return tagger(config, TaggingVocabulary.from_json(meta["vocabulary"]))


# --- a trained run ---------------------------------------------------------------------------------
TOKEN = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]")  # plain text: words (with inner - ' .) and single symbols


@dataclass
class TrainedTagger:
    model: SequenceTagger
    vocabulary: TaggingVocabulary
    config: RunConfig
    scheme: str  # the training files' scheme: output is written in it
    checkpoint: str

    def tag(self, sentences: Sequence[Sequence[str]], batch_size: int = 256) -> List[List[str]]:
        """Tags (in the input's scheme) for tokenized sentences."""
        encoded = encode(self.vocabulary, Sentences([list(s) for s in sentences], [None] * len(sentences),
                                                    [""] * len(sentences)))
        predicted, _ = predict(self.model, encoded.items, batch_size)
        return [convert([self.vocabulary.tags[i] for i in ids], self.scheme) for ids in predicted]


def load_trained(path: str, which: str = "best") -> TrainedTagger:
    loaded = runs.load(path, which, sys.modules[__name__])
    with runs.reading(loaded.checkpoint):
        vocabulary, scheme = TaggingVocabulary.from_json(loaded.meta["vocabulary"]), loaded.meta["scheme"]
        if scheme not in SCHEMES:
            raise ValueError(f"scheme {scheme!r} is not one of {SCHEMES}")
    return TrainedTagger(loaded.model, vocabulary, loaded.config, scheme, loaded.checkpoint)


def evaluate_file(trained: TrainedTagger, path: str, batch_size: int = 256) -> dict:
    d = trained.config.data
    # any scheme: a file said to be IOB1 at training may be scored against one written in IOBES
    sentences = read(path, dataclasses.replace(d, scheme="auto"))
    encoded = encode(trained.vocabulary, sentences, d.train_scheme)
    metrics = score(trained.model, encoded.items, sentences.tags, trained.vocabulary, batch_size)
    unseen = {"unseen_tags": dict(encoded.unseen)} if encoded.unseen else {}  # gold tags never trained on
    return {**metrics, "sentences": len(sentences), "tokens": encoded.tokens,
            "unknown_word_rate": encoded.unknown / max(encoded.tokens, 1), **unseen, "note": encoded.unseen_note(path)}


def evaluate(path: str, which: str, data: str, batch_size: Optional[int] = None) -> Report:
    """Exact-span precision, recall and F1 per type (conlleval semantics) and token accuracy."""
    data = need_data(data, NAME, path)
    trained = load_trained(path, which)
    metrics = {"data": data, "checkpoint": trained.checkpoint, **evaluate_file(trained, data, batch_size or 256)}
    note = metrics.pop("note")
    loss = "n/a (every sentence holds an unseen tag)" if metrics["loss"] is None else f"{metrics['loss']:.4f}"
    line = (f"{data}: {metrics['sentences']:,} sentences, {metrics['tokens']:,} tokens: span F1 "
            f"{100 * metrics['f1']:.2f}, token accuracy {100 * metrics['accuracy']:.2f}, loss {loss} "
            f"({os.path.basename(trained.checkpoint)}; {100 * metrics['unknown_word_rate']:.1f}% of the words unknown)")
    return Report(metrics, [line] + report_lines(metrics), [note] if note else [])


def tokenize(line: str):
    """(tokens, character offsets) of a line of plain text."""
    matches = list(TOKEN.finditer(line))
    return [m.group() for m in matches], [(m.start(), m.end()) for m in matches]
