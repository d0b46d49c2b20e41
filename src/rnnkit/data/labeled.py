"""Labeled texts from the files a user already has: CSV, TSV, JSON lines, or one folder per class.

    CSV / TSV     a header row naming the columns; quoted fields may span lines (RFC 4180)
    JSON lines    one object per line: {"text": ..., "label": ...}
    folder        DIR/<class>/*.txt, one text per file (the aclImdb layout: train/pos, train/neg)

Files ending in .gz, .bz2 or .xz are read through their decompressor. Every problem names the file and
the line (or the file, for folders) and what was expected. With ``skip_bad`` a broken row is counted
and skipped instead, and the counts come back with the examples so the caller can report them.
"""

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

from .text import DataError, decode_utf8

FORMATS = ("auto", "csv", "tsv", "jsonl", "folder")
OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


@dataclass
class Examples:
    """Texts with their labels (strings) and where each one came from ("file:line" or a file path)."""

    texts: List[str]
    labels: List[Optional[str]]  # None where the file has no label column (prediction input)
    origins: List[str]
    skipped: Counter = field(default_factory=Counter)  # problem -> rows skipped (skip_bad only)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> "Examples":
        return Examples([self.texts[i] for i in indices], [self.labels[i] for i in indices],
                        [self.origins[i] for i in indices], self.skipped)


def detect_format(path: str) -> str:
    if os.path.isdir(path):
        return "folder"
    name = path.lower()
    for suffix in OPENERS:
        name = name.removesuffix(suffix)
    for fmt, endings in (("csv", (".csv",)), ("tsv", (".tsv", ".tab")), ("jsonl", (".jsonl", ".ndjson", ".json"))):
        if name.endswith(endings):
            return fmt
    raise DataError(f"{path}: cannot tell the format from the name; expected .csv, .tsv, .jsonl (optionally .gz, "
                    ".bz2, .xz) or a folder with one subfolder per class; or set data.format")


def open_text(path: str) -> io.StringIO:
    """The text of ``path`` as a stream (decompressed by its suffix; a BOM dropped; line endings kept for
    the csv module). Read whole, so that bytes that are not UTF-8 are reported with their line."""
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, expected a file (or data.format=folder)")
    opener = OPENERS.get(os.path.splitext(path)[1].lower(), open)
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, lzma.LZMAError) as error:
        raise DataError(f"{path}: cannot read it: {error}") from None
    return io.StringIO(decode_utf8(raw, path), newline="")


def stream_lines(path: str):
    """(line number, line) of a possibly huge file, decompressed, without reading it whole; bytes that are
    not UTF-8 are an error naming the line."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    opener = OPENERS.get(os.path.splitext(path)[1].lower(), open)
    with opener(path, "rb") as f:
        yield from _decoded(f, path)


def input_lines(path: Optional[str]):
    """(line number, line) of ``path``, or of standard input when ``path`` is None, read as it streams in;
    bytes that are not UTF-8 are an error naming the file (or <stdin>) and the line."""
    if path:
        yield from stream_lines(path)
    elif getattr(sys.stdin, "buffer", None) is None:  # a text stream (tests, embedding): its own decoding
        yield from enumerate(sys.stdin, 1)
    else:
        yield from _decoded(sys.stdin.buffer, "<stdin>")


def _decoded(raw_lines, name: str):
    for number, raw in enumerate(raw_lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(f"{name}:{number}: not UTF-8 text (byte {raw[error.start]:#04x}); convert it "
                            "first, for instance with iconv -f latin1 -t utf-8") from None
        yield number, line.removeprefix("\ufeff") if number == 1 else line


def json_lines(path: str):
    """(where "file:line", record or an error message) for each non-blank line of a JSON-lines file."""
    with open_text(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield f"{path}:{number}", json.loads(line)
            except json.JSONDecodeError as error:
                yield f"{path}:{number}", DataError(f"not JSON: {error.msg} at column {error.colno}")
            except ValueError as error:  # an integer of more digits than Python converts (4,300)
                yield f"{path}:{number}", DataError(f"not a JSON value rnnkit reads: {error}".split(";")[0])
            except RecursionError:
                yield f"{path}:{number}", DataError("JSON nested too deeply to read (arrays or objects within "
                                                    "each other, hundreds deep)")


class _Rows:
    """Collects rows, turning each problem into an error or (skip_bad) a count."""

    def __init__(self, path: str, skip_bad: bool, need_label: bool, labels: Sequence[str] = ()):
        self.path, self.skip_bad, self.need_label, self.labels = path, skip_bad, need_label, list(labels)
        self.examples = Examples([], [], [])

    def bad(self, where: str, problem: str, kind: str) -> None:
        if not self.skip_bad:
            raise DataError(f"{where}: {problem}")
        self.examples.skipped[kind] += 1

    def add(self, where: str, text, label) -> None:
        if not isinstance(text, str):
            return self.bad(where, f"the text is {type(text).__name__}, expected a string", "text not a string")
        if not text.strip():
            return self.bad(where, "the text is empty", "empty text")
        if label is None or (isinstance(label, str) and not label.strip()):
            if self.need_label:
                return self.bad(where, "the label is empty", "empty label")
            label = None
        elif isinstance(label, float) and label.is_integer():
            label = str(int(label))
        elif isinstance(label, (str, int, float)) and not isinstance(label, bool):
            label = str(label).strip()
        else:
            return self.bad(where, f"the label {label!r} is not a string or a number", "bad label")
        if self.labels and label is not None and label not in self.labels:
            return self.bad(where, f"label {label!r} is not one of the classes {self.labels}", "unknown label")
        self.examples.texts.append(text)
        self.examples.labels.append(label)
        self.examples.origins.append(where)


def _read_delimited(path: str, delimiter: str, text_column: str, label_column: str, rows: _Rows) -> None:
    csv.field_size_limit(1 << 30)
    with open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            header = next(reader, None)
        except csv.Error as error:
            raise DataError(f"{path}:1: cannot read the header row: {error}") from None
        if not header:
            raise DataError(f"{path}: the file is empty; expected a header row naming the columns")
        header = [h.strip() for h in header]
        for role, name in (("text", text_column), ("label", label_column)):
            if name not in header and (role == "text" or rows.need_label):
                raise DataError(f"{path}:1: no {role} column {name!r}; the header has {header} "
                                f"(choose with --{role}-column or data.{role}_column)")
        text_at = header.index(text_column)
        label_at = header.index(label_column) if label_column in header else None
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                raise DataError(f"{path}:{start}: broken row: {error}") from None
            where, start = f"{path}:{start}", reader.line_num + 1
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                rows.bad(where, f"{len(row)} fields, the header has {len(header)}"
                         + (" (an unquoted delimiter or quote in the text?)" if len(row) > len(header) else ""),
                         "wrong number of fields")
                continue
            rows.add(where, row[text_at], None if label_at is None else row[label_at])


def _read_jsonl(path: str, text_column: str, label_column: str, rows: _Rows) -> None:
    for where, record in json_lines(path):
        if isinstance(record, DataError):
            rows.bad(where, str(record), "not JSON")
        elif not isinstance(record, dict):
            rows.bad(where, f"a JSON {type(record).__name__}, expected an object", "not an object")
        elif text_column not in record:
            rows.bad(where, f"no key {text_column!r} (keys: {sorted(record)})", "missing text")
        elif label_column not in record and rows.need_label:
            rows.bad(where, f"no key {label_column!r} (keys: {sorted(record)})", "missing label")
        else:
            rows.add(where, record[text_column], record.get(label_column))


def _read_folder(path: str, rows: _Rows, labels: Sequence[str]) -> None:
    if not os.path.isdir(path):
        raise DataError(f"{path}: no such folder (data.format=folder expects DIR/<class>/*.txt)")
    classes = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    if labels:
        missing = [c for c in labels if c not in classes]
        if missing:
            raise DataError(f"{path}: no folder for the classes {missing}; it has {classes}")
        classes = list(labels)
    if not classes:
        raise DataError(f"{path}: no subfolders; expected one folder per class holding .txt files")
    for label in classes:
        folder = os.path.join(path, label)
        files = sorted(n for n in os.listdir(folder) if n.endswith(".txt"))
        if not files:
            raise DataError(f"{folder}: no .txt files in this class folder")
        for name in files:
            file = os.path.join(folder, name)
            try:
                with open(file, encoding="utf-8-sig") as f:
                    text = f.read()
            except UnicodeDecodeError as error:
                rows.bad(file, f"not UTF-8 text ({error.reason})", "not UTF-8")
                continue
            rows.add(file, text, label)


def read_examples(path: str, text_column: str = "text", label_column: str = "label", fmt: str = "auto",
                  labels: Sequence[str] = (), skip_bad: bool = False, need_label: bool = True) -> Examples:
    """The labeled texts of ``path``. ``labels``, when given, is the set of classes allowed: any other
    label is an error (or skipped). Without ``need_label`` a missing label column is allowed (labels None)."""
    if fmt not in FORMATS:
        raise DataError(f"data.format={fmt!r}: expected one of {FORMATS}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    rows = _Rows(path, skip_bad, need_label, labels)
    if fmt == "folder":
        _read_folder(path, rows, labels)
    elif fmt == "jsonl":
        _read_jsonl(path, text_column, label_column, rows)
    else:
        _read_delimited(path, "," if fmt == "csv" else "\t", text_column, label_column, rows)
    examples = rows.examples
    if not examples.texts:
        skipped = f" ({sum(examples.skipped.values())} rows skipped)" if examples.skipped else ""
        raise DataError(f"{path}: no examples{skipped}")
    return examples


def sorted_classes(labels) -> List[str]:
    """The distinct labels in a stable order: numerically when they are all integers, else as strings."""
    distinct = set(labels)
    try:
        return sorted(distinct, key=int)
    except ValueError:
        return sorted(distinct)


def split_examples(examples: Examples, fraction: float, seed: int):
    """(train, valid): a random ``fraction`` held out with a fixed seed, stratified by label so each class
    keeps its share (scikit-learn's ``train_test_split(stratify=...)``)."""
    by_label = {}
    for i, label in enumerate(examples.labels):
        by_label.setdefault(label, []).append(i)
    rng = random.Random(seed)
    train, valid = [], []
    for label in sorted(by_label, key=str):
        indices = by_label[label]
        rng.shuffle(indices)
        cut = round(len(indices) * fraction)
        valid += indices[:cut]
        train += indices[cut:]
    if not train or not valid:
        raise DataError(f"{len(examples)} examples are too few to hold out a fraction of {fraction} for validation")
    return examples.subset(sorted(train)), examples.subset(sorted(valid))
