"""Tag schemes for spans (named entities, chunks): IOB1, IOB2 and IOBES, read and written through spans.

    IOB1   I-X inside a span; B-X only where a span follows another of the same type  (CoNLL-2003's original)
    IOB2   B-X begins every span, I-X continues it                                      (a.k.a. BIO)
    IOBES  S-X a one-token span; B-X, I-X, E-X begin, continue and end a longer one     (a.k.a. BILOU, BIOES)

Spans are read with the semantics of the CoNLL shared tasks' ``conlleval`` script, which accept any of
the three schemes and decide, from the previous tag and the current one, where a span starts and ends
(so an I-X after O starts a span, as it does in IOB1). Converting is reading spans in one scheme and
writing them in another; IOB2 and IOBES round-trip exactly.
"""

from typing import List, Sequence, Tuple

SCHEMES = ("iob1", "iob2", "iobes")
Span = Tuple[str, int, int]  # (type, start, end) with end exclusive


PREFIXES = ("B", "I", "E", "S")


def tag_problem(tag: str) -> str:
    """What is wrong with ``tag`` as a span tag ("" when it is ``O`` or ``P-TYPE`` with P one of B, I, E, S)."""
    if tag == "O":
        return ""
    prefix, dash, kind = tag.partition("-")
    if dash and prefix in PREFIXES and kind:
        return ""
    if dash and prefix.upper() in PREFIXES + ("U", "L") and kind:
        hint = {"U": "S", "L": "E"}.get(prefix.upper(), prefix.upper())
        what = "BILOU's" if prefix.upper() in ("U", "L") else "a lower-case"
        return f"tag {tag!r} has {what} prefix {prefix!r}; write it {hint}-{kind}"
    if dash and prefix in PREFIXES:
        return f"tag {tag!r} has no type after its prefix"
    return (f"tag {tag!r} is not a span tag: expected O or B-, I-, E-, S- followed by a type (IOB1, IOB2 or "
            "IOBES, as in B-PER); is the tag column (data.tag_column) the right one?")


def scheme_problem(tag: str, scheme: str) -> str:
    """What is wrong with a well-formed tag in a file said to be in ``scheme`` ("" when nothing is)."""
    prefix = tag.partition("-")[0]
    if scheme in ("iob1", "iob2") and prefix in ("E", "S"):
        return f"tag {tag!r} is IOBES, but data.scheme={scheme!r} (set data.scheme=iobes, or auto)"
    return ""


def split(tag: str) -> Tuple[str, str]:
    """("B", "PER") from "B-PER"; ("O", "") from "O"."""
    if tag == "O" or "-" not in tag:
        return "O", ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def _ends(prev: str, tag: str, prev_type: str, kind: str) -> bool:
    """conlleval's endOfChunk: does the span that ``prev`` is in end before ``tag``?"""
    return (prev in ("E", "S") or (prev in ("B", "I") and tag in ("B", "S", "O"))
            or (prev != "O" and prev_type != kind))


def _starts(prev: str, tag: str, prev_type: str, kind: str) -> bool:
    """conlleval's startOfChunk: does a span start at ``tag``?"""
    return (tag in ("B", "S") or (prev in ("E", "S", "O") and tag in ("E", "I"))
            or (tag != "O" and prev_type != kind))


def spans(tags: Sequence[str]) -> List[Span]:
    """The spans of a tag sequence in any of the schemes, as conlleval reads them."""
    found, start, prev, prev_type = [], None, "O", ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = split(tag)
        if start is not None and _ends(prev, prefix, prev_type, kind):
            found.append((prev_type, start, i))
            start = None
        if prefix != "O" and _starts(prev, prefix, prev_type, kind):
            start = i
        prev, prev_type = prefix, kind
    return found


def write(found: Sequence[Span], length: int, scheme: str) -> List[str]:
    """Tags of ``length`` tokens that mark the non-overlapping spans ``found`` in ``scheme``."""
    if scheme not in SCHEMES:
        raise ValueError(f"tag scheme {scheme!r}: expected one of {SCHEMES}")
    tags = ["O"] * length
    previous_end, previous_type = -1, None
    for kind, start, end in sorted(found, key=lambda s: s[1]):
        if scheme == "iobes" and end - start == 1:
            tags[start] = f"S-{kind}"
        else:
            for i in range(start, end):
                tags[i] = f"I-{kind}"
            if scheme == "iob2" or scheme == "iobes" or (previous_end == start and previous_type == kind):
                tags[start] = f"B-{kind}"
            if scheme == "iobes":
                tags[end - 1] = f"E-{kind}"
        previous_end, previous_type = end, kind
    return tags


def convert(tags: Sequence[str], scheme: str) -> List[str]:
    return write(spans(tags), len(tags), scheme)


def detect(sentences: Sequence[Sequence[str]]) -> str:
    """The scheme a corpus is written in: IOBES if it uses S- or E-, IOB1 if some span starts with I-
    (after O or a span of another type), else IOB2."""
    prefixes = {split(t)[0] for tags in sentences for t in tags}
    if prefixes & {"S", "E"}:
        return "iobes"
    for tags in sentences:
        prev_type = ""
        prev = "O"
        for tag in tags:
            prefix, kind = split(tag)
            if prefix == "I" and (prev == "O" or prev_type != kind):
                return "iob1"
            prev, prev_type = prefix, kind
    return "iob2"
