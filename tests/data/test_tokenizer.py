"""Tokenizers: text -> ids -> text, unknown symbols reported, streaming decode equal to decode, and a
JSON round trip that encodes the same."""

import json
from collections import Counter

import pytest

from rnnkit.data.text import DataError
from rnnkit.data.tokenizer import (EOS, UNK, BPETokenizer, CharTokenizer, WordTokenizer, fit_tokenizer,
                                   tokenizer_from_json)

TEXT = "the cat sat on the mat\nthe dog sat\n\na cat ran — vite, très vite! 日本語\n"


# --- characters -----------------------------------------------------------------------------------

def test_char_round_trip_and_sorted_vocabulary():
    tokenizer = CharTokenizer.fit(TEXT)
    assert tokenizer.symbols == sorted(set(TEXT)) and len(tokenizer) == len(set(TEXT))
    ids = tokenizer.encode(TEXT)
    assert len(ids) == len(TEXT)
    assert tokenizer.decode(ids) == TEXT
    assert "".join(tokenizer.stream_decode(ids)) == TEXT


def test_char_unknowns_are_dropped_and_counted():
    tokenizer = CharTokenizer.fit("abc")
    ids, unknown = tokenizer.encode_checked("axbyxc")
    assert tokenizer.decode(ids) == "abc"
    assert unknown == Counter({"x": 2, "y": 1})


# --- words ----------------------------------------------------------------------------------------

def test_word_vocabulary_by_count_then_alphabet():
    tokenizer = WordTokenizer.fit("b a c\nb a\nb d\n")
    assert tokenizer.symbols == [EOS, UNK, "b", "a", "c", "d"]  # b x3, a x2, then c, d by name


def test_word_round_trip_one_eos_per_line():
    tokenizer = WordTokenizer.fit(TEXT)
    ids = tokenizer.encode(TEXT)
    assert ids.count(tokenizer.eos) == len(TEXT.splitlines())
    assert tokenizer.decode(ids) == TEXT  # single spaces and \n line ends: the text comes back as it was
    assert "".join(tokenizer.stream_decode(ids)) == TEXT


def test_word_add_eos_false_leaves_the_last_line_open():
    tokenizer = WordTokenizer.fit("a b\nc\n")
    assert tokenizer.encode_checked("a b\nc", add_eos=False)[0] == [tokenizer.index[w] for w in ("a", "b")] + \
        [tokenizer.eos, tokenizer.index["c"]]


def test_word_unknowns_become_unk_and_are_counted():
    tokenizer = WordTokenizer.fit("a b\n")
    ids, unknown = tokenizer.encode_checked("a zz b zz y\n")
    assert ids == [tokenizer.index["a"], tokenizer.unk, tokenizer.index["b"], tokenizer.unk, tokenizer.unk,
                   tokenizer.eos]
    assert unknown == Counter({"zz": 2, "y": 1})


def test_word_min_count_and_max_size():
    text = "a a a b b c\n"
    assert WordTokenizer.fit(text, min_count=2).symbols == [EOS, UNK, "a", "b"]
    assert WordTokenizer.fit(text, max_size=3).symbols == [EOS, UNK, "a"]
    assert len(WordTokenizer.fit(text, max_size=4)) == 4
    rare = WordTokenizer.fit(text, min_count=3)
    ids, unknown = rare.encode_checked(text)
    assert unknown == Counter({"b": 2, "c": 1}) and ids.count(rare.unk) == 3


def test_word_special_symbols_in_the_text_are_not_duplicated():
    tokenizer = WordTokenizer.fit(f"a {UNK} {EOS} a\n")
    assert tokenizer.symbols == [EOS, UNK, "a"]


# --- byte-level BPE -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bpe():
    pytest.importorskip("tokenizers")
    return BPETokenizer.fit(TEXT * 20, vocab_size=300, min_count=2)


def test_bpe_round_trip_and_merges(bpe):
    ids = bpe.encode(TEXT)
    assert bpe.decode(ids) == TEXT
    assert len(ids) < len(TEXT.encode("utf-8"))  # it learned merges: fewer tokens than bytes
    assert len(bpe) <= 300


def test_bpe_knows_every_byte(bpe):
    text = "ünseen ☃ \x01 text"
    ids, unknown = bpe.encode_checked(text)
    assert unknown == Counter() and bpe.decode(ids) == text


def test_bpe_stream_decode_never_splits_a_character(bpe):
    text = "日本語 très ☃☃ é"
    ids = bpe.encode(text)
    single_bytes = [i for i in ids if "\ufffd" in bpe.decode([i])]
    assert single_bytes, "the test needs tokens that end inside a multi-byte character"
    pieces = list(bpe.stream_decode(ids))
    assert "".join(pieces) == text
    assert not any("\ufffd" in piece for piece in pieces)


# --- JSON -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_json_round_trip_encodes_the_same(kind):
    if kind == "bpe":
        pytest.importorskip("tokenizers")
    tokenizer = fit_tokenizer(kind, TEXT * 5, vocab_size=280)
    restored = tokenizer_from_json(json.loads(json.dumps(tokenizer.to_json())))
    assert type(restored) is type(tokenizer) and len(restored) == len(tokenizer)
    sample = "the cat ran très vite\nzebra 日本\n"
    assert restored.encode_checked(sample) == tokenizer.encode_checked(sample)
    ids = tokenizer.encode(sample)
    assert restored.decode(ids) == tokenizer.decode(ids)


def test_unknown_kinds_are_data_errors():
    with pytest.raises(DataError, match="tokenizer 'bytes': expected one of"):
        fit_tokenizer("bytes", TEXT)
    with pytest.raises(DataError, match="vocabulary of kind None"):
        tokenizer_from_json({"symbols": ["a"]})
