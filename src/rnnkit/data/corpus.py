"""The default corpus: the Python standard library's own source, which every machine with Python has.

char-rnn once learned C from the Linux source; here a character-level model learns Python from the
interpreter it runs on, so the quick start needs no download and no data shipped with rnnkit. The
files are taken in sorted order and cut at ``max_chars``, so the corpus is the same on every machine
with the same Python version (its SHA-256 is recorded with each run and checked on resume).
"""

import os
import sysconfig

STDLIB = "@stdlib"  # the value of data.train that names this corpus
DEFAULT_CHARS = 1_000_000


def stdlib_corpus(max_chars: int = DEFAULT_CHARS) -> str:
    """Top-level modules of the standard library (no tests, no packages' internals), concatenated."""
    root = sysconfig.get_paths()["stdlib"]
    pieces, size = [], 0
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if not name.endswith(".py") or name.startswith("_") or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        text = "".join(ch for ch in text if ch.isascii())  # a small, stable alphabet
        pieces.append(f"# ---- {name} ----\n{text}\n")
        size += len(pieces[-1])
        if size >= max_chars:
            break
    corpus = "".join(pieces)[:max_chars]
    if len(corpus) < min(max_chars, 10_000):  # less than asked for (or tiny): the source is not there
        raise FileNotFoundError(f"the Python standard library's source was not found under {root}; "
                                "pass a text file with --data")
    return corpus
