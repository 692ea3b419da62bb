"""Long clips: read in overlapping windows with memory that does not grow with the clip's length.

The clips are GRID clips joined end to end, written by the tests with OpenCV. The model is the tiny ONNX
model of ``tiny_onnx.py``, whose output for a frame depends on the whole window it is run on, so the
stitching is checked exactly.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lipread
from lipread import api
from lipread.config import LIPNET
from lipread.errors import VideoError
from lipread.video.preprocess import preprocess
from lipread.video.reader import iter_frames, read_frames

cv2 = pytest.importorskip("cv2")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tiny_onnx import write_tiny_model  # noqa: E402

MEDIUM = ["bbaf2n", "bbaf3s", "bbaf4p", "bbaf5a", "bbal6n", "lrae3s"]
"""Six GRID clips, 5 x 75 + 74 = 449 frames (18 s): long enough for windows, and not a multiple of the hop."""


def join_clips(clips: list[Path], path: Path) -> Path:
    """Write the clips one after the other into one 25 fps MPEG-4 file, a frame at a time."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (360, 288))
    for clip in clips:
        for frame in iter_frames(clip):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def runner(tiny: Path) -> api.Transcriber:
    return api.Transcriber(tiny, decoder="greedy", threads=1)


@pytest.fixture(scope="module")
def medium_clip(grid_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    clips = [grid_root / "s1" / f"{name}.mp4" for name in MEDIUM]
    return join_clips(clips, tmp_path_factory.mktemp("medium") / "medium.mp4")


@pytest.fixture(scope="module")
def minute_clip(grid_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    clips = sorted((grid_root / "s1").glob("*.mp4"))[:20]
    return join_clips(clips, tmp_path_factory.mktemp("minute") / "minute.mp4")


def test_windows_are_run_on_their_own_and_stitched_at_the_middle_of_each_overlap(
    runner: api.Transcriber, medium_clip: Path
) -> None:
    prepared = runner.prepare(medium_clip)
    assert prepared.frames is None and prepared.logprobs is not None
    assert prepared.logprobs.shape == (449, LIPNET.num_classes) and prepared.logprobs.dtype == np.float32
    # 75-frame windows every 50 frames; the last one moved back to end with the clip.
    starts = [0, 50, 100, 150, 200, 250, 300, 350, 374]
    bounds = [0, 62, 112, 162, 212, 262, 312, 362, 399, 449]
    for start, lo, hi in zip(starts, bounds, bounds[1:]):
        window = preprocess(read_frames(medium_clip, max_frames=75, start=start), LIPNET, source="window")
        expected = runner.model.logprobs(window[None])[0]
        np.testing.assert_allclose(prepared.logprobs[lo:hi], expected[lo - start : hi - start], atol=1e-4)


def test_long_clip_transcript_is_the_decoded_stitched_sequence(runner: api.Transcriber, medium_clip: Path) -> None:
    prepared = runner.prepare(medium_clip)
    t = runner.run([prepared])[0]
    assert prepared.logprobs is not None
    hyp = lipread.decoding.greedy_decode(prepared.logprobs, LIPNET.vocabulary)
    assert t.text == " ".join(hyp.words) and t.path == str(medium_clip)
    assert all(0 <= w.start < w.end <= 449 / 25 for w in t.words)
    assert [w.start for w in t.words] == sorted(w.start for w in t.words)


def test_short_clips_keep_the_single_pass(runner: api.Transcriber, grid_root: Path, tmp_path: Path) -> None:
    """Up to LONG_CLIP_FRAMES frames a clip is read whole: the model input is the whole clip's."""
    three = join_clips([grid_root / "s1" / f"{n}.mp4" for n in MEDIUM[:3]], tmp_path / "three.mp4")
    prepared = runner.prepare(three)
    assert prepared.logprobs is None and prepared.frames is not None
    np.testing.assert_array_equal(prepared.frames, preprocess(read_frames(three), LIPNET, source=str(three)))


def test_threshold(runner: api.Transcriber, medium_clip: Path) -> None:
    frames = read_frames(medium_clip, max_frames=api.LONG_CLIP_FRAMES + 1)
    assert runner.prepare(frames[:-1]).frames is not None
    long = runner.prepare(frames)
    assert long.frames is None and long.logprobs is not None and long.logprobs.shape[0] == api.LONG_CLIP_FRAMES + 1


def test_window_without_a_face_reads_as_silence(runner: api.Transcriber, medium_clip: Path) -> None:
    frames = read_frames(medium_clip, max_frames=300)
    frames[100:200] = 128  # the window at 100..175 shows no face; those at 50 and 150 still do
    lp = runner.prepare(frames).logprobs
    assert lp is not None and lp.shape == (300, LIPNET.num_classes)
    kept = lp[112:162]  # what the window at 100 contributes
    assert np.all(kept[:, 0] == 0.0) and np.all(kept[:, 1:] == -np.inf)
    assert np.isfinite(lp[:112]).all() and np.isfinite(lp[162:]).all()
    frames[:] = 128
    with pytest.raises(VideoError, match=r"<frames>: no face found"):
        runner.prepare(frames)


def test_minute_clip_holds_a_bounded_number_of_frames(
    runner: api.Transcriber, minute_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-minute clip (1500 frames) never has more than a window's frames + a few alive as decoded (the first
    LONG_CLIP_FRAMES + 1 are copied into one buffer of that size as they come, and freed)."""
    alive, most = 0, 0

    def freed() -> None:
        nonlocal alive
        alive -= 1

    def tracked(path: Path, start: int = 0, grey: bool = False, **kwargs: Any) -> Iterator[np.ndarray]:
        nonlocal alive, most
        for frame in iter_frames(path, start, grey, **kwargs):
            weakref.finalize(frame, freed)
            alive += 1
            most = max(most, alive)
            yield frame

    monkeypatch.setattr(lipread.video.reader, "iter_frames", tracked)
    t = runner.transcribe(minute_clip)
    assert isinstance(t, lipread.Transcript)
    assert alive == 0 and most <= runner.config.frames + 3
    assert t.words and all(0 <= w.start < w.end <= 60.0 for w in t.words)
    assert t.text == " ".join(w.word for w in t.words)
