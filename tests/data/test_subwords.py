"""Translation vocabularies: the specials at ids 0..3 in both kinds, decode(encode(text)) giving back the
text as it was spaced (BLEU reads it), EOS/PAD/BOS in decoding, unknown words, lowercase, joint and
separate vocabularies, and a JSON round trip that encodes and decodes the same."""

import json
import time
from pathlib import Path

import pytest

from rnnkit.data.parallel import read_pairs
from rnnkit.data.subwords import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary, fit_vocabularies, split_words
from rnnkit.data.text import DataError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # ../shared/data from the repo root
MULTI30K = SHARED / "multi30k"

# Multi30k-style sentences: punctuation, umlauts, quotes, a space before a comma
GERMAN = ["Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
          "Ein kleines Mädchen klettert in ein Spielhaus aus Holz.",
          "Ein Mann in einem blauen Hemd steht auf einer Leiter und putzt ein Fenster.",
          "Eine Frau (mit Hut) sagt: „Hallo!“ – und geht."]
ENGLISH = ["Two young, White males are outside near many bushes.",
           "A little girl climbing into a wooden playhouse.",
           "A man , in blue.",
           "A woman's dog, 3.5 years old, isn't \"happy\"; it's (probably) tired..."]
TEXTS = GERMAN + ENGLISH


@pytest.fixture(scope="module")
def bpe():
    return Vocabulary.fit("bpe", TEXTS * 5, vocab_size=400)


@pytest.fixture(scope="module")
def word():
    return Vocabulary.fit("word", TEXTS)


def test_specials_are_ids_0_to_3_in_both_kinds(bpe, word):
    assert (PAD, UNK, BOS, EOS) == (0, 1, 2, 3)
    for vocabulary in (bpe, word):
        assert vocabulary.tokens([0, 1, 2, 3]) == list(SPECIALS)
        assert all(i > EOS for text in TEXTS for i in vocabulary.encode(text))  # no BOS/EOS added
    assert len(bpe) <= 400


@pytest.mark.parametrize("kind", ["bpe", "word"])
def test_decode_of_encode_gives_the_text_back_as_it_was_spaced(kind, bpe, word):
    vocabulary = {"bpe": bpe, "word": word}[kind]
    for text in TEXTS:
        assert vocabulary.decode(vocabulary.encode(text)) == text
    assert vocabulary.decode(vocabulary.encode("  Ein  Mann ,\tin blue. ")) == "Ein Mann , in blue."


def test_bpe_spells_unseen_characters_in_bytes_and_keeps_specials_typed_in_text_as_text(bpe):
    for text in ["Zoë's café 🙂 ǅ", "<s> is not BOS, </s> not EOS", "x\u2581y"]:
        ids = bpe.encode(text)
        assert UNK not in ids and BOS not in ids and EOS not in ids
        assert bpe.decode(ids) == text.replace("\u2581", " ")  # the meta space in a text is a space
    assert "<0xF0>" in bpe.tokens(bpe.encode("🙂"))
    assert bpe.tokens(bpe.encode("Männer."))[-1] == "."  # punctuation is its own piece


def test_word_tokens_carry_joiners_where_there_was_no_space():
    assert split_words("A man , in (blue).") == ["A", "man", ",", "in", "(\uffed", "blue", "\uffed)", "\uffed."]
    assert split_words("z.B. don't") == ["z", "\uffed.\uffed", "B", "\uffed.", "don't"]


def test_word_level_unknown_words_read_as_unk_and_decode_as_unk(word):
    ids = word.encode("Ein Zebra.")
    assert ids[1] == UNK and word.tokens(ids) == ["Ein", "<unk>", "\uffed."]
    assert word.decode(ids) == "Ein <unk>."
    limited = Vocabulary.fit("word", ["b a c", "b a", "b d"], vocab_size=6)
    assert limited.tokens(range(len(limited))) == list(SPECIALS) + ["b", "a"]  # by count, then by name
    assert Vocabulary.fit("word", ["b a c", "b a", "b d"], min_count=2).tokens([4, 5]) == ["b", "a"]


@pytest.mark.parametrize("kind", ["bpe", "word"])
def test_decode_stops_at_eos_and_skips_pad_and_bos(kind, bpe, word):
    vocabulary = {"bpe": bpe, "word": word}[kind]
    ids = vocabulary.encode("Ein Mann.")
    assert vocabulary.decode([BOS] + ids + [EOS] + ids + [PAD]) == "Ein Mann."
    assert vocabulary.decode([BOS, PAD, EOS]) == ""
    assert vocabulary.tokens([BOS] + ids)[0] == "<s>"  # one label per id, specials included
    with pytest.raises(ValueError, match=r"ids \[100000\] are outside the vocabulary"):
        vocabulary.decode([100000])


@pytest.mark.parametrize("kind", ["bpe", "word"])
def test_lowercase_applies_before_everything(kind):
    vocabulary = Vocabulary.fit(kind, TEXTS * 3, vocab_size=400, lowercase=True)
    assert vocabulary.decode(vocabulary.encode("Zwei Männer.")) == "zwei männer."
    assert vocabulary.encode("ZWEI") == vocabulary.encode("zwei")


@pytest.mark.parametrize("kind", ["bpe", "word"])
def test_json_round_trip_encodes_and_decodes_the_same(kind, bpe, word):
    vocabulary = {"bpe": bpe, "word": word}[kind]
    again = Vocabulary.from_json(json.loads(json.dumps(vocabulary.to_json())))
    assert again.to_json() == vocabulary.to_json() and len(again) == len(vocabulary)
    for text in TEXTS + ["<s> typed", "Zebra 🙂"]:
        assert again.encode(text) == vocabulary.encode(text)
        assert again.decode(again.encode(text)) == vocabulary.decode(vocabulary.encode(text))


def test_joint_is_one_vocabulary_for_both_sides_separate_is_one_each():
    source, target = fit_vocabularies(GERMAN, ENGLISH, kind="word", joint=True)
    assert source is target and source.encode("Männer") != [UNK] and source.encode("girl") != [UNK]
    source, target = fit_vocabularies(iter(GERMAN), iter(ENGLISH), kind="word", joint=False)
    assert source is not target
    assert source.encode("Männer") != [UNK] and source.encode("girl") == [UNK] and target.encode("Männer") == [UNK]
    source, target = fit_vocabularies(GERMAN * 3, ENGLISH * 3, kind="bpe", joint=False, vocab_size=300)
    assert source is not target and source.to_json() != target.to_json()


@pytest.mark.parametrize("call, error, message", [
    (lambda: Vocabulary.fit("char", TEXTS), DataError, r"vocabulary of kind 'char': expected one of"),
    (lambda: Vocabulary.fit("bpe", TEXTS, vocab_size=100), ValueError, r"vocab_size=100: expected at least 261"),
    (lambda: Vocabulary.fit("word", TEXTS, min_count=0), ValueError, r"min_count=0: expected a whole number >= 1"),
    (lambda: Vocabulary.fit("word", ["", "  "]), DataError, r"no text to fit a vocabulary on"),
    (lambda: Vocabulary.from_json({"kind": "word", "lowercase": False}), DataError, r"expected the keys"),
    (lambda: Vocabulary.from_json({"kind": "word", "lowercase": False, "symbols": ["<pad>", "a", "b", "c"]}),
     DataError, r"ids 0\.\.3 are \['<pad>', 'a', 'b', 'c'\], expected \['<pad>', '<unk>', '<s>', '</s>'\]"),
])
def test_bad_settings_and_files_say_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.skipif(not (MULTI30K / "train.de").exists(), reason="../shared/data/multi30k absent")
def test_joint_bpe_8000_on_multi30k_is_fast_and_round_trips():
    """Both sides of Multi30k's training set (58,000 sentences) fit in about 1.5 s on one core."""
    pairs = read_pairs(str(MULTI30K / "train.de"), str(MULTI30K / "train.en"))
    start = time.perf_counter()
    vocabulary, _ = fit_vocabularies(pairs.sources, pairs.targets, kind="bpe", vocab_size=8000)
    assert time.perf_counter() - start < 20
    assert len(vocabulary) == 8000
    for text in pairs.sources[::20] + pairs.targets[::20]:
        assert vocabulary.decode(vocabulary.encode(text)) == " ".join(text.split())
