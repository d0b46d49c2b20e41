"""Sequence to sequence as a task (translation, summarization): two aligned files or a TSV of pairs ->
length filters -> subword vocabularies -> batches bucketed by source length -> Seq2Seq (an attentional
RNN encoder-decoder) -> Trainer -> perplexity and BLEU/chrF of the detokenized output; and a trained
run loaded back to evaluate and to translate.

Config sections (YAML or ``--set``): ``data`` (Seq2SeqData, below), ``model`` (Seq2SeqConfig),
``decode`` (DecodeConfig, decoding.py) and ``train`` (TrainConfig).

Validation during training decodes greedily, so that every evaluation stays cheap; the final
evaluation of the best weights decodes with beam search under ``decode``, as ``rnnkit translate`` and
``rnnkit evaluate`` do by default. Decoding and scoring live in decoding.py.
"""

import dataclasses
import hashlib
import os
import random
import sys
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import torch

from ..data import DataError
from ..data.batches import BucketBatches, pad
from ..data.parallel import Pairs, read_pairs
from ..data.subwords import KINDS, Vocabulary, fit_vocabularies
from ..models.beam_search import Hypothesis
from ..models.seq2seq import Seq2Seq, Seq2SeqConfig
from ..training import checkpoint as ckpt
from ..training.config import to_dict
from ..training.trainer import TrainConfig, Trainer
from . import runs
from .contract import Flag, Report, whole
from .decoding import DecodeConfig, decode, score, with_specials

# the task contract (tasks/contract.py)
NAME = "seq2seq"
SUMMARY = "translation or summarization (attentional encoder-decoder)"
RUNS = "sequence-to-sequence"
DOCS = "seq2seq.md"  # its page in docs/, which documents every key of its config
RATE = "tok_s"  # what the progress bar calls the count per second of model.loss: target tokens
VERB = "translate"
TRAIN_FLAGS = (
    Flag("--data", "train", "sentence pairs as a TSV file (source<TAB>target), 5%% held out without --valid (or "
         "give --source and --target)", "FILE"),
    Flag("--valid", "valid", "validation pairs, a TSV file", "FILE"),
    Flag("--source", "train_source", "the source sentences, one per line (with --target; 5%% of the pairs held "
         "out without --valid-source/--valid-target)", "FILE"),
    Flag("--target", "train_target", "the target sentences, line i translating line i of --source", "FILE"),
    Flag("--valid-source", "valid_source", "validation source sentences", "FILE"),
    Flag("--valid-target", "valid_target", "validation target sentences", "FILE"),
)
EVALUATE_FLAGS = (
    Flag("--source", "source", "source sentences, one per line (with --target)", "FILE"),
    Flag("--target", "target", "reference translations, line i of --source's", "FILE"),
    Flag("--greedy", "greedy", "greedy decoding instead of beam search", switch=True),
    Flag("--beam-size", "beam_size", "beam size (default: the run's decode.beam_size)", "K", whole(1)),
)


@dataclass(frozen=True)
class Seq2SeqData:
    train: str = ""                 # training pairs as one TSV file, source<TAB>target per line (--data)
    train_source: str = ""          # or as two aligned files, line i of one being the translation of
    train_target: str = ""          #   line i of the other (--source, --target)
    valid: str = ""                 # validation pairs as a TSV file (--valid)
    valid_source: str = ""          # or as two files (--valid-source, --valid-target); neither: hold out
    valid_target: str = ""          #   valid_fraction of the training pairs (seeded)
    valid_fraction: float = 0.05
    split_seed: int = 0
    # filters of the training pairs, on whitespace tokens; each pair left out is counted and reported
    max_source_tokens: int = 0      # 0 = no limit
    max_target_tokens: int = 0
    length_ratio: float = 0.0       # longer side / shorter side above this: left out (0 = off, else >= 1)
    skip_empty: bool = False        # pairs with an empty side are left out (and counted), not an error
    max_train_pairs: int = 0        # train on the first N pairs only (0 = all): quick runs
    tokenizer: str = "bpe"          # bpe (Hugging Face tokenizers, byte fallback) or word
    joint_vocab: bool = True        # one vocabulary fitted on both sides (needed by model.share_embeddings)
    vocab_size: int = 8000          # per vocabulary, the 4 specials (and bpe's 256 byte pieces) included
    min_count: int = 1              # word: rarer words are <unk>; bpe: merges made fewer times are not made
    lowercase: bool = False         # lower-case both sides (BLEU is then case-insensitive)
    batch_size: int = 64            # sentence pairs per training batch
    eval_batch_size: int = 128      # sentences per evaluation / decoding batch (times the beam)
    bucket_pool: int = 50           # batches sorted by source length together (1 = no bucketing)

    def __post_init__(self):
        def fail(name, allowed):
            raise ValueError(f"data.{name}={getattr(self, name)!r}: expected {allowed}")

        if self.tokenizer not in KINDS:
            fail("tokenizer", f"one of {KINDS}")
        if not 0 < self.valid_fraction < 1:
            fail("valid_fraction", "a number in (0, 1)")
        for name in ("batch_size", "eval_batch_size", "bucket_pool", "min_count"):
            if getattr(self, name) < 1:
                fail(name, "an integer >= 1")
        for name in ("max_source_tokens", "max_target_tokens", "max_train_pairs"):
            if getattr(self, name) < 0:
                fail(name, "an integer >= 0 (0 = no limit)")
        if self.length_ratio != 0 and not self.length_ratio >= 1:
            fail("length_ratio", "0 (no filter) or a ratio >= 1")
        smallest = 4 + (257 if self.tokenizer == "bpe" else 1)
        if self.vocab_size < smallest:
            fail("vocab_size", f"at least {smallest} for data.tokenizer={self.tokenizer!r}")
        for split, tsv in (("train", "--data"), ("valid", "--valid")):
            source, target = getattr(self, f"{split}_source"), getattr(self, f"{split}_target")
            if bool(source) != bool(target):
                given = f"{split}_source" if source else f"{split}_target"
                fail(given, f"both data.{split}_source and data.{split}_target (two aligned files), or "
                            f"data.{split} alone (a TSV file)")
            if source and getattr(self, split):
                fail(split, f"either a TSV file ({tsv}) or two files (data.{split}_source and "
                            f"data.{split}_target), not both")


@dataclass(frozen=True)
class RunConfig:
    train: TrainConfig  # required: it must name at least one limit (max_steps, max_epochs, time_budget)
    data: Seq2SeqData = field(default_factory=Seq2SeqData)
    model: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


# --- reading and encoding ------------------------------------------------------------------------
def read_split(tsv: str, source: str, target: str, **filters) -> Tuple[Pairs, str]:
    """(pairs, a name for notes) from a TSV file or two aligned files."""
    if tsv:
        return read_pairs(tsv, **filters), tsv
    return read_pairs(source, target, **filters), f"{source} + {target}"


def filtered_note(pairs: Pairs, name: str) -> Optional[str]:
    if not pairs.filtered:
        return None
    left_out = sum(pairs.filtered.values())
    shown = ", ".join(f"{reason} x{n:,}" for reason, n in pairs.filtered.most_common())
    return f"{name}: {left_out:,} of {len(pairs) + left_out:,} sentence pairs left out ({shown})"


def split_pairs(pairs: Pairs, fraction: float, seed: int) -> Tuple[Pairs, Pairs]:
    """(train, valid): a seeded random ``fraction`` of the pairs held out, each part in file order."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    cut = round(len(order) * fraction)
    if cut < 1 or cut >= len(order):
        raise DataError(f"{len(pairs)} sentence pairs are too few to hold out a fraction of {fraction}; give "
                        "validation files (--valid, or --valid-source and --valid-target)")
    return subset(pairs, sorted(order[cut:])), subset(pairs, sorted(order[:cut]))


def subset(pairs: Pairs, rows: Sequence[int]) -> Pairs:
    return Pairs([pairs.sources[i] for i in rows], [pairs.targets[i] for i in rows], [pairs.origins[i] for i in rows])


def pairs_sha256(pairs: Pairs) -> str:
    digest = hashlib.sha256()
    for source, target in zip(pairs.sources, pairs.targets):
        digest.update(f"{source}\t{target}\n".encode("utf-8"))
    return digest.hexdigest()


def encode_side(vocabulary: Vocabulary, texts: Sequence[str], origins: Sequence[str], side: str) -> List[List[int]]:
    """Id lists without BOS/EOS; a sentence with no tokens at all is an error naming its pair."""
    ids = [vocabulary.encode(text) for text in texts]
    for sequence, origin in zip(ids, origins):
        if not sequence:
            raise DataError(f"{origin}: the {side} sentence has no tokens once normalized")
    return ids


def pair_batches(sources: List[List[int]], targets: List[List[int]], batch_size: int, seed: int,
                 pool: int) -> BucketBatches:
    """Bucketed by source length: {"source" (B, S), "source_lengths" (B,), "target" (B, T) = BOS y EOS}."""
    def collate(rows):
        source, lengths = pad([sources[i] for i in rows])
        target, _ = pad([with_specials(targets[i]) for i in rows])
        return {"source": source, "source_lengths": lengths, "target": target}

    return BucketBatches([len(s) for s in sources], collate, batch_size, seed, pool)


# --- the task --------------------------------------------------------------------------------------
class Task:
    """Everything the CLI needs for a sequence-to-sequence run, built from a RunConfig."""

    def __init__(self, config: RunConfig, vocabularies: Optional[Tuple[Vocabulary, Vocabulary]] = None,
                 expected_sha256: Optional[str] = None):
        d, m = config.data, config.model
        if not (d.train or d.train_source):
            raise DataError("no training data: give --source FILE --target FILE (two aligned files), or --data "
                            "FILE (a TSV file, source<TAB>target per line)")
        if m.share_embeddings and not d.joint_vocab:
            raise DataError("model.share_embeddings=true needs one vocabulary for both sides: set "
                            "data.joint_vocab=true")
        self.notes: List[str] = []  # what the CLI should tell the user
        filters = dict(max_source_tokens=d.max_source_tokens, max_target_tokens=d.max_target_tokens,
                       length_ratio=d.length_ratio, skip_empty=d.skip_empty)
        pairs, name = read_split(d.train, d.train_source, d.train_target, **filters)
        self.notes += filter(None, [filtered_note(pairs, name)])
        self.train_sha256 = pairs_sha256(pairs)
        if expected_sha256 and self.train_sha256 != expected_sha256:
            raise DataError(f"{name}: the training data changed since this run started")
        if d.valid or d.valid_source:  # scored whole: only the empty pairs may be left out (skip_empty)
            train, (valid, valid_name) = pairs, read_split(d.valid, d.valid_source, d.valid_target,
                                                           skip_empty=d.skip_empty)
            self.notes += filter(None, [filtered_note(valid, valid_name)])
        else:
            train, valid = split_pairs(pairs, d.valid_fraction, d.split_seed)
            self.notes.append(f"no validation files: {len(valid):,} of the {len(pairs):,} training pairs held out "
                              f"(data.valid_fraction={d.valid_fraction:g}, data.split_seed={d.split_seed})")
        if d.max_train_pairs and d.max_train_pairs < len(train):
            self.notes.append(f"data.max_train_pairs={d.max_train_pairs}: training on the first {d.max_train_pairs:,} "
                              f"of {len(train):,} pairs")
            train = subset(train, range(d.max_train_pairs))
        if vocabularies is None:
            vocabularies = fit_vocabularies(train.sources, train.targets, d.tokenizer, d.joint_vocab, d.vocab_size,
                                            d.min_count, d.lowercase)
        self.source_vocab, self.target_vocab = vocabularies
        self.train_sources = encode_side(self.source_vocab, train.sources, train.origins, "source")
        self.train_targets = encode_side(self.target_vocab, train.targets, train.origins, "target")
        self.valid_sources = encode_side(self.source_vocab, valid.sources, valid.origins, "source")
        self.valid_targets = encode_side(self.target_vocab, valid.targets, valid.origins, "target")
        self.valid_references = valid.targets
        self.hypotheses: List[str] = []  # the final evaluation's, for valid.hyp.txt
        self.config = config
        torch.manual_seed(config.train.seed)
        self.model = runs.build_within_memory(
            lambda: Seq2Seq(m, len(self.source_vocab), len(self.target_vocab)))
        self.batches = pair_batches(self.train_sources, self.train_targets, d.batch_size, config.train.seed + 1,
                                    d.bucket_pool)

    @property
    def train_size(self) -> int:
        return len(self.train_sources)

    def describe(self) -> str:
        cfg, model = self.config, self.model
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        source_tokens, target_tokens = sum(map(len, self.train_sources)), sum(map(len, self.train_targets))
        vocabulary = (f"joint vocabulary {len(self.source_vocab):,}" if cfg.data.joint_vocab else
                      f"vocabularies {len(self.source_vocab):,} / {len(self.target_vocab):,}")
        m = cfg.model
        attention = "no attention" if m.attention == "none" else (
            f"{m.attention} attention{', input feeding' if m.input_feeding else ''}")
        return (f"seq2seq: {self.train_size:,} training pairs ({source_tokens:,} source, {target_tokens:,} target "
                f"tokens), {len(self.valid_sources):,} validation; {vocabulary} ({cfg.data.tokenizer}); "
                f"{'bi' if m.bidirectional else ''}{m.cell} encoder {m.num_layers}x{m.hidden_size}, {m.cell} decoder, "
                f"{attention}; {params:,} trainable parameters, path {model.encoder.path}")

    def _score(self, greedy: bool, full: bool = False):
        return score(self.model, self.valid_sources, self.valid_targets, self.valid_references, self.target_vocab,
                     self.config.decode, self.config.data.eval_batch_size, greedy, full)

    def evaluate(self) -> dict:
        """During training: loss, perplexity, and BLEU/chrF of greedy decoding."""
        return self._score(greedy=True)[0]

    def report(self) -> dict:
        """At the end: the same with beam search (``decode``); the hypotheses are kept for valid.hyp.txt."""
        metrics, self.hypotheses = self._score(greedy=False, full=True)
        return metrics

    def meta(self) -> dict:
        return {"task": NAME, "config": to_dict(self.config), "vocabularies": vocabularies_to_json(
            self.source_vocab, self.target_vocab), "train_sha256": self.train_sha256}

    def trainer(self, run_dir: str, callbacks=()) -> Trainer:
        return Trainer(self.model, self.batches, self.evaluate, self.config.train, run_dir, self.meta(), callbacks,
                       evaluate_final=self.report)


def vocabularies_to_json(source: Vocabulary, target: Vocabulary) -> dict:
    """Plain JSON for the checkpoint; a joint vocabulary is stored once (target: null)."""
    return {"source": source.to_json(), "target": None if target is source else target.to_json()}


def vocabularies_from_json(data: dict) -> Tuple[Vocabulary, Vocabulary]:
    source = Vocabulary.from_json(data["source"])
    return source, (source if data["target"] is None else Vocabulary.from_json(data["target"]))


# --- the CLI's view of this task ---------------------------------------------------------------------
def format_eval(record: dict) -> str:
    return (f"step {record['step']}: valid loss {record['loss']:.4f} (perplexity {record['perplexity']:.2f}), "
            f"greedy BLEU {record['bleu']:.2f}, chrF {record['chrf']:.2f}{'  (best)' if record['improved'] else ''}")


def report_lines(metrics: dict) -> List[str]:
    return [f"BLEU {metrics['bleu']:.2f}, chrF {metrics['chrf']:.2f}, perplexity {metrics['perplexity']:.2f} "
            f"({metrics['sentences']:,} sentences, {metrics['decoding']})",
            f"sacrebleu: {metrics['bleu_details']}", f"signature: {metrics['bleu_signature']}"]


def finish(task: Task, run_dir: str, summary: dict) -> List[str]:
    """After training: report.json and valid.hyp.txt (detokenized, one per line) in the run directory."""
    final = summary["final"]
    if not final:
        return []
    ckpt.write_json_atomic(os.path.join(run_dir, "report.json"), final)
    write_lines(os.path.join(run_dir, "valid.hyp.txt"), task.hypotheses)
    return (["validation, best weights:"] + report_lines(final)
            + [f"report.json, valid.hyp.txt (the translations) in {run_dir}"])


def write_lines(path: str, lines: Sequence[str]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(line + "\n" for line in lines)
    os.replace(tmp, path)


def restore(meta: dict) -> dict:
    return {"vocabularies": vocabularies_from_json(meta["vocabularies"]), "expected_sha256": meta["train_sha256"]}


def build_model(config: RunConfig, meta: dict) -> Seq2Seq:
    source_vocab, target_vocab = vocabularies_from_json(meta["vocabularies"])
    return Seq2Seq(config.model, len(source_vocab), len(target_vocab))


# --- a trained run ---------------------------------------------------------------------------------
@dataclass
class TrainedSeq2Seq:
    model: Seq2Seq
    source_vocab: Vocabulary
    target_vocab: Vocabulary
    config: RunConfig
    checkpoint: str

    def translate(self, texts: Sequence[str], settings: Optional[DecodeConfig] = None, greedy: bool = False,
                  n_best: int = 1, batch_size: int = 64) -> List[List[Hypothesis]]:
        """Per text its hypotheses (token ids, score, attention), best first; a text with no tokens gets one
        empty hypothesis. ``decoding.detokenize(self.target_vocab, h.tokens)`` is a hypothesis's text."""
        settings = settings or self.config.decode
        sources = [self.source_vocab.encode(text) for text in texts]
        rows = [i for i, s in enumerate(sources) if s]
        found = decode(self.model, [sources[i] for i in rows], settings, batch_size, greedy, n_best)
        results = [[Hypothesis([], 0.0, None)] for _ in texts]
        for i, hypotheses in zip(rows, found):
            results[i] = hypotheses
        return results


def load_trained(path: str, which: str = "best") -> TrainedSeq2Seq:
    loaded = runs.load(path, which, sys.modules[__name__])
    with runs.reading(loaded.checkpoint):
        vocabularies = vocabularies_from_json(loaded.meta["vocabularies"])
    return TrainedSeq2Seq(loaded.model, *vocabularies, loaded.config, loaded.checkpoint)


def evaluate_files(trained: TrainedSeq2Seq, tsv: str = "", source: str = "", target: str = "",
                   settings: Optional[DecodeConfig] = None, greedy: bool = False,
                   batch_size: int = 128) -> Tuple[dict, List[str]]:
    """(metrics, hypotheses) on every pair of a TSV file or two aligned files: nothing is filtered, and an
    empty sentence is an error naming its line."""
    pairs, _ = read_split(tsv, source, target)
    sources = encode_side(trained.source_vocab, pairs.sources, pairs.origins, "source")
    targets = encode_side(trained.target_vocab, pairs.targets, pairs.origins, "target")
    return score(trained.model, sources, targets, pairs.targets, trained.target_vocab,
                 settings or trained.config.decode, batch_size, greedy, full=True)


def evaluate(path: str, which: str, data: Optional[str] = None, batch_size: Optional[int] = None,
             source: Optional[str] = None, target: Optional[str] = None, greedy: bool = False,
             beam_size: Optional[int] = None) -> Report:
    """BLEU and chrF (sacrebleu, detokenized) of beam search (or greedy decoding), and perplexity."""
    if data and (source or target):
        raise DataError("give either --data (a TSV file of pairs) or --source and --target (two aligned files)")
    if not data and not (source and target):
        raise DataError("a sequence-to-sequence run is evaluated on --source FILE --target FILE (two aligned "
                        "files) or --data FILE (a TSV file, source<TAB>target per line)")
    if batch_size is not None and batch_size < 1:
        raise DataError(f"--batch-size {batch_size}: expected an integer >= 1")
    trained = load_trained(path, which)
    settings = trained.config.decode if beam_size is None else dataclasses.replace(trained.config.decode,
                                                                                  beam_size=beam_size)
    metrics, _ = evaluate_files(trained, data or "", source or "", target or "", settings, greedy,
                                batch_size or trained.config.data.eval_batch_size)
    name = data or f"{source} + {target}"
    metrics = {"data": name, "checkpoint": trained.checkpoint, **metrics}
    return Report(metrics, [f"{name} ({os.path.basename(trained.checkpoint)}):"] + report_lines(metrics), [])
