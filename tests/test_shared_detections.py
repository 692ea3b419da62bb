"""No frame of a clip is searched for a face twice: the warnings of :mod:`lipread.video.notices` and the mouth
locator share their detections (:class:`lipread.video.face.DetectionMemo`), and so do the overlapping windows of a
long clip, while the crops, the log-probabilities and the warnings stay what they were."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lipread.api import Transcriber
from lipread.config import ModelConfig, get_preset
from lipread.transcription.frames import windowed_logprobs
from lipread.video import face
from lipread.video.face import DetectionMemo
from lipread.video.mouth import AlignedMouthLocator, FaceMouthLocator, MouthLocator
from lipread.video.notices import FACE_STEP, ClipWatch
from lipread.video.preprocess import preprocess
from lipread.video.reader import read_frames

pytest.importorskip("onnxruntime", reason="the transcription tests run the tiny ONNX model")

from tiny_onnx import write_tiny_model  # after the skip: it needs onnx

CLIPS = ("bbaf2n", "bbaf3s", "bbaf4p", "bbaf5a")


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Transcriber:
    return Transcriber(write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx"), decoder="greedy", threads=1)


@pytest.fixture(scope="module")
def clips(grid_root: Path) -> list[np.ndarray]:
    """Four different GRID clips of speaker 1, 75 frames of 360x288 each (no frame of one is in another)."""
    out = []
    for name in CLIPS:
        path = grid_root / "s1" / f"{name}.mp4"
        if not path.is_file():
            pytest.skip(f"{path} not found")
        out.append(read_frames(path))
    return out


def record_detections(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, float, int]]:
    """Count each run of the detector by (the frame's content, threshold, search level)."""
    runs: Counter[tuple[str, float, int]] = Counter()
    real = face._largest

    def counted(frame: np.ndarray, min_score: float, level: int) -> face.Face | None:
        runs[hashlib.sha1(np.ascontiguousarray(frame).tobytes()).hexdigest(), min_score, level] += 1
        return real(frame, min_score, level)

    monkeypatch.setattr(face, "_largest", counted)
    return runs


def twice(runs: Counter[tuple[str, float, int]]) -> int:
    return sum(n - 1 for n in runs.values())


@pytest.mark.parametrize("locator", [FaceMouthLocator(), AlignedMouthLocator()], ids=["face-tracked", "aligned"])
def test_a_short_clip_is_searched_once_per_frame_with_the_same_crops(
    runner: Transcriber, clips: list[np.ndarray], locator: MouthLocator, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = clips[0]
    expected = preprocess(frames, runner.config, locator)
    runs = record_detections(monkeypatch)
    prepared = Transcriber(runner.model, decoder="greedy", locator=locator).prepare(frames)
    assert runs and twice(runs) == 0, f"{twice(runs)} frames searched twice"
    assert prepared.notes == () and np.array_equal(prepared.frames, expected)  # type: ignore[arg-type]
    # Frame 0 is examined both for the warnings and by the locator (every 15th frame each): once is enough.
    first = hashlib.sha1(np.ascontiguousarray(frames[0]).tobytes()).hexdigest()
    assert runs[first, face.MIN_SCORE, 0] == 1


def test_the_warnings_search_no_frame_the_default_locator_does_not(
    runner: Transcriber, clips: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = clips[0]  # a still GRID face: the default locator looks at every 15th frame and the last
    runs = record_detections(monkeypatch)
    runner.prepare(frames)
    looked_at = {hashlib.sha1(np.ascontiguousarray(frames[t]).tobytes()).hexdigest() for t in (0, 15, 30, 45, 60, 74)}
    assert {key[0] for key in runs} == looked_at and sum(runs.values()) == len(looked_at)


def test_a_long_clip_is_searched_once_per_frame_with_the_same_log_probabilities(
    runner: Transcriber, clips: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = np.concatenate(clips)  # 12 s: read in overlapping windows
    frames[100:160] = 128  # and the face is gone for 2.4 s
    expected = windowed_logprobs(
        iter(frames), runner.config, runner._logprobs, FaceMouthLocator(), runner.batch_size, "<frames>"
    )
    runs = record_detections(monkeypatch)
    prepared = runner.prepare(frames)
    # The grey frames are all alike, so count only the others: each of those is one frame of the clip.
    grey = hashlib.sha1(np.ascontiguousarray(frames[100]).tobytes()).hexdigest()
    assert twice(Counter({k: n for k, n in runs.items() if k[0] != grey})) == 0
    assert prepared.logprobs is not None and np.array_equal(prepared.logprobs, expected)
    [note] = prepared.notes
    assert note.startswith("frames without a face: no face in 4 of the 20 frames examined (between 3.64 s and 6.60 s)")


def test_the_watch_alone_still_finds_the_frames_without_a_face(clips: list[np.ndarray]) -> None:
    frames = clips[0].copy()
    frames[30:55] = 128
    watch = ClipWatch(runner_config(), FaceMouthLocator(), 25.0, 25.0)
    assert sum(1 for _ in watch.watch(iter(frames))) == 75
    assert watch.notes()[0].startswith("frames without a face: no face in 2 of the 5 frames examined")


def test_the_note_brackets_each_gap_by_the_examined_frames_with_a_face(clips: list[np.ndarray]) -> None:
    """Only every 15th frame is examined, so each gap is told from the frame after the last one seen with a face
    to the next one seen with a face (or the clip's end): it holds every frame without a face."""
    frames = clips[0].copy()
    frames[10:20] = 128  # frame 15 is examined: no face; 0 and 30 show one
    frames[50:] = 128  # 60 is examined: no face; 45 shows one, and no examined frame after it
    for start, told in (
        (0.0, "0.04 s and 1.20 s, and between 1.84 s and 3.00 s"),
        (7.5, "7.54 s and 8.70 s, and between 9.34 s and 10.50 s"),
    ):
        watch = ClipWatch(runner_config(), FaceMouthLocator(), 25.0, 25.0, start=start)
        assert sum(1 for _ in watch.watch(iter(frames))) == 75
        assert watch.faceless_spans() == [(1, 30), (46, 75)]
        assert watch.notes()[0].startswith(
            f"frames without a face: no face in 2 of the 5 frames examined (between {told})"
        )


@given(seen=st.lists(st.booleans(), min_size=1, max_size=12), tail=st.integers(1, FACE_STEP))
def test_faceless_spans_hold_every_frame_without_a_face_and_none_with_one(seen: list[bool], tail: int) -> None:
    watch = ClipWatch(runner_config(), FaceMouthLocator(), 25.0, 25.0)
    watch.frames = (len(seen) - 1) * FACE_STEP + tail
    examined = range(0, watch.frames, FACE_STEP)
    watch.with_face = [f for f, face in zip(examined, seen) if face]
    watch.faceless = [f for f, face in zip(examined, seen) if not face]
    spans = watch.faceless_spans()
    inside = [any(lo <= f < hi for lo, hi in spans) for f in examined]
    assert inside == [not face for face in seen]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # in order, apart
    for lo, hi in spans:  # each reaches to the examined frames with a face on either side, or the clip's ends
        assert lo == 0 or lo - 1 in watch.with_face
        assert hi == watch.frames or hi in watch.with_face


def runner_config() -> ModelConfig:
    return get_preset("lipnet")


def test_the_watch_hands_out_the_locator_itself_when_it_looks_for_no_face() -> None:
    from lipread.video.mouth import FixedCrop

    fixed = FixedCrop()
    assert ClipWatch(runner_config(), fixed, 25.0, 25.0).locator is fixed
    shared = ClipWatch(runner_config(), FaceMouthLocator(), 25.0, 25.0).locator
    assert isinstance(shared, MouthLocator) and shared.name == FaceMouthLocator().name  # the same crop cache key


def test_the_memo_answers_by_frame_index_from_where_a_window_starts(
    clips: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = np.concatenate(clips[:2])
    memo = DetectionMemo()
    runs = record_detections(monkeypatch)
    whole = face.follow_faces(frames, every=15, memo=memo)
    assert len(memo) == sum(runs.values()) == len(whole)
    window = memo.from_frame(60)  # a window of frames 60 to 134: 60, 75, ... were examined already
    again = face.follow_faces(frames[60:135], every=15, memo=window)
    new = {t + 60 for t in again} - set(whole)
    assert new and len(new) < len(again) and sum(runs.values()) == len(whole) + len(new)
    assert again == face.follow_faces(frames[60:135], every=15)  # the same faces as a fresh search
    assert all(window.largest(frames[60 + t], t) == f for t, f in again.items())
    with pytest.raises(ValueError, match="start"):
        memo.from_frame(-1)


def test_a_locator_given_frames_the_watch_has_not_passed_searches_afresh(
    clips: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = ClipWatch(runner_config(), FaceMouthLocator(), 25.0, 25.0)
    for _ in watch.watch(iter(clips[0][:10])):
        pass
    # 75 frames after a watch of 10: not the frames it saw, so nothing is looked up under the wrong index
    assert watch.locator.locate(clips[1]) == FaceMouthLocator().locate(clips[1])
    for _ in watch.watch(iter(clips[0][10:])):
        pass
    # 75 frames after a watch of 75, but other frames than it saw: their pixels tell, and they are searched again
    runs = record_detections(monkeypatch)
    assert watch.locator.locate(clips[2]) == FaceMouthLocator().locate(clips[2])
    assert twice(runs) == sum(runs.values()) // 2  # each frame once for the watch's locator, once for the fresh one


def test_the_memo_gives_a_face_only_for_the_frame_it_was_found_in(clips: list[np.ndarray]) -> None:
    memo = DetectionMemo()
    assert memo.largest(clips[0][0], 0) is not None
    assert memo.largest(np.full_like(clips[0][0], 128), 0) is None  # another frame under the same index
    assert len(memo) == 1 and memo.largest(clips[0][0], 0) == face._largest(clips[0][0], face.MIN_SCORE, 0)
