"""The default corpus: the standard library's own source, the same on every call, ASCII, cut at
max_chars."""

import os
import sysconfig

from rnnkit.data.corpus import stdlib_corpus


def test_deterministic_ascii_and_cut_at_max_chars():
    corpus = stdlib_corpus(30_000)
    assert len(corpus) == 30_000
    assert corpus.isascii()
    assert stdlib_corpus(30_000) == corpus
    assert stdlib_corpus(12_000) == corpus[:12_000]  # a shorter corpus is a prefix: same files, same order


def test_small_corpora_are_cut_too():
    assert len(stdlib_corpus(500)) == 500


def test_starts_with_the_first_public_module_in_name_order():
    root = sysconfig.get_paths()["stdlib"]
    first = min(n for n in os.listdir(root)
                if n.endswith(".py") and not n.startswith("_") and os.path.isfile(os.path.join(root, n)))
    corpus = stdlib_corpus(20_000)
    assert corpus.startswith(f"# ---- {first} ----\n")
    with open(os.path.join(root, first), encoding="utf-8") as f:
        source = "".join(ch for ch in f.read() if ch.isascii())
    header = len(f"# ---- {first} ----\n")
    assert corpus[header:header + 1000] == source[:1000]
