"""TextEncoder: the word regex, normalization, vocabulary limits, <pad> = 0 and <unk> = 1, BPE with its
pad id, and a JSON round trip that encodes the same."""

import json

import pytest

from rnnkit.data.encoder import PAD, UNK, TextEncoder
from rnnkit.data.text import DataError

TEXTS = ["I loved it.<br /><br />Don't miss it!", "I hated it... boring", "It was OK, I guess"]


def test_words_keep_inner_apostrophes_and_split_punctuation():
    encoder = TextEncoder("word")
    assert encoder.words("Don't miss it!<br />Really.") == ["don't", "miss", "it", "!", "really", "."]
    assert TextEncoder("word", lowercase=False, strip_html=False).words("A<br/>b") == ["A", "<", "br", "/", ">", "b"]
    assert encoder.words("x < y > z") == ["x", "<", "y", ">", "z"]  # a lone < is not a tag


def test_vocabulary_order_limits_and_specials():
    encoder = TextEncoder.fit("word", ["b a c", "b a", "b d"], min_count=1)
    assert encoder.symbols == [PAD, UNK, "b", "a", "c", "d"]  # by count, then by name
    assert TextEncoder.fit("word", ["b a c", "b a", "b d"], min_count=2).symbols == [PAD, UNK, "b", "a"]
    assert TextEncoder.fit("word", ["b a c", "b a", "b d"], vocab_size=3).symbols == [PAD, UNK, "b"]


def test_unknown_words_read_as_unk_and_are_counted():
    encoder = TextEncoder.fit("word", TEXTS)
    ids, unknown = encoder.encode("I loved the popcorn")
    assert ids[:2] == [encoder.index["i"], encoder.index["loved"]] and ids[2:] == [1, 1] and unknown == 2
    sequences, unknown_all, total = encoder.encode_all(["I loved the popcorn", "boring"])
    assert sequences == [ids, [encoder.index["boring"]]] and (unknown_all, total) == (2, 5)


def test_bpe_pads_with_zero_never_unknown_and_round_trips():
    encoder = TextEncoder.fit("bpe", TEXTS * 20, vocab_size=300)
    assert encoder.token_strings()[0] == PAD and len(encoder) <= 300
    ids, unknown = encoder.encode("I loved it, zebra! \u00e9t\u00e9")
    assert unknown == 0 and 0 not in ids and len(ids) > 0
    again = TextEncoder.from_json(json.loads(json.dumps(encoder.to_json())))
    assert again.encode("I loved it, zebra!") == encoder.encode("I loved it, zebra!")
    assert encoder.encode_all(["I loved it, zebra! \u00e9t\u00e9"])[0] == [ids]


def test_word_json_round_trip_keeps_normalization():
    encoder = TextEncoder.fit("word", TEXTS, lowercase=False, strip_html=False)
    again = TextEncoder.from_json(json.loads(json.dumps(encoder.to_json())))
    assert again.symbols == encoder.symbols and again.encode("Don't <br />") == encoder.encode("Don't <br />")
    with pytest.raises(DataError, match="expected one of"):
        TextEncoder.from_json({"kind": "char"})
