"""Reading a small UTF-8 text file that the user names (a manifest, a vocabulary, a word list), with one-line
errors that name the file and say what it was meant to be."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError, LipreadError

__all__ = ["read_text_file", "read_word_list"]


def read_text_file(
    path: str | os.PathLike[str], what: str, encoding: str = "utf-8", error: type[LipreadError] = DataError
) -> str:
    """The text of ``path``.

    Args:
        path: the file.
        what: what the file is, for the error message (``"manifest"``, ``"word list"``).
        encoding: ``"utf-8"``, or ``"utf-8-sig"`` to drop a leading byte-order mark.
        error: the error raised.

    Raises:
        error: the file cannot be read (``PATH: cannot read the WHAT: why``) or is not UTF-8 text (``PATH: the
            WHAT is not UTF-8 text (bad byte at offset N)``).
    """
    try:
        return Path(path).read_text(encoding=encoding)
    except OSError as e:
        raise error(f"{path}: cannot read the {what}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise error(f"{path}: the {what} is not UTF-8 text (bad byte at offset {e.start})") from None
    except ValueError:  # a NUL byte in the name, which no file can have
        raise error(f"{os.fspath(path)!r}: cannot read the {what}: no file name holds a NUL byte") from None


def read_word_list(path: str | os.PathLike[str], error: type[LipreadError] = DataError) -> list[str]:
    """The words of a word-list file (whitespace-separated, normally one per line).

    Raises:
        error: the file cannot be read, is not UTF-8 text, or holds no words.
    """
    words = read_text_file(path, "word list", error=error).split()
    if not words:
        raise error(f"{path}: the word list is empty (one word per line expected)")
    return words
