"""Tagged sentences from CoNLL-style column files and from JSON lines.

    CoNLL       one token per line, columns separated by whitespace (``EU NNP B-NP B-ORG``), a blank line
                between sentences, ``-DOCSTART-`` lines (document boundaries) ignored
    JSON lines  one sentence per line: {"tokens": ["EU", "rejects", ...], "tags": ["B-ORG", "O", ...]}

Files ending in .gz, .bz2 or .xz are decompressed. Every problem names the file and the line: a line
whose column count differs from the file's first token line, a sentence longer than ``max_length``,
a JSON sentence whose tokens and tags differ in number.
"""

from dataclasses import dataclass, field
from typing import List, Optional

from .labeled import OPENERS, json_lines, open_text
from .schemes import scheme_problem, tag_problem
from .text import DataError

FORMATS = ("auto", "conll", "jsonl")


@dataclass
class Sentences:
    tokens: List[List[str]]
    tags: List[Optional[List[str]]]  # None where the input has no tags (prediction)
    origins: List[str] = field(default_factory=list)  # "file:line" of each sentence's first token

    def __len__(self) -> int:
        return len(self.tokens)

    def subset(self, indices) -> "Sentences":
        return Sentences([self.tokens[i] for i in indices], [self.tags[i] for i in indices],
                         [self.origins[i] for i in indices])


def detect_format(path: str) -> str:
    name = path.lower()
    for suffix in OPENERS:
        name = name.removesuffix(suffix)
    return "jsonl" if name.endswith((".jsonl", ".ndjson", ".json")) else "conll"


def _tag_problem(tag: str, scheme: str) -> str:
    return tag_problem(tag) or scheme_problem(tag, scheme)


def _read_conll(path: str, token_column: int, tag_column: Optional[int], max_length: int, scheme: str) -> Sentences:
    result = Sentences([], [], [])
    tokens, tags, start, columns = [], [], 0, None

    def close():
        if tokens:
            if max_length and len(tokens) > max_length:
                raise DataError(f"{path}:{start}: a sentence of {len(tokens)} tokens, longer than the limit of "
                                f"{max_length} (data.max_length; a missing blank line between sentences?)")
            result.tokens.append(list(tokens))
            result.tags.append(list(tags) if tag_column is not None else None)
            result.origins.append(f"{path}:{start}")
            tokens.clear()
            tags.clear()

    with open_text(path) as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                close()
                continue
            if fields[0] == "-DOCSTART-":
                close()
                continue
            if columns is None:
                columns = len(fields)
                for name, index in (("token", token_column), ("tag", tag_column)):
                    if index is not None and not -columns <= index < columns:
                        raise DataError(f"{path}:{number}: no column {index} for the {name}s; the line has "
                                        f"{columns} columns (data.{name}_column counts from 0; -1 is the last)")
            elif len(fields) != columns:
                raise DataError(f"{path}:{number}: {len(fields)} columns, the file's first token line has {columns}")
            if not tokens:
                start = number
            tokens.append(fields[token_column])
            if tag_column is not None:
                problem = _tag_problem(fields[tag_column], scheme)
                if problem:
                    raise DataError(f"{path}:{number}: {problem}")
                tags.append(fields[tag_column])
    close()
    return result


def _read_jsonl(path: str, max_length: int, need_tags: bool, scheme: str) -> Sentences:
    result = Sentences([], [], [])
    for where, record in json_lines(path):
        if isinstance(record, DataError):
            raise DataError(f"{where}: {record}")
        tokens = record.get("tokens") if isinstance(record, dict) else None
        if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) and t for t in tokens):
            raise DataError(f"{where}: expected an object with \"tokens\": a non-empty list of strings")
        tags = record.get("tags")
        if tags is None and need_tags:
            raise DataError(f"{where}: no \"tags\" list")
        if tags is not None and (not isinstance(tags, list) or len(tags) != len(tokens)
                                 or not all(isinstance(t, str) for t in tags)):
            raise DataError(f"{where}: \"tags\" must be a list of {len(tokens)} strings, one per token")
        for i, tag in enumerate(tags or ()):
            if _tag_problem(tag, scheme):
                raise DataError(f"{where}: tags[{i}]: {_tag_problem(tag, scheme)}")
        if max_length and len(tokens) > max_length:
            raise DataError(f"{where}: a sentence of {len(tokens)} tokens, longer than the limit of {max_length}")
        result.tokens.append(tokens)
        result.tags.append(tags)
        result.origins.append(where)
    return result


def read_sentences(path: str, token_column: int = 0, tag_column: Optional[int] = -1, fmt: str = "auto",
                   max_length: int = 0, scheme: str = "auto") -> Sentences:
    """The sentences of ``path``; ``tag_column=None`` reads tokens only (input to tag). A ``scheme`` other
    than auto (iob1, iob2, iobes) refuses tags it cannot hold (E-, S- in IOB1 and IOB2)."""
    if fmt not in FORMATS:
        raise DataError(f"data.format={fmt!r}: expected one of {FORMATS}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "jsonl":
        sentences = _read_jsonl(path, max_length, tag_column is not None, scheme)
    else:
        sentences = _read_conll(path, token_column, tag_column, max_length, scheme)
    if not sentences.tokens:
        raise DataError(f"{path}: no sentences")
    return sentences
