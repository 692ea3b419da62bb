"""lipread.video.timing: frames with a variable frame rate are placed at their times, and told."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mp4_times import retime, time_scale

import lipread
from lipread.video.reader import frame_rate, iter_frames, read_frames
from lipread.video.timing import MIN_STEP_MS, EvenTimes, drift, uneven_note


@given(st.integers(3, 500), st.floats(1.0, 240.0), st.floats(-1e4, 1e6).filter(math.isfinite))
def test_evenly_spaced_frames_are_not_told(n: int, fps: float, start: float) -> None:
    """Whatever the rate and the first time, and whatever rate the file states: no warning."""
    times = [start + i * 1000.0 / fps for i in range(n)]
    assert drift(times)[0] < 1e-6 and uneven_note(times, EvenTimes(1000.0 / fps)) is None


@pytest.mark.parametrize("times", [[0.0] * 7, [float("nan")] * 7, [5.0, 4.0, 3.0], [0.0, 40.0], []])
def test_times_that_cannot_tell_are_not_told(times: list[float]) -> None:
    assert drift(times) == (0.0, 0.0) and uneven_note(times, EvenTimes(40.0)) is None


def test_frames_held_on_screen_are_told_with_how_far_off_the_times_are() -> None:
    """Every other frame of the first second gone (each held for two), then 25 fps: 63 frames over 2.96 s,
    read as evenly spaced, would put the frame shown at 0.96 s (the 13th) 0.39 s early, the largest error; placed
    at their times, the 12 held frames are each shown twice."""
    shown = [i for i in range(75) if i >= 25 or i % 2 == 0]
    times = [40.0 * i for i in shown]
    off, step = drift(times)
    assert len(times) == 63 and step == pytest.approx(2960 / 62 / 1000)
    assert off == pytest.approx(max(abs(t / 1000 - k * step) for k, t in enumerate(times)))
    assert off == pytest.approx(0.96 - 12 * step)
    even = EvenTimes(40.0)
    for t in times:
        even.push(t)
    even.finish()
    assert uneven_note(times, even) == (
        f"the frames are not evenly spaced in time (a variable frame rate, up to {off:.2f} s from even spacing): "
        "lipread placed each at its time, as 25 fps video (12 frames shown again, 0 dropped)"
    )
    # jitter within a frame is not a variable frame rate
    assert uneven_note([40.0 * i + (15.0 if i % 3 else 0.0) for i in range(75)], EvenTimes(40.0)) is None


def shown_by_nearest(times: list[float], step: float) -> list[int]:
    """The frames that an even grid of times ``step`` apart from the first frame's shows, each grid time the
    frame presented nearest to it (the later of two equally near), up to the last frame's half step: a direct
    reference for :class:`EvenTimes`."""
    out = []
    k = 0
    while times[0] + k * step < times[-1] + step / 2:
        t = times[0] + k * step
        out.append(min(range(len(times)), key=lambda i: (abs(times[i] - t), -i)))
        k += 1
    return out


def even_counts(times: list[float], step: float) -> tuple[list[int], EvenTimes]:
    even = EvenTimes(step)
    counts = [even.push(t) for t in times][1:]
    counts.append(even.finish())
    return counts, even


@given(st.lists(st.floats(MIN_STEP_MS, 200.0), min_size=1, max_size=60), st.floats(5.0, 100.0), st.floats(-1e5, 1e5))
def test_each_grid_time_shows_the_frame_nearest_to_it(gaps: list[float], step: float, start: float) -> None:
    times = [start]
    for gap in gaps:
        times.append(times[-1] + gap)
    counts, even = even_counts(times, step)
    shown = [i for i, n in enumerate(counts) for _ in range(n)]
    expected = shown_by_nearest(times, step)
    # a grid time that floating point puts a hair either side of the middle of two frames may show either
    assert len(shown) == len(expected)
    for k, (a, b) in enumerate(zip(shown, expected)):
        t = times[0] + k * step
        assert a == b or abs(abs(times[a] - t) - abs(times[b] - t)) < 1e-6
    assert even.repeated == sum(max(0, n - 1) for n in counts) and even.dropped == counts.count(0)


@given(st.integers(1, 300), st.floats(1.0, 240.0), st.floats(-1e4, 1e6), st.data())
def test_evenly_spaced_frames_each_show_once(n: int, fps: float, start: float, data: st.DataObject) -> None:
    """Frames at the rate they are read at, each up to a quarter of a step early or late: nothing changes."""
    step = 1000.0 / fps
    jitter = data.draw(st.lists(st.floats(-0.25, 0.25), min_size=n, max_size=n))
    times = [start + (i + jitter[i] - jitter[0]) * step for i in range(n)]
    assert even_counts(times, step)[0] == [1] * n


@pytest.mark.parametrize(
    "times",
    [[0.0] * 7, [float("nan")] * 7, [5.0, 4.0, 3.0], [0.1 * i for i in range(75)], [1.0 * i for i in range(75)]],
    ids=["equal", "nan", "backwards", "10000-fps", "1000-fps"],
)
def test_frames_without_usable_times_are_read_as_evenly_spaced(times: list[float]) -> None:
    """Times that do not move forward, or move by a millisecond or less (a file stating 1000 fps or more, a
    rate lipread reads as 25 fps), and no note of uneven frames about them."""
    counts, even = even_counts(times, 40.0)
    assert counts == [1] * len(times) and uneven_note(times, even) is None


def variable_rate_clip(tmp_path: Path) -> tuple[Path, Path, list[int]]:
    """The demo clip as a camera that slowed down in its first second would film it: of its first 25 frames
    only every other one, each held on screen for two frame times (80 ms), then all its frames at 25 fps. The
    kept frames are written as an MP4 (``kept.mp4``, evenly spaced) and given their true times (``vfr.mp4``);
    returns both and the demo clip's frame numbers they hold."""
    frames = read_frames(lipread.demo_clip())
    keep = [i for i in range(len(frames)) if i >= 24 or i % 2 == 0]
    kept = tmp_path / "kept.mp4"
    writer = cv2.VideoWriter(str(kept), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, frames.shape[2:0:-1])
    for i in keep:
        writer.write(np.ascontiguousarray(frames[i, :, :, ::-1]))
    writer.release()
    data = kept.read_bytes()
    tick = time_scale(data) // 25  # one frame time at 25 fps
    vfr = tmp_path / "vfr.mp4"
    vfr.write_bytes(retime(data, [*((b - a) * tick for a, b in itertools.pairwise(keep)), tick]))
    return kept, vfr, keep


def test_a_variable_frame_rate_is_read_by_the_frames_times(tmp_path: Path) -> None:
    """Each frame lipread reads is the one a viewer sees at that time, at the rate the file states (FFmpeg's
    average, here 63 frames over 3 s: 21 fps), whether read whole or one frame at a time, and a note says so."""
    kept, vfr, keep = variable_rate_clip(tmp_path)
    assert frame_rate(vfr) == 21.0
    stored = read_frames(kept)
    times = [40.0 * i for i in keep]
    expected = [stored[i] for i in shown_by_nearest(times, 1000 / 21)]
    notes: list[str] = []
    streamed = list(iter_frames(vfr, notes=notes))
    whole = read_frames(vfr)
    assert len(streamed) == len(whole) == len(expected) == 63
    assert all(np.array_equal(a, c) and np.array_equal(b, c) for a, b, c in zip(streamed, whole, expected))
    assert any(not np.array_equal(a, b) for a, b in zip(expected, stored))  # not the frames as stored
    assert notes == [
        "the frames are not evenly spaced in time (a variable frame rate, up to 0.39 s from even spacing): "
        "lipread placed each at its time, as 21 fps video (8 frames shown again, 8 dropped)"
    ]
    plain: list[str] = []
    assert len(list(iter_frames(kept, notes=plain))) == len(keep) and plain == []


def test_the_words_of_a_variable_frame_rate_clip_are_read_at_their_times(tmp_path: Path) -> None:
    """The shipped model reads the clip with its first second at half the frame rate as it reads the demo clip
    itself, the words where they are said: each word's start within two frames (80 ms) of the demo clip's.
    Read as evenly spaced frames, the words came 0.24 s early or more, and "at" read as "by"."""
    pytest.importorskip("onnxruntime")
    _, vfr, _ = variable_rate_clip(tmp_path)
    steady = lipread.transcribe(lipread.demo_clip())
    uneven = lipread.transcribe(vfr)
    assert uneven.text == steady.text
    assert all(abs(a.start - b.start) <= 0.08 for a, b in zip(uneven.words, steady.words))
    assert uneven.warnings[0].startswith("the frames are not evenly spaced in time")


def test_a_file_stating_an_unusable_rate_is_read_frame_by_frame(tmp_path: Path) -> None:
    """A file whose frames are two ticks of its time scale apart (0.16 ms: FFmpeg states 6400 fps) is read as
    25 fps video, every frame once, as the note says; read by those times, its frames fell into one."""
    frames = read_frames(lipread.demo_clip())[:30]
    plain = tmp_path / "plain.mp4"
    writer = cv2.VideoWriter(str(plain), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, frames.shape[2:0:-1])
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()
    data = plain.read_bytes()
    assert time_scale(data) >= 4000  # two ticks under MIN_STEP_MS (FFmpeg loses frames one tick apart)
    fast = tmp_path / "fast.mp4"
    fast.write_bytes(retime(data, [2] * len(frames)))
    notes: list[str] = []
    rate: list[float] = []
    streamed = list(iter_frames(fast, notes=notes, rate=rate))
    whole = read_frames(fast)
    assert len(streamed) == len(whole) == len(frames) and rate == [25.0]
    assert all(np.array_equal(a, b) for a, b in zip(whole, read_frames(plain)))
    assert (
        len(notes) == 1
        and notes[0].startswith("the file states no usable frame rate (")
        and "read as 25 fps" in notes[0]
    )
