"""Subtitle files with word timings: SubRip (``.srt``) and WebVTT (``.vtt``).

- SRT has no timing inside a cue, so it gets **one cue per word** (``00:00:01,240 --> 00:00:01,600``).
- WebVTT gets **one cue per sentence** (from the first word's start to the last word's end; a pause of
  :data:`CUE_PAUSE` between words starts the next, and no cue spans more than :data:`CUE_LONGEST`) whose text
  carries each later word's start as an inline timestamp (``bin <00:00:00.840>blue ...``), so players show
  the whole sentence and can highlight words as they are spoken.

A transcript without words gives an SRT file with no cues and a WebVTT file with only its header.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from ..errors import ArgumentError
from ..weights import atomic_write

__all__ = [
    "CUE_LONGEST",
    "CUE_PAUSE",
    "FORMATS",
    "HasWords",
    "TimedText",
    "format_timestamp",
    "to_srt",
    "to_vtt",
    "vtt_cues",
    "write_subtitles",
]

SubtitleFormat = Literal["srt", "vtt"]
FORMATS: tuple[SubtitleFormat, ...] = ("srt", "vtt")


class HasWords(Protocol):
    """Anything with timed ``words`` (e.g. :class:`lipread.api.Transcript`)."""

    @property
    def words(self) -> Sequence[TimedText]:
        """The words, in order."""
        ...


class TimedText(Protocol):
    """Anything with a ``word`` and ``start``/``end`` seconds (e.g. :class:`lipread.api.Word`)."""

    @property
    def word(self) -> str:
        """The word's text."""
        ...

    @property
    def start(self) -> float:
        """When the word starts, in seconds from the start of the clip."""
        ...

    @property
    def end(self) -> float:
        """When the word ends, in seconds from the start of the clip."""
        ...


def format_timestamp(seconds: float, fmt: SubtitleFormat) -> str:
    """``HH:MM:SS,mmm`` (SRT) or ``HH:MM:SS.mmm`` (WebVTT), rounded to the millisecond; negatives clamp to 0."""
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    sep = "," if fmt == "srt" else "."
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def to_srt(words: Sequence[TimedText]) -> str:
    """SubRip text with one numbered cue per word."""
    cues = []
    for i, w in enumerate(words, 1):
        cues.append(f"{i}\n{format_timestamp(w.start, 'srt')} --> {format_timestamp(w.end, 'srt')}\n{w.word}\n")
    return "\n".join(cues)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


CUE_PAUSE = 0.5
"""Seconds between one word's end and the next one's start that start a new WebVTT cue: longer than the gaps
between the words of a sentence (at most 0.28 s between the shipped model's words, over 150 of speaker 1's
clips), shorter than a pause between sentences."""

CUE_LONGEST = 7.0
"""The most seconds one WebVTT cue spans (subtitle guidelines keep one on screen for up to about 7 s): a longer run
of speech without a pause is cut before the word that would end past it."""


def vtt_cues(words: Sequence[TimedText]) -> list[list[TimedText]]:
    """``words`` split into WebVTT cues: a new cue after a pause of :data:`CUE_PAUSE` or more, or where the cue
    would end more than :data:`CUE_LONGEST` seconds after it started."""
    cues: list[list[TimedText]] = []
    for w in words:
        if not cues or w.start - cues[-1][-1].end >= CUE_PAUSE or w.end - cues[-1][0].start > CUE_LONGEST:
            cues.append([w])
        else:
            cues[-1].append(w)
    return cues


def to_vtt(words: Sequence[TimedText]) -> str:
    """WebVTT text: the header, then one cue per sentence (:func:`vtt_cues`) with inline word-start timestamps."""
    out = "WEBVTT\n"
    for cue in vtt_cues(words):
        parts = [_vtt_escape(cue[0].word)]
        parts += [f"<{format_timestamp(w.start, 'vtt')}>{_vtt_escape(w.word)}" for w in cue[1:]]
        start = format_timestamp(cue[0].start, "vtt")
        end = format_timestamp(max(w.end for w in cue), "vtt")
        out += f"\n{start} --> {end}\n{' '.join(parts)}\n"
    return out


def write_subtitles(
    words: Iterable[TimedText] | HasWords | Iterable[HasWords],
    path: str | os.PathLike[str],
    fmt: SubtitleFormat | None = None,
) -> Path:
    """Write ``words`` as an ``"srt"`` or ``"vtt"`` file (UTF-8) and return its path.

    ``words``: timed words (any iterable), a transcript's or a live segment's, or those of several transcripts or
    segments one after another (a stream's segments, whose words are timed in the stream). ``fmt`` in any case,
    with or without its dot; default the path's suffix.

    Raises:
        ArgumentError: an unknown format, or none given and the path's suffix names none; words that are none
            of these, or whose times are not finite.
    """
    p = Path(path)
    if fmt is not None and not isinstance(fmt, str):
        raise ArgumentError(f"the subtitle format is 'srt' or 'vtt', not {fmt!r}")
    name = (fmt if fmt is not None else p.suffix).lstrip(".").lower()
    if not name:
        raise ArgumentError(f"{p}: no subtitle format given, and the name ends in neither .srt nor .vtt")
    if name not in FORMATS:
        raise ArgumentError(f"unknown subtitle format {name!r}; use 'srt' or 'vtt'")
    fmt = "srt" if name == "srt" else "vtt"
    timed = _timed_words(words)
    atomic_write(p, (to_srt(timed) if fmt == "srt" else to_vtt(timed)).encode("utf-8"))  # never a partial file
    return p


def _timed_words(words: object) -> list[TimedText]:
    """The words to write: of a transcript or a live segment, of several one after another (a stream's segments),
    or words themselves (any iterable).

    Raises:
        ArgumentError: an item is none of these, or a word's times are not finite seconds.
    """
    source = getattr(words, "words", words)
    if isinstance(source, (str, bytes)) or not isinstance(source, Iterable):
        raise ArgumentError(f"subtitles are written from a transcript or its words, not {type(words).__name__}")
    items: list[Any] = list(source)
    if items and all(hasattr(t, "words") for t in items):
        items = [w for t in items for w in t.words]
    for w in items:
        if not all(hasattr(w, a) for a in ("word", "start", "end")):
            raise ArgumentError(f"subtitles are written from words with word, start and end, not {type(w).__name__}")
        if not (math.isfinite(w.start) and math.isfinite(w.end)):
            raise ArgumentError(f"word {w.word!r}: start and end must be finite seconds, not {w.start} and {w.end}")
    return items
