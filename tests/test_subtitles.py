"""SRT and WebVTT writing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from lipread.transcription.subtitles import format_timestamp, to_srt, to_vtt, write_subtitles


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


def test_vtt_has_header_and_one_sentence_cue_with_word_timestamps() -> None:
    text = to_vtt(WORDS)
    assert text.startswith("WEBVTT\n\n")
    cue = text.split("\n\n")[1].splitlines()
    assert cue[0] == "00:00:00.600 --> 00:00:01.400"
    assert cue[1] == "bin <00:00:00.880>blue <00:00:01.320>at"


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
