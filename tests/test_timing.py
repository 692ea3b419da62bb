"""lipread.video.timing: a variable frame rate is told, with how far off word times may be."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lipread.video import reader
from lipread.video.reader import iter_frames
from lipread.video.timing import drift, uneven_note


@given(st.integers(3, 500), st.floats(1.0, 240.0), st.floats(-1e4, 1e6).filter(math.isfinite))
def test_evenly_spaced_frames_are_not_told(n: int, fps: float, start: float) -> None:
    """Whatever the rate and the first time, and whatever rate the file states: no warning."""
    times = [start + i * 1000.0 / fps for i in range(n)]
    assert drift(times)[0] < 1e-6 and uneven_note(times) is None


@pytest.mark.parametrize("times", [[0.0] * 7, [float("nan")] * 7, [5.0, 4.0, 3.0], [0.0, 40.0], []])
def test_times_that_cannot_tell_are_not_told(times: list[float]) -> None:
    assert drift(times) == (0.0, 0.0) and uneven_note(times) is None


def test_frames_held_on_screen_are_told_with_how_far_off_the_times_are() -> None:
    """Every other frame of the first second gone (each held for two), then 25 fps: 63 frames over 2.96 s,
    read as evenly spaced, put the frame shown at 0.96 s (the 13th) 0.39 s early, the largest error."""
    shown = [i for i in range(75) if i >= 25 or i % 2 == 0]
    times = [40.0 * i for i in shown]
    off, step = drift(times)
    assert len(times) == 63 and step == pytest.approx(2960 / 62 / 1000)
    assert off == pytest.approx(max(abs(t / 1000 - k * step) for k, t in enumerate(times)))
    assert off == pytest.approx(0.96 - 12 * step)
    assert uneven_note(times) == (
        "the frames are not evenly spaced in time (a variable frame rate): lipread reads them as evenly "
        f"spaced, so word times may be off by up to {off:.2f} s"
    )
    # jitter within a frame is not a variable frame rate
    assert uneven_note([40.0 * i + (15.0 if i % 3 else 0.0) for i in range(75)]) is None


def test_iter_frames_notes_a_file_with_uneven_frame_times(grid_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clip's frames with the times of a camera that slowed down in its first second: the frames are the
    same, and a note says how far off the word times may be."""
    plain = list(iter_frames(grid_clip))
    times = iter([80.0 * i if i <= 12 else 960.0 + 40.0 * (i - 12) for i in range(len(plain))])
    monkeypatch.setattr(reader, "_time_ms", lambda cap: next(times))
    notes: list[str] = []
    frames = list(iter_frames(grid_clip, notes=notes))
    assert len(frames) == len(plain) and all(np.array_equal(a, b) for a, b in zip(frames, plain))
    assert len(notes) == 1 and notes[0].startswith("the frames are not evenly spaced in time")
    clean: list[str] = []
    monkeypatch.undo()
    list(iter_frames(grid_clip, notes=clean))
    assert clean == []
