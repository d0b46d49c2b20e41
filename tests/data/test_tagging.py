"""Tagging vocabularies, casing, batches, and the transitions each scheme allows: every well-formed
sequence passes them, and every sequence they pass reads back into the same tags."""

import itertools

import torch

from rnnkit.data.schemes import convert, spans, write
from rnnkit.data.tagging import CASES, TaggingVocabulary, allowed_transitions, casing, collate


def test_casing_classes():
    names = {t: CASES[casing(t)] for t in ["1996", "1996-08", "eu", "EU", "Peter", "B52x", "iPhone", "a1", "x1Y"]}
    assert names == {"1996": "numeric", "1996-08": "mostly_numeric", "eu": "lower", "EU": "upper",
                     "Peter": "title", "B52x": "title", "iPhone": "other", "a1": "lower", "x1Y": "has_digit"}


def test_vocabulary_normalizes_words_but_keeps_characters():
    sentences = [["EU", "rejects", "German", "call"], ["Peter", "1996-08-22", "eu"]]
    tags = [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "O", "B-ORG"]]
    vocab = TaggingVocabulary.fit(sentences, tags, min_count=1)
    assert vocab.words[:3] == ["<pad>", "<unk>", "eu"]  # "EU" and "eu": one word, seen twice
    assert "0000-00-00" in vocab.word_index and "E" in vocab.char_index and "e" in vocab.char_index
    assert vocab.tags == ["O", "B-MISC", "B-ORG", "B-PER"]
    words, chars, cases, unknown = vocab.encode(["Eu", "2001-01-17", "zebra"])
    assert words[:2] == [vocab.word_index["eu"], vocab.word_index["0000-00-00"]] and words[2] == 1 and unknown == 1
    assert chars[0] == [vocab.char_index["E"], vocab.char_index["u"]] and chars[2][0] == 1  # z unseen
    assert TaggingVocabulary.from_json(vocab.to_json()).encode(["Eu"]) == vocab.encode(["Eu"])


def test_collate_pads_words_and_characters():
    items = [{"words": [2, 3], "chars": [[2], [3, 4, 5]], "cases": [1, 2], "tags": [1, 0]},
             {"words": [4], "chars": [[6, 7]], "cases": [3], "tags": [2]}]
    batch = collate(items)
    assert batch["words"].tolist() == [[2, 3], [4, 0]] and batch["lengths"].tolist() == [2, 1]
    assert batch["chars"].shape == (2, 2, 3) and batch["char_lengths"].tolist() == [[1, 3], [2, 0]]
    assert batch["chars"][0, 1].tolist() == [3, 4, 5] and batch["tags"].tolist() == [[1, 0], [2, 0]]


def passes(sequence, tags, allowed, start, end):
    ids = [tags.index(t) for t in sequence]
    return bool(start[ids[0]]) and bool(end[ids[-1]]) and all(bool(allowed[a, b]) for a, b in zip(ids, ids[1:]))


def test_allowed_transitions_are_exactly_the_well_formed_sequences():
    for scheme in ("iob2", "iobes"):
        prefixes = "BI" if scheme == "iob2" else "BIES"
        tags = ["O"] + [f"{p}-{k}" for k in ("PER", "LOC") for p in prefixes]
        allowed, start, end = allowed_transitions(tags, scheme)
        for length in range(1, 5):
            for sequence in itertools.product(tags, repeat=length):
                well_formed = convert(list(sequence), scheme) == list(sequence)
                assert passes(sequence, tags, allowed, start, end) == well_formed, (scheme, sequence)
    allowed, start, end = allowed_transitions(["O", "I-PER", "B-PER"], "iob1")
    assert allowed.all() and start.all() and end.all()


def test_well_formed_means_written_from_spans():
    sequence = write([("PER", 0, 2), ("LOC", 2, 3)], 4, "iobes")
    assert convert(sequence, "iobes") == sequence and spans(sequence) == [("PER", 0, 2), ("LOC", 2, 3)]
    assert torch.is_tensor(allowed_transitions(["O"], "iob2")[0])
