"""read_text: a user's file as text, or an error naming the file and what is wrong with it."""

import pytest

from rnnkit.data.text import DataError, read_text


def test_reads_utf8_and_keeps_line_endings(tmp_path):
    path = tmp_path / "a.txt"
    text = "héllo\r\nwörld — 日本\n"
    path.write_bytes(text.encode("utf-8"))
    assert read_text(str(path)) == text


def test_a_bom_is_dropped(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbfabc\n")
    assert read_text(str(path)) == "abc\n"


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b" \n\t\r\n", r"the file is empty \(whitespace only\)"),
    (b"\xef\xbb\xbf", "the file is empty"),  # a BOM and nothing else, as some editors save an empty file
    (b"\xef\xbb\xbf \n", "the file is empty"),
    (b"ab\ncd\x00ef", r"looks binary \(a NUL byte at offset 5, line 2\)"),
    ("a\n".encode("utf-16"), r"looks binary"),
    (b"line one\nline two\ncaf\xe9\n", r"not UTF-8 text: byte 0xe9 at offset 21 \(line 3\)"),
    (b"ok \xe2\x82", r"byte 0xe2 at offset 3 \(line 1\)"),  # a character cut short at the end
])
def test_unusable_content_is_an_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "data.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as error:
        read_text(str(path))
    assert str(error.value).startswith(f"{path}: ")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_text(str(tmp_path / "nope.txt"))


def test_directory(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        read_text(str(tmp_path))
