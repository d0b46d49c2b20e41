"""CoNLL column files and JSON lines: sentences, columns, document boundaries, and errors naming the line."""

import json

import pytest

from rnnkit.data.conll import read_sentences
from rnnkit.data.text import DataError

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER


-DOCSTART- -X- -X- O
BRUSSELS NNP B-NP B-LOC
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_conll_sentences_tags_and_origins(tmp_path):
    path = write(tmp_path, "train.txt", CONLL)
    sentences = read_sentences(path)
    assert sentences.tokens == [["EU", "rejects", "German"], ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert sentences.tags == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"], ["B-LOC"]]
    assert sentences.origins == [f"{path}:3", f"{path}:7", f"{path}:12"]
    chunks = read_sentences(path, tag_column=2)
    assert chunks.tags[0] == ["B-NP", "B-VP", "B-NP"]
    assert read_sentences(path, tag_column=None).tags == [None, None, None]


def test_conll_errors(tmp_path):
    path = write(tmp_path, "bad.txt", "EU NNP B-ORG\nrejects O\n")
    with pytest.raises(DataError, match=r"bad\.txt:2: 2 columns, the file's first token line has 3"):
        read_sentences(path)
    path = write(tmp_path, "long.txt", "a O\nb O\nc O\n\nd O\n")
    with pytest.raises(DataError, match=r"long\.txt:1: a sentence of 3 tokens, longer than the limit of 2"):
        read_sentences(path, max_length=2)
    with pytest.raises(DataError, match=r"long\.txt:1: no column 5 for the tags"):
        read_sentences(path, tag_column=5)
    with pytest.raises(DataError, match="no sentences"):
        read_sentences(write(tmp_path, "empty.txt", "-DOCSTART- O\n\n"))


def test_jsonl(tmp_path):
    rows = [{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}, {"tokens": ["Peter"], "tags": ["B-PER"]}]
    path = write(tmp_path, "d.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    sentences = read_sentences(path)
    assert sentences.tokens == [["EU", "rejects"], ["Peter"]] and sentences.tags[1] == ["B-PER"]
    bad = write(tmp_path, "bad.jsonl", json.dumps(rows[0]) + "\n" + json.dumps({"tokens": ["a", "b"], "tags": ["O"]}))
    with pytest.raises(DataError, match=r"bad\.jsonl:2: \"tags\" must be a list of 2 strings"):
        read_sentences(bad)
    untagged = write(tmp_path, "u.jsonl", json.dumps({"tokens": ["a"]}) + "\n")
    with pytest.raises(DataError, match=r"u\.jsonl:1: no \"tags\" list"):
        read_sentences(untagged)
    assert read_sentences(untagged, tag_column=None).tokens == [["a"]]
