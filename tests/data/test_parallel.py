"""Sentence pairs from two aligned files or one TSV file (compressed or not): what is read, what the
filters count, and the error a user sees for each kind of bad input, naming the file and the line."""

import bz2
import gzip
from pathlib import Path

import pytest

from rnnkit.data.parallel import read_lines, read_pairs
from rnnkit.data.text import DataError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # ../shared/data from the repo root


def write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return str(path)


def test_two_aligned_files_give_pairs_with_their_source_lines(tmp_path):
    de = write(tmp_path / "train.de", "Ein Mann.\r\n  Zwei Hunde \nEine Frau\n")
    en = write(tmp_path / "train.en", "A man.\nTwo dogs\nA woman")  # no final newline: the same three lines
    pairs = read_pairs(de, en)
    assert pairs.sources == ["Ein Mann.", "Zwei Hunde", "Eine Frau"] and len(pairs) == 3
    assert pairs.targets == ["A man.", "Two dogs", "A woman"]
    assert pairs.origins == [f"{de}:1", f"{de}:2", f"{de}:3"] and not pairs.filtered


def test_a_line_separator_inside_a_sentence_does_not_break_the_alignment(tmp_path):
    de = write(tmp_path / "a.de", "eins\u2028zwei\ndrei\n")
    en = write(tmp_path / "a.en", "one two\nthree\n")
    assert read_pairs(de, en).sources == ["eins\u2028zwei", "drei"]


def test_tsv_and_compressed_files(tmp_path):
    tsv = write(tmp_path / "pairs.tsv", "Ein Mann.\tA man.\nZwei Hunde\t Two dogs\n")
    pairs = read_pairs(tsv)
    assert pairs.sources == ["Ein Mann.", "Zwei Hunde"] and pairs.targets == ["A man.", "Two dogs"]
    assert pairs.origins == [f"{tsv}:1", f"{tsv}:2"]
    with gzip.open(tmp_path / "t.de.gz", "wt", encoding="utf-8") as f:
        f.write("Grüße\n")
    with bz2.open(tmp_path / "t.en.bz2", "wt", encoding="utf-8") as f:
        f.write("Greetings\n")
    pairs = read_pairs(str(tmp_path / "t.de.gz"), str(tmp_path / "t.en.bz2"))
    assert (pairs.sources, pairs.targets) == (["Grüße"], ["Greetings"])
    with gzip.open(tmp_path / "p.tsv.gz", "wt", encoding="utf-8") as f:
        f.write("a\tb\n")
    assert read_pairs(str(tmp_path / "p.tsv.gz")).targets == ["b"]


@pytest.mark.parametrize("content, message", [
    ("a\tb\nno tab here\n", r"p\.tsv:2: no tab; expected exactly one tab"),
    ("a\tb\nc\td\te\n", r"p\.tsv:2: 2 tabs; expected exactly one tab"),
    ("a\tb\n\tno source\n", r"p\.tsv:2: the source sentence is empty"),
    ("a\tb\nno target\t \n", r"p\.tsv:2: the target sentence is empty"),
    ("a\tb\n\n", r"p\.tsv:2: the source sentence is empty"),
    ("", r"p\.tsv: no sentence pairs"),
])
def test_bad_tsv_names_the_file_the_line_and_the_problem(tmp_path, content, message):
    with pytest.raises(DataError, match=message):
        read_pairs(write(tmp_path / "p.tsv", content))


def test_unequal_line_counts_name_both_files_both_counts_and_where_one_ended(tmp_path):
    de = write(tmp_path / "a.de", "eins\nzwei\ndrei\n")
    en = write(tmp_path / "a.en", "one\ntwo\n")
    with pytest.raises(DataError, match=r"a\.de has 3 lines but .*a\.en has 2: .*a\.en ends after line 2, "
                                        r"so line 3 of .*a\.de has no translation"):
        read_pairs(de, en)
    blank = write(tmp_path / "b.en", "one\ntwo\nthree\n\n")  # a blank line after the last sentence
    with pytest.raises(DataError, match=r"has 4: .*a\.de ends after line 3.*the extra lines of .*b\.en are empty"):
        read_pairs(de, blank)


def test_empty_sentences_are_errors_naming_their_file_unless_skipped_and_counted(tmp_path):
    de = write(tmp_path / "a.de", "eins\nzwei\n\ndrei\n")
    en = write(tmp_path / "a.en", "one\n  \nthree-ish\nthree\n")
    with pytest.raises(DataError, match=r"a\.en:2: the target sentence is empty.*skip_empty"):
        read_pairs(de, en)
    pairs = read_pairs(de, en, skip_empty=True)
    assert pairs.sources == ["eins", "drei"] and pairs.origins == [f"{de}:1", f"{de}:4"]
    assert pairs.filtered == {"empty": 2}
    with pytest.raises(DataError, match=r"a\.de: no sentence pairs \(filtered: 4 empty\)"):
        read_pairs(de, write(tmp_path / "b.en", "\n  \nx\n\n"), skip_empty=True)


def test_length_filters_count_each_pair_once_under_its_first_reason(tmp_path):
    rows = ["a b\tx y",              # kept
            "a b c d\tx",            # source too long (4 > 3), also a ratio of 4
            "a\tx y z w v",          # target too long (5 > 4), also a ratio of 5
            "a\tx y z",              # ratio 3 > 2.5
            "a b\tx y z w",          # ratio 2 <= 2.5: kept
            "\t"]                    # empty
    tsv = write(tmp_path / "p.tsv", "\n".join(rows) + "\n")
    pairs = read_pairs(tsv, max_source_tokens=3, max_target_tokens=4, length_ratio=2.5, skip_empty=True)
    assert pairs.sources == ["a b", "a b"] and pairs.origins == [f"{tsv}:1", f"{tsv}:5"]
    assert pairs.filtered == {"source too long": 1, "target too long": 1, "length ratio": 1, "empty": 1}
    assert len(read_pairs(tsv, skip_empty=True)) == 5  # no limits: nothing but the empty pair goes


@pytest.mark.parametrize("options, message", [
    ({"max_source_tokens": -1}, "max_source_tokens=-1: expected a whole number >= 0"),
    ({"max_target_tokens": 2.5}, "max_target_tokens=2.5: expected a whole number >= 0"),
    ({"length_ratio": 0.5}, r"length_ratio=0.5: expected 0 \(no filter\) or a ratio >= 1"),
])
def test_bad_filter_settings_name_the_setting(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        read_pairs(write(tmp_path / "p.tsv", "a\tb\n"), **options)


def test_bytes_that_are_not_utf8_name_the_file_and_the_line(tmp_path):
    de = tmp_path / "a.de"
    de.write_bytes("eins\nGr\u00fc\u00dfe\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"a\.de: not UTF-8 text: byte 0xfc .*\(line 2\)"):
        read_pairs(str(de), write(tmp_path / "a.en", "one\ngreetings\n"))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"nope\.en: no such file"):
        read_pairs(write(tmp_path / "a.de", "eins\n"), str(tmp_path / "nope.en"))


def test_read_lines_keeps_empty_lines_for_one_output_line_each(tmp_path):
    path = write(tmp_path / "test.de", "Ein Mann.\n\n  \nEine Frau \n")
    texts, origins = read_lines(path)
    assert texts == ["Ein Mann.", "", "", "Eine Frau"]
    assert origins == [f"{path}:{n}" for n in (1, 2, 3, 4)]
    with pytest.raises(DataError, match=r"empty\.de: the file is empty"):
        read_lines(write(tmp_path / "empty.de", ""))


@pytest.mark.skipif(not (SHARED / "multi30k" / "train.de").exists(), reason="../shared/data/multi30k absent")
def test_multi30k_reads_as_29000_pairs():
    pairs = read_pairs(str(SHARED / "multi30k" / "train.de"), str(SHARED / "multi30k" / "train.en"))
    assert len(pairs) == 29000 and not pairs.filtered
    assert pairs.targets[0] == "Two young, White males are outside near many bushes."
    assert pairs.origins[-1].endswith("train.de:29000")
