"""SRT and WebVTT writing."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lipread.errors import ArgumentError
from lipread.transcription.subtitles import (
    CUE_LONGEST,
    CUE_PAUSE,
    format_timestamp,
    to_srt,
    to_vtt,
    vtt_cues,
    write_subtitles,
)


@dataclass(frozen=True)
class W:
    word: str
    start: float
    end: float


WORDS = [W("bin", 0.6, 0.84), W("blue", 0.88, 1.24), W("at", 1.32, 1.4)]


@pytest.mark.parametrize(
    ("seconds", "srt", "vtt"),
    [
        (0.0, "00:00:00,000", "00:00:00.000"),
        (1.24, "00:00:01,240", "00:00:01.240"),
        (0.0004, "00:00:00,000", "00:00:00.000"),
        (0.9996, "00:00:01,000", "00:00:01.000"),
        (3723.5, "01:02:03,500", "01:02:03.500"),
        (-0.2, "00:00:00,000", "00:00:00.000"),
    ],
)
def test_format_timestamp(seconds: float, srt: str, vtt: str) -> None:
    assert format_timestamp(seconds, "srt") == srt
    assert format_timestamp(seconds, "vtt") == vtt


def test_srt_has_one_numbered_cue_per_word() -> None:
    text = to_srt(WORDS)
    blocks = text.strip().split("\n\n")
    assert len(blocks) == 3
    for i, (block, w) in enumerate(zip(blocks, WORDS), 1):
        number, timing, word = block.split("\n")
        assert number == str(i) and word == w.word
        assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", timing)
    assert "00:00:00,880 --> 00:00:01,240" in text


def test_vtt_has_header_and_a_cue_for_the_sentence_with_word_timestamps() -> None:
    text = to_vtt(WORDS)
    assert text.startswith("WEBVTT\n\n")
    cue = text.split("\n\n")[1].splitlines()
    assert cue[0] == "00:00:00.600 --> 00:00:01.400"
    assert cue[1] == "bin <00:00:00.880>blue <00:00:01.320>at"


def test_vtt_starts_a_cue_after_a_pause_and_before_a_cue_grows_too_long() -> None:
    second = [W("set", 3.0, 3.3), W("red", 3.4, 3.7)]  # a pause of 1.6 s after the first sentence
    cues = to_vtt(WORDS + second).split("\n\n")[1:]
    assert [c.splitlines()[0] for c in cues] == ["00:00:00.600 --> 00:00:01.400", "00:00:03.000 --> 00:00:03.700"]
    assert cues[1].splitlines()[1] == "set <00:00:03.400>red"
    steady = [W(f"w{i}", 0.3 * i, 0.3 * i + 0.25) for i in range(60)]  # 18 s of words without a pause
    assert [len(c) for c in vtt_cues(steady)] == [23, 23, 14]  # each under 7 s: 22 gaps of 0.3 s, and 0.25


gaps = st.floats(0.0, 2.0, allow_nan=False)
durations = st.floats(0.01, 3.0, allow_nan=False)


@given(steps=st.lists(st.tuples(gaps, durations), max_size=30))
def test_vtt_cues_keep_every_word_in_order_and_split_only_where_they_must(steps: list[tuple[float, float]]) -> None:
    words, t = [], 0.0
    for i, (gap, duration) in enumerate(steps):
        words.append(W(f"w{i}", t + gap, t + gap + duration))
        t += gap + duration
    cues = vtt_cues(words)
    assert [w for cue in cues for w in cue] == words and all(cues)
    for cue in cues:  # inside a cue: no pause, and no longer than allowed unless one word is
        assert all(b.start - a.end < CUE_PAUSE for a, b in itertools.pairwise(cue))
        assert len(cue) == 1 or cue[-1].end - cue[0].start <= CUE_LONGEST
    for a, b in itertools.pairwise(cues):  # between cues: a pause, or the next word would make the cue too long
        assert b[0].start - a[-1].end >= CUE_PAUSE or b[0].end - a[0].start > CUE_LONGEST


def test_vtt_escapes_markup() -> None:
    assert "a&lt;b&amp;c" in to_vtt([W("a<b&c", 0.0, 0.5)])


def test_no_words() -> None:
    assert to_srt([]) == ""
    assert to_vtt([]) == "WEBVTT\n"


def test_write_subtitles(tmp_path: Path) -> None:
    srt = write_subtitles(WORDS, tmp_path / "sub" / "clip.srt", "srt")
    vtt = write_subtitles(WORDS, tmp_path / "clip.vtt", "vtt")
    assert srt.read_text(encoding="utf-8") == to_srt(WORDS)
    assert vtt.read_text(encoding="utf-8") == to_vtt(WORDS)
    with pytest.raises(ValueError, match="format"):
        write_subtitles(WORDS, tmp_path / "clip.ass", "ass")  # type: ignore[arg-type]


def test_write_subtitles_takes_any_words_a_transcript_gives(tmp_path: Path) -> None:
    """Words from a generator, a transcript, or several transcripts (a stream's segments) one after another."""

    @dataclass(frozen=True)
    class Said:
        words: tuple[W, ...]

    expected = to_srt(WORDS)
    later = [W("set", 3.0, 3.3)]
    assert write_subtitles((w for w in WORDS), tmp_path / "a.srt").read_text(encoding="utf-8") == expected
    assert write_subtitles(Said(tuple(WORDS)), tmp_path / "b.srt").read_text(encoding="utf-8") == expected
    both = write_subtitles([Said(tuple(WORDS)), Said(tuple(later))], tmp_path / "c.srt", ".SRT")
    assert both.read_text(encoding="utf-8") == to_srt(WORDS + later)


@pytest.mark.parametrize(
    ("words", "told"),
    [
        (None, "from a transcript or its words, not NoneType"),
        ("bin blue", "from a transcript or its words, not str"),
        ([{"word": "bin", "start": 0.0, "end": 0.2}], "words with word, start and end, not dict"),
        ([W("bin", float("nan"), 0.2)], "word 'bin': start and end must be finite seconds, not nan and 0.2"),
        ([W("bin", 0.0, float("inf"))], "must be finite seconds"),
    ],
)
def test_write_subtitles_names_what_it_cannot_write(tmp_path: Path, words: object, told: str) -> None:
    with pytest.raises(ArgumentError, match=re.escape(told)):
        write_subtitles(words, tmp_path / "x.srt")  # type: ignore[arg-type]
    assert not (tmp_path / "x.srt").exists()
