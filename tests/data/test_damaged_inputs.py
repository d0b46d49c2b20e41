"""Damaged and hostile input files (issue 19): every reader of a user's data, given a valid file with
bytes truncated, flipped or spliced, or with one of its fields replaced by a hostile value (thousands
of digits, a 400-digit year, 1e999, NaN, a NUL, deep JSON nesting, bytes that are not UTF-8 ...),
either reads it or raises rnnkit's DataError naming that file, and the line where the fault is on a
line. Never another exception. Hypothesis generates the cases, a few hundred per reader."""

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data.conll import read_sentences
from rnnkit.data.labeled import read_examples
from rnnkit.data.parallel import read_lines, read_pairs
from rnnkit.data.series import read_series
from rnnkit.data.text import read_text
from rnnkit.data.vectors import load_vectors
from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks import TASKS
from rnnkit.training.config import resolve

HOSTILE = ["9" * 5000, "1" + "0" * 400, "-" + "9" * 400, "1e999", "-1e999", "1e-999", "nan", "NaN", "inf", "-inf",
           "NaT", "", " ", "\x00", "[" * 3000, "{" * 3000, '"', '""', "'", "\t", "\r", "\n", "\n\n", "\u2028",
           "\ufeff", "0x10", "9" * 400 + "-01-01", "3.5e38", "-1e39", "2020-13-45", "2020-01-01 25:61", "-1", "0", "B-", "Z-PER",
           "b-loc", "-DOCSTART-", ",", ";", "\\", "\xff", "\U0001f600", "true", "null", "[]", "{}", "1" * 19]
FIELD = re.compile(rb"[^\s,\t\"{}\[\]:]+")  # the spans a hostile value replaces: fields, tokens, numbers


def damage(data: bytes, kind: str, where: int, garbage: bytes, hostile: str) -> bytes:
    if kind == "field":
        fields = list(FIELD.finditer(data))
        if not fields:
            return data + hostile.encode("utf-8", "surrogatepass")
        match = fields[where % len(fields)]
        return data[:match.start()] + hostile.encode("utf-8", "surrogatepass") + data[match.end():]
    if kind == "latin1":
        return data.replace(b"e", b"\xe9", 1)
    at = where % max(len(data), 1)
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:] if data else data
    if kind == "splice":
        return data[:at] + garbage + data[at + len(garbage):]
    return garbage  # "replace"


DAMAGE = st.tuples(st.sampled_from(["field", "truncate", "flip", "splice", "replace", "latin1"]),
                   st.integers(0, 10**6), st.binary(max_size=48), st.sampled_from(HOSTILE))

LINES = [f"the {w} sat on the mat number {i}" for i, w in enumerate(["cat", "dog", "owl", "emu", "elk", "yak"])]
TIMES = [f"2020-01-{d:02d}" for d in range(1, 21)]
SAMPLES = {
    "text": "\n".join(LINES) + "\n",
    "csv": "text,label\n" + "".join(f'"{line}, yes",{"pos" if i % 2 else "neg"}\n' for i, line in enumerate(LINES)),
    "tsv": "text\tlabel\n" + "".join(f"{line}\t{i % 3}\n" for i, line in enumerate(LINES)),
    "jsonl": "".join(f'{{"text": "{line}", "label": {i % 2}, "score": {i}.5}}\n' for i, line in enumerate(LINES)),
    "conll": "-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n"
             "call NN I-NP O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\nBRUSSELS NNP B-NP S-LOC\n",
    "tagged.jsonl": '{"tokens": ["EU", "rejects", "Peter"], "tags": ["B-ORG", "O", "B-PER"]}\n'
                    '{"tokens": ["In", "Paris", "France"], "tags": ["O", "I-LOC", "E-LOC"]}\n',
    "series": "t,load,temp\n" + "".join(f"{t},{100 + 3 * i}.5,{-2 + i * 0.25}\n" for i, t in enumerate(TIMES)),
    "source": "".join(f"{line}\n" for line in LINES),
    "target": "".join(f"{line[::-1]}\n" for line in LINES),
    "pairs": "".join(f"{line}\t{line.upper()}\n" for line in LINES),
    "vectors": "3 4\n" + "".join(f"{w} 0.{i} -1.5 2e-3 {i}\n" for i, w in enumerate(["the", "cat", "mat"])),
    "pos/a": "a fine film, 9/10\nwould watch again\n",
    "neg/b": "dull\n",
    "config": "data:\n  train: corpus.txt\n  tokenizer: char\n  batch_size: 32\nmodel:\n  cell: lstm\n  hidden_size: 256\n"
              "  dropout: 0.0\ntrain:\n  lr: 0.004\n  schedule: cosine\n  max_steps: 3000\n",
}
READERS = {  # name: (the sample files it reads, what reads them)
    "text": (["text"], lambda p: read_text(p[0])),
    "csv": (["csv"], lambda p: read_examples(p[0], fmt="csv")),
    "tsv": (["tsv"], lambda p: read_examples(p[0], fmt="tsv")),
    "jsonl": (["jsonl"], lambda p: read_examples(p[0], fmt="jsonl")),
    "conll": (["conll"], lambda p: read_sentences(p[0], fmt="conll", max_length=100)),
    "conll-tokens": (["conll"], lambda p: read_sentences(p[0], tag_column=None, fmt="conll")),
    "tagged-jsonl": (["tagged.jsonl"], lambda p: read_sentences(p[0], fmt="jsonl")),
    "series": (["series"], lambda p: read_series(p[0], "t", ["load", "temp"])),
    "series-filled": (["series"], lambda p: read_series(p[0], "t", ["load", "temp"], fill="interpolate")),
    "aligned": (["source", "target"], lambda p: read_pairs(p[0], p[1])),
    "pairs": (["pairs"], lambda p: read_pairs(p[0])),
    "lines": (["source"], lambda p: read_lines(p[0])),
    "vectors": (["vectors"], lambda p: load_vectors(p[0], ["<pad>", "<unk>", "the", "cat", "dog"])),
    "folder": (["pos/a", "neg/b"], lambda p: read_examples(str(Path(p[0]).parent.parent), fmt="folder")),
    "config": (["config"], lambda p: resolve(TASKS["lm"].RunConfig, files=[p[0]])),
}
SUFFIX = {"csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl", "tagged.jsonl": ".jsonl", "series": ".csv",
          "config": ".yaml"}
# a config's values are named by their key (model.hidden_size=...), its file only when it is not YAML
NAMES_THE_KEY = {"config": ConfigError}


def write_samples(folder: Path, names):
    paths = []
    for name in names:
        path = folder / f"{name.replace('.', '-')}{SUFFIX.get(name, '.txt')}"
        path.parent.mkdir(exist_ok=True)
        path.write_text(SAMPLES[name], encoding="utf-8")
        paths.append(path)
    return paths


@pytest.mark.parametrize("reader", READERS)
def test_each_sample_is_valid(reader, tmp_path):
    """The undamaged files read, so that what the damage test sees is the damage's doing."""
    names, read = READERS[reader]
    read([str(p) for p in write_samples(tmp_path, names)])


def outcome(read, paths, path, error_type=DataError):
    """None when the files read (to finite values) or fail with a DataError naming ``path`` (or for a config,
    a ConfigError that names the file or a key); else what went wrong."""
    try:
        result = read([str(p) for p in paths])
    except error_type as error:
        if str(path) in str(error) or (error_type is ConfigError and re.search(r"(data|model|train)\.\w+", str(error))):
            return None
        return f"{error!r} does not name {path}"
    except Exception as error:  # noqa: BLE001 (what this test looks for)
        return f"{type(error).__name__}: {str(error)[:200]}"
    values = getattr(result, "values", getattr(result, "weight", None))  # a series, vectors: finite numbers only
    if values is not None and not np.isfinite(np.asarray(values)).all():
        return "non-finite values were read as data"
    return None


@pytest.mark.parametrize("reader", READERS)
def test_every_hostile_value_in_every_field_of_the_first_lines(reader, tmp_path):
    """Exhaustive where hypothesis would sample: each hostile value in each field of the first three lines
    of each file the reader takes (a few hundred cases per reader)."""
    names, read = READERS[reader]
    failures = []
    for which, name in enumerate(names):
        original = SAMPLES[name].encode()
        head = len(b"".join(original.splitlines(keepends=True)[:3]))
        for field in [m for m in FIELD.finditer(original) if m.start() < head]:
            for hostile in HOSTILE:
                paths = write_samples(tmp_path, names)
                paths[which].write_bytes(original[:field.start()] + hostile.encode("utf-8", "surrogatepass")
                                         + original[field.end():])
                problem = outcome(read, paths, paths[which], NAMES_THE_KEY.get(reader, DataError))
                if problem:
                    failures.append(f"{name}: {field.group()!r} -> {hostile[:12]!r}{'...' if len(hostile) > 12 else ''}: "
                                    f"{problem}")
    assert not failures, f"{len(failures)} cases:\n" + "\n".join(failures[:25])


@pytest.mark.parametrize("reader", READERS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damaged=DAMAGE, which=st.integers(0, 1))
def test_a_damaged_file_reads_or_is_named(reader, damaged, which, tmp_path_factory):
    names, read = READERS[reader]
    paths = write_samples(tmp_path_factory.mktemp(reader), names)
    path = paths[which % len(paths)]
    path.write_bytes(damage(path.read_bytes(), *damaged))
    problem = outcome(read, paths, path, NAMES_THE_KEY.get(reader, DataError))
    assert problem is None, problem
