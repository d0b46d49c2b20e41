"""Tag schemes: spans read with conlleval's rules (cross-checked with seqeval where it is installed),
conversions between IOB1, IOB2 and IOBES, and detection of a corpus's scheme."""

import random

import pytest

from rnnkit.data.schemes import SCHEMES, convert, detect, spans, tag_problem, write


def test_spans_in_each_scheme():
    iob1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "O", "I-ORG"]
    iob2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "O", "B-ORG"]
    iobes = ["B-PER", "E-PER", "O", "S-LOC", "S-LOC", "O", "S-ORG"]
    expected = [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("ORG", 6, 7)]
    assert spans(iob1) == spans(iob2) == spans(iobes) == expected


def test_conlleval_reading_of_ill_formed_sequences():
    assert spans(["O", "I-PER", "I-PER"]) == [("PER", 1, 3)]  # I after O starts a span
    assert spans(["B-PER", "I-LOC"]) == [("PER", 0, 1), ("LOC", 1, 2)]  # a type change starts another
    assert spans(["B-PER", "E-PER", "I-PER"]) == [("PER", 0, 2), ("PER", 2, 3)]  # E ends; I after E starts


def test_writing_each_scheme():
    found = [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("ORG", 6, 7)]
    assert write(found, 7, "iob1") == ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "O", "I-ORG"]
    assert write(found, 7, "iob2") == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "O", "B-ORG"]
    assert write(found, 7, "iobes") == ["B-PER", "E-PER", "O", "S-LOC", "S-LOC", "O", "S-ORG"]
    assert write([("X", 1, 4)], 5, "iobes") == ["O", "B-X", "I-X", "E-X", "O"]
    with pytest.raises(ValueError, match="expected one of"):
        write(found, 7, "bilou")


def random_spans(rng, length, types=("PER", "LOC", "ORG")):
    found, i = [], 0
    while i < length:
        if rng.random() < 0.4:
            end = min(length, i + rng.randint(1, 3))
            found.append((rng.choice(types), i, end))
            i = end
        else:
            i += 1
    return found


@pytest.mark.parametrize("source", SCHEMES)
@pytest.mark.parametrize("target", SCHEMES)
def test_every_conversion_keeps_the_spans(source, target):
    rng = random.Random(0)
    for _ in range(200):
        length = rng.randint(1, 12)
        found = random_spans(rng, length)
        tags = write(found, length, source)
        assert spans(convert(tags, target)) == found


def test_detect():
    assert detect([["B-PER", "I-PER", "O"], ["B-LOC"]]) == "iob2"
    assert detect([["I-PER", "I-PER", "O"], ["B-LOC"]]) == "iob1"
    assert detect([["S-PER", "O"]]) == "iobes"
    assert detect([["O", "O"]]) == "iob2"


def test_spans_agree_with_seqeval():
    from seqeval.metrics import sequence_labeling as seqeval  # the test extra: pip install -e ".[test]"
    rng = random.Random(1)
    for _ in range(300):
        length = rng.randint(1, 10)
        tags = [rng.choice(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-PER", "S-LOC"]) for _ in range(length)]
        theirs = [(kind, start, end + 1) for kind, start, end in seqeval.get_entities(tags)]
        assert sorted(spans(tags), key=lambda s: s[1]) == sorted(theirs, key=lambda s: s[1]), tags


@pytest.mark.parametrize("tag", ["O", "B-PER", "I-MISC", "E-X", "S-LOC-CITY", "B-per"])
def test_span_tags_in_every_scheme_are_accepted(tag):
    assert tag_problem(tag) == ""


@pytest.mark.parametrize("tag", ["Z-PER", "b-loc", "B-", "-PER", "PER", "o", "L-ORG", "NNP", "I_PER"])
def test_other_tags_are_refused_with_the_reason(tag):
    assert tag_problem(tag).startswith(f"tag {tag!r} ")
