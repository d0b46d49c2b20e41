"""Labeled texts from CSV, TSV, JSON lines and class folders (compressed or not): what is read, and the
error a user sees for each kind of bad input, naming the file and the line."""

import gzip
import json
import lzma

import pytest

from rnnkit.data.labeled import read_examples, sorted_classes, split_examples
from rnnkit.data.text import DataError


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_csv_with_quoted_multiline_text_keeps_the_line_where_each_row_starts(tmp_path):
    path = write(tmp_path / "d.csv", 'id,text,label\n1,"good, really good",pos\n2,"bad\nso bad",neg\n3,fine,pos\n')
    examples = read_examples(path)
    assert examples.texts == ["good, really good", "bad\nso bad", "fine"]
    assert examples.labels == ["pos", "neg", "pos"]
    assert examples.origins == [f"{path}:2", f"{path}:3", f"{path}:5"]


def test_tsv_jsonl_and_compressed_files(tmp_path):
    tsv = write(tmp_path / "d.tsv", "label\ttext\n1\tone\n0\ttwo\n")
    assert read_examples(tsv).texts == ["one", "two"]
    rows = [{"text": "a", "label": 1}, {"text": "b", "label": 0.0}, {"text": "c", "label": "x"}]
    jsonl = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert read_examples(jsonl).labels == ["1", "0", "x"]  # numbers as their integer strings
    with gzip.open(tmp_path / "d.csv.gz", "wt", encoding="utf-8") as f:
        f.write("text,label\nzipped,1\n")
    assert read_examples(str(tmp_path / "d.csv.gz")).texts == ["zipped"]
    with lzma.open(tmp_path / "d.jsonl.xz", "wt", encoding="utf-8") as f:
        f.write('{"text": "xz", "label": "a"}\n')
    assert read_examples(str(tmp_path / "d.jsonl.xz")).labels == ["a"]


def test_byte_order_mark_and_crlf_are_read_as_plain_csv(tmp_path):
    path = write(tmp_path / "d.csv", "\ufefftext,label\r\nhello,1\r\n")
    examples = read_examples(path)
    assert examples.texts == ["hello"] and examples.labels == ["1"]


def test_folder_per_class_like_aclimdb(tmp_path):
    for label, texts in (("pos", ["great", "fine"]), ("neg", ["awful"]), ("unsup", ["who knows"])):
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            (tmp_path / label / f"{i}_7.txt").write_text(text, encoding="utf-8")
    (tmp_path / "urls_pos.txt").write_text("not a class", encoding="utf-8")
    every = read_examples(str(tmp_path))
    assert sorted(set(every.labels)) == ["neg", "pos", "unsup"]
    chosen = read_examples(str(tmp_path), labels=["neg", "pos"])
    assert chosen.labels == ["neg", "pos", "pos"] and chosen.texts == ["awful", "great", "fine"]
    with pytest.raises(DataError, match="no folder for the classes \\['neutral'\\]"):
        read_examples(str(tmp_path), labels=["neutral", "pos"])


@pytest.mark.parametrize("content, message", [
    ("txt,label\nhello,1\n", r"d\.csv:1: no text column 'text'; the header has \['txt', 'label'\]"),
    ("text,lbl\nhello,1\n", r"d\.csv:1: no label column 'label'"),
    ("text,label\nhello,1\nbad,row,here\n", r"d\.csv:3: 3 fields, the header has 2"),
    ("text,label\nhello,1\n  ,0\n", r"d\.csv:3: the text is empty"),
    ("text,label\nhello,1\nworld,\n", r"d\.csv:3: the label is empty"),
    ("", r"d\.csv: the file is empty"),
])
def test_bad_csv_names_the_file_the_line_and_the_problem(tmp_path, content, message):
    path = write(tmp_path / "d.csv", content)
    with pytest.raises(DataError, match=message):
        read_examples(path)


def test_bad_jsonl_lines(tmp_path):
    path = write(tmp_path / "d.jsonl", '{"text": "ok", "label": 1}\n{"text": "no label"}\n')
    with pytest.raises(DataError, match=r"d\.jsonl:2: no key 'label'"):
        read_examples(path)
    path = write(tmp_path / "e.jsonl", '{"text": "ok", "label": 1}\n{"text": "broken", \n')
    with pytest.raises(DataError, match=r"e\.jsonl:2: not JSON"):
        read_examples(path)
    path = write(tmp_path / "f.jsonl", '{"text": 3, "label": 1}\n')
    with pytest.raises(DataError, match=r"f\.jsonl:1: the text is int"):
        read_examples(path)


def test_not_utf8_and_unknown_format(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\ncaf\u00e9,1\n", encoding="latin-1")
    with pytest.raises(DataError, match="not UTF-8"):
        read_examples(path)
    with pytest.raises(DataError, match="cannot tell the format"):
        read_examples(write(tmp_path / "d.data", "x"))
    with pytest.raises(DataError, match="no such file"):
        read_examples(str(tmp_path / "missing.csv"))


def test_unknown_labels_are_errors_or_counted_when_skipping(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\na,pos\nb,maybe\nc,neg\nd,e,f\n")
    with pytest.raises(DataError, match=r"d\.csv:3: label 'maybe' is not one of the classes \['neg', 'pos'\]"):
        read_examples(path, labels=["neg", "pos"], skip_bad=False)
    examples = read_examples(path, labels=["neg", "pos"], skip_bad=True)
    assert examples.texts == ["a", "c"]
    assert dict(examples.skipped) == {"unknown label": 1, "wrong number of fields": 1}


def test_prediction_input_needs_no_label_column(tmp_path):
    path = write(tmp_path / "d.csv", "text\nhello\n")
    examples = read_examples(path, need_label=False)
    assert examples.texts == ["hello"] and examples.labels == [None]


def test_sorted_classes_numeric_when_all_integers():
    assert sorted_classes(["10", "2", "1"]) == ["1", "2", "10"]
    assert sorted_classes(["b", "a", "10"]) == ["10", "a", "b"]


def test_split_is_stratified_disjoint_and_seeded(tmp_path):
    lines = ["text,label"] + [f"t{i},{'a' if i % 4 else 'b'}" for i in range(200)]  # 150 a, 50 b
    examples = read_examples(write(tmp_path / "d.csv", "\n".join(lines) + "\n"))
    train, valid = split_examples(examples, 0.2, seed=3)
    assert len(valid) == 40 and valid.labels.count("b") == 10  # each class keeps its share
    assert set(train.texts).isdisjoint(valid.texts) and len(train) + len(valid) == 200
    again = split_examples(examples, 0.2, seed=3)[1]
    other = split_examples(examples, 0.2, seed=4)[1]
    assert again.texts == valid.texts and other.texts != valid.texts
    with pytest.raises(DataError, match="too few"):
        split_examples(examples.subset([0]), 0.2, seed=0)
