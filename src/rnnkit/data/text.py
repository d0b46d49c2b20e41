"""Reading a user's text file, with errors that say which file and what is wrong with it."""

import os

from ..errors import DataError


def read_text(path: str) -> str:
    """The whole of ``path`` as text (UTF-8; a BOM is dropped, line endings kept).

    Raises DataError for a missing or empty file, a binary file (NUL bytes) or bytes that are not UTF-8,
    naming the file and, for bad bytes, the line and the byte offset."""
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, expected a text file")
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.removeprefix(b"\xef\xbb\xbf").strip():  # a BOM alone is how some editors save an empty file
        raise DataError(f"{path}: the file is empty" + (" (whitespace only)" if raw else ""))
    return decode_utf8(raw, path)


def decode_utf8(raw: bytes, path: str) -> str:
    """``raw`` as text (a BOM dropped); a DataError naming the line and offset of the first NUL byte or
    of the first bytes that are not UTF-8."""
    nul = raw.find(b"\0")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise DataError(f"{path}: looks binary (a NUL byte at offset {nul}, line {line}); expected a UTF-8 text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise DataError(f"{path}: not UTF-8 text: byte {raw[error.start]:#04x} at offset {error.start} (line {line}); "
                        "convert it first, for instance with iconv -f latin1 -t utf-8") from None
    return text.removeprefix("\ufeff")
