"""Sentence pairs for sequence-to-sequence tasks (translation, summarization), from the files a user has.

    two files     line i of the source file and line i of the target file are one pair (train.de, train.en)
    one TSV file  source<TAB>target on each line, exactly one tab (pairs.tsv)

Files ending in .gz, .bz2 or .xz are read through their decompressor. A line is what ends at "\\n" (a
final newline is not a line, "\\r\\n" is read as "\\n"); the other separators ``str.splitlines`` knows
(U+2028, U+0085, a lone "\\r") are text, because parallel corpora hold them inside sentences and
splitting on them breaks the line alignment. Sentences lose their outer whitespace.

The usual seq2seq filters (OpenNMT's ``src_seq_length`` / ``tgt_seq_length``, Moses' ``clean-corpus-n``
ratio) run here, on whitespace tokens, before any subword tokenization. A filtered pair is never
silent: its reason is counted in ``Pairs.filtered``. Each pair is counted once, under the first of
"empty", "source too long", "target too long", "length ratio" that applies.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import List, Tuple

from .labeled import open_text
from .text import DataError


@dataclass
class Pairs:
    """Sentence pairs, where each came from ("train.de:12": the source file and line), and what was filtered."""

    sources: List[str]
    targets: List[str]
    origins: List[str]
    filtered: Counter = field(default_factory=Counter)  # reason -> pairs filtered

    def __len__(self) -> int:
        return len(self.sources)


def read_lines(path: str) -> Tuple[List[str], List[str]]:
    """(texts, origins "file:line") of a file to translate, one sentence per line. Empty lines are kept
    (as "") so that the output has one line per input line."""
    lines = _lines(path)
    if not lines:
        raise DataError(f"{path}: the file is empty; expected one sentence per line")
    return [line.strip() for line in lines], [f"{path}:{n}" for n in range(1, len(lines) + 1)]


def read_pairs(source: str, target: str = "", *, max_source_tokens: int = 0, max_target_tokens: int = 0,
               length_ratio: float = 0.0, skip_empty: bool = False) -> Pairs:
    """The sentence pairs of two aligned files (``source``, ``target``) or of one TSV file (``source``
    alone). Limits count whitespace tokens; 0 means no limit. ``length_ratio`` > 0 filters pairs whose
    longer side has more than that many times the tokens of the shorter. Empty sentences are an error
    naming the file and line, unless ``skip_empty``: then they are filtered and counted."""
    for name, value in (("max_source_tokens", max_source_tokens), ("max_target_tokens", max_target_tokens)):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}={value!r}: expected a whole number >= 0 (0 = no limit)")
    if length_ratio != 0 and not length_ratio >= 1:
        raise ValueError(f"length_ratio={length_ratio!r}: expected 0 (no filter) or a ratio >= 1 (longer/shorter)")
    pairs = Pairs([], [], [])
    for where, source_text, target_text in (_tsv(source) if not target else _aligned(source, target)):
        reason = _problem(source_text, target_text, max_source_tokens, max_target_tokens, length_ratio)
        if reason == "empty" and not skip_empty:
            side = "source" if not source_text else "target"
            raise DataError(f"{where[side]}: the {side} sentence is empty; expected text on both sides "
                            "(skip_empty filters and counts such pairs)")
        if reason:
            pairs.filtered[reason] += 1
            continue
        pairs.sources.append(source_text)
        pairs.targets.append(target_text)
        pairs.origins.append(where["source"])
    if not pairs.sources:
        filtered = ", ".join(f"{count} {reason}" for reason, count in pairs.filtered.most_common())
        raise DataError(f"{source}: no sentence pairs" + (f" (filtered: {filtered})" if filtered else ""))
    return pairs


def _problem(source: str, target: str, max_source: int, max_target: int, ratio: float) -> str:
    """Why a pair is filtered ("" when it is kept)."""
    if not source or not target:
        return "empty"
    source_length, target_length = len(source.split()), len(target.split())
    if max_source and source_length > max_source:
        return "source too long"
    if max_target and target_length > max_target:
        return "target too long"
    if ratio and max(source_length, target_length) > ratio * min(source_length, target_length):
        return "length ratio"
    return ""


def _lines(path: str) -> List[str]:
    """The lines of ``path`` without their line endings (a final newline ends the last line)."""
    with open_text(path) as f:
        lines = f.read().split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _aligned(source: str, target: str):
    """(where by side, source, target) for the lines of two files that must have as many lines."""
    source_lines, target_lines = _lines(source), _lines(target)
    if len(source_lines) != len(target_lines):
        (short, short_lines), (long, long_lines) = sorted(
            ((source, source_lines), (target, target_lines)), key=lambda file: len(file[1]))
        ended = len(short_lines)
        hint = ""
        if not any(line.strip() for line in long_lines[ended:]):
            hint = f" (the extra lines of {long} are empty: remove the blank lines after its last sentence)"
        raise DataError(f"{source} has {len(source_lines)} lines but {target} has {len(target_lines)}: {short} ends "
                        f"after line {ended}, so line {ended + 1} of {long} has no translation; expected the "
                        f"same number of lines, line i of one being the translation of line i of the other{hint}")
    for number, (source_text, target_text) in enumerate(zip(source_lines, target_lines), 1):
        yield {"source": f"{source}:{number}", "target": f"{target}:{number}"}, source_text.strip(), target_text.strip()


def _tsv(path: str):
    """(where by side, source, target) for each line "source<TAB>target" of a TSV file."""
    for number, line in enumerate(_lines(path), 1):
        where = f"{path}:{number}"
        if not line.strip():
            yield {"source": where, "target": where}, "", ""
            continue
        tabs = line.count("\t")
        if tabs != 1:
            found = "no tab" if not tabs else f"{tabs} tabs"
            raise DataError(f"{where}: {found}; expected exactly one tab between the source and the target "
                            "sentence (or give the target sentences as a second file)")
        source_text, target_text = line.split("\t")
        yield {"source": where, "target": where}, source_text.strip(), target_text.strip()
