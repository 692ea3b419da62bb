"""GRID ``.align`` files: one ``<start> <end> <word>`` line per word, times in GRID units.

GRID units: 1000 per video frame of 40 ms, so one unit is 40 microseconds and seconds = units / 25000.
``sil`` (silence) and ``sp`` (short pause) are not words and are left out of the sentence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import AlignmentError

__all__ = ["NON_WORDS", "UNITS_PER_SECOND", "Alignment", "Word", "load_alignment", "parse_alignment"]

UNITS_PER_SECOND = 25_000
"""GRID alignment units per second (1000 per 40 ms frame)."""

NON_WORDS = frozenset({"sil", "sp"})


@dataclass(frozen=True)
class Word:
    """A word and when it is spoken, in seconds from the start of the clip."""

    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Alignment:
    """A parsed alignment. ``entries`` keeps every line (``sil``/``sp`` too); ``words`` only real words."""

    entries: tuple[Word, ...]
    source: str = "<string>"

    @property
    def words(self) -> tuple[Word, ...]:
        """The spoken words, without ``sil`` and ``sp``."""
        return tuple(w for w in self.entries if w.word not in NON_WORDS)

    @property
    def sentence(self) -> str:
        """The spoken words joined by single spaces, e.g. ``"bin blue at f two now"``."""
        return " ".join(w.word for w in self.words)


def parse_alignment(text: str, source: str = "<string>", vocabulary: frozenset[str] | None = None) -> Alignment:
    """Parse the text of a ``.align`` file.

    Args:
        text: the file's text; LF or CRLF line ends; blank lines are ignored.
        source: the file name used in error messages.
        vocabulary: if given, every word (other than ``sil``/``sp``) must be in it.

    Raises:
        AlignmentError: a line without three fields, a non-numeric, negative or decreasing time,
            an end before its start, an unknown word, or no words at all.
    """
    entries = []
    prev_end = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3:
            raise AlignmentError(f"{source}:{lineno}: expected '<start> <end> <word>', got {line!r}")
        try:
            start, end = int(parts[0]), int(parts[1])
        except ValueError:
            raise AlignmentError(f"{source}:{lineno}: times must be whole numbers, got {line!r}") from None
        if start < 0:
            raise AlignmentError(f"{source}:{lineno}: negative time {start}")
        if end < start:
            raise AlignmentError(f"{source}:{lineno}: end {end} is before start {start}")
        if start < prev_end:
            raise AlignmentError(f"{source}:{lineno}: start {start} is before the previous end {prev_end}")
        prev_end = end
        word = parts[2].lower()
        if vocabulary is not None and word not in NON_WORDS and word not in vocabulary:
            raise AlignmentError(f"{source}:{lineno}: unknown word {parts[2]!r}")
        entries.append(Word(word, start / UNITS_PER_SECOND, end / UNITS_PER_SECOND))
    if not entries:
        raise AlignmentError(f"{source}: alignment is empty")
    return Alignment(tuple(entries), source)


def load_alignment(path: str | os.PathLike[str], vocabulary: frozenset[str] | None = None) -> Alignment:
    """Read and parse a GRID ``.align`` file (see :func:`parse_alignment`).

    Raises:
        AlignmentError: the file is missing, not UTF-8 text, or malformed.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AlignmentError(f"{path}: alignment file not found") from None
    except OSError as e:
        raise AlignmentError(f"{path}: cannot read alignment: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AlignmentError(f"{path}: not UTF-8 text (bad byte at offset {e.start})") from None
    return parse_alignment(text, source=str(path), vocabulary=vocabulary)
