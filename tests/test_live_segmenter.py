"""Live reading without a real model: the segmenter against a brute-force reference, the stream reader on
synthetic frames (a stand-in model that hears "speech" in frames of noise and silence in flat grey), and the
frame sources with stand-in OpenCV captures that fail the ways cameras and streams fail."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipread.api import Transcript, Word
from lipread.config import PRESETS
from lipread.errors import ArgumentError, VideoError
from lipread.live import source as live_source
from lipread.live.segmenter import Segmenter, Span
from lipread.live.stream import LiveSettings, _Stream, read_stream
from lipread.video.mouth import Box, FixedCrop
from lipread.video.preprocess import mouth_crops, normalise


def reference_spans(speech: list[bool], pause: int, longest: int) -> list[Span]:
    """Utterances the slow way: split the speech frames at gaps of ``pause`` or more silent frames, then
    cut each run into pieces of at most ``longest`` frames from its start."""
    spans: list[Span] = []
    frames = [t for t, s in enumerate(speech) if s]
    groups: list[list[int]] = []
    for t in frames:
        if groups and t - groups[-1][-1] <= pause and t - groups[-1][0] < longest:
            groups[-1].append(t)
        else:
            groups.append([t])
    for g in groups:
        spans.append(Span(g[0], g[-1] + 1))
    return spans


@settings(max_examples=300, deadline=None)
@given(st.lists(st.booleans(), max_size=200), st.integers(1, 12), st.integers(1, 60))
def test_segmenter_matches_the_reference(speech: list[bool], pause: int, longest: int) -> None:
    seg = Segmenter(pause, longest)
    spans = [s for s in (seg.push(x) for x in speech) if s is not None]
    last = seg.cut()
    spans += [last] if last is not None else []
    assert spans == reference_spans(speech, pause, longest)
    for span in spans:
        assert speech[span.start] and speech[span.stop - 1] and span.stop - span.start <= longest


def test_segmenter_ends_an_utterance_after_the_pause() -> None:
    seg = Segmenter(pause=3, longest=100)
    out = [seg.push(x) for x in [True, False, False, True, True, False, False, False, True]]
    assert out == [None] * 7 + [Span(0, 5), None]
    assert seg.cut() == Span(8, 9) and seg.cut() is None


@pytest.mark.parametrize(
    "bad",
    [
        {"pause": 0},
        {"longest": -1},
        {"hop": 5},
        {"hop": 2.5},
        {"context": float("nan")},
        {"longest": 1e308},  # its frame count would overflow
        {"pause": 61.0},
        {"context": 1e9},
        {"lead": -0.04},
        {"lead": float("inf")},
        {"lead": True},
    ],
)
def test_settings_are_checked(bad: dict[str, Any]) -> None:
    with pytest.raises(ArgumentError):
        LiveSettings(**bad)


def test_settings_take_numpy_numbers() -> None:
    settings = LiveSettings(pause=np.float64(0.3), hop=np.int64(20))
    assert settings.hop == 20 and type(settings.hop) is int and settings.pause == 0.3


@pytest.mark.parametrize("camera", ["2147483648", "99999999999999999999", "\u00b2"])
def test_a_camera_index_opencv_cannot_take_is_a_clean_error(camera: str) -> None:
    with pytest.raises(VideoError, match=r"cannot be opened|not found"):
        live_source.open_source(camera)


# A stand-in reader: the lipnet config, a fixed mouth box, and a "model" that calls a frame speech when its
# crop varies (noise) and silence when it is flat. Frames that are all black have "no face".
SIZE = (60, 120)


class NoFaceOnBlack:
    name = "stand-in"

    def locate(self, frames: np.ndarray, source: str = "<frames>") -> Box:
        if not frames.any():
            raise VideoError(f"{source}: no face")
        return FixedCrop(Box(5, 55, 10, 110)).locate(frames, source)


class NoiseModel:
    backend = "stand-in"

    def __init__(self) -> None:
        self.config = PRESETS["lipnet"]

    def logprobs(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        busy = x.reshape(x.shape[0], x.shape[1], -1).std(axis=2) > 0.3
        lp = np.full((*x.shape[:2], self.config.num_classes), np.log(1e-4), np.float32)
        lp[..., 0] = np.where(busy, np.log(0.1), np.log(0.99))
        lp[..., 1] = np.where(busy, np.log(0.8), np.log(1e-4))
        return lp


@dataclass(frozen=True)
class Prepared:
    """What ``Transcriber.prepare`` gives: the model input, or (for ``run``) log-probabilities instead."""

    frames: np.ndarray | None
    logprobs: np.ndarray | None = None
    raw: np.ndarray | None = None
    """The clip's frames as given (the stand-in reads its word from them)."""


@dataclass
class StandInReader:
    model: NoiseModel = field(default_factory=NoiseModel)
    locator: NoFaceOnBlack = field(default_factory=NoFaceOnBlack)
    long: int = 250
    """``prepare`` reads clips longer than this itself, as ``Transcriber.prepare`` reads long clips in windows."""
    clips: list[tuple[str, int]] = field(default_factory=list)
    """Every clip read: how (``transcribe``, or ``run`` on the log-probabilities of the run that saw its end)
    and its length in frames."""

    @property
    def config(self) -> Any:
        return self.model.config

    def prepare(self, frames: np.ndarray, fps: float | None = None, *, start: float = 0.0) -> Prepared:
        """The model input; for a clip longer than ``long`` frames, the model's log-probabilities instead."""
        x = normalise(mouth_crops(frames, self.config, self.locator))
        if len(frames) > self.long:
            return Prepared(None, self.model.logprobs(x[None], np.array([len(x)]))[0])
        return Prepared(x, raw=frames)

    def run(self, clips: list[Prepared]) -> list[Transcript]:
        """A clip prepared as a whole (read ``transcribe``, as ``Transcriber.transcribe`` reads it): one word over
        its noisy frames, named by how many there are. Log-probabilities at hand (read ``run``): the word over the
        frames the model hears speech in."""
        out = []
        for c in clips:
            if c.frames is not None:
                assert c.raw is not None
                self.clips.append(("transcribe", len(c.raw)))
                out.append(self.word(np.flatnonzero(c.raw.reshape(len(c.raw), -1).std(axis=1) > 10)))
            else:
                assert c.logprobs is not None
                self.clips.append(("run", len(c.logprobs)))
                out.append(self.word(np.flatnonzero(np.exp(c.logprobs[:, 0]) < 0.5)))
        return out

    @staticmethod
    def word(busy: np.ndarray) -> Transcript:
        if not len(busy):
            return Transcript("", 0.0, (), "stand-in", "stand-in")
        word = Word(f"w{len(busy)}", busy[0] / 25, (busy[-1] + 1) / 25, 1.0)
        return Transcript(word.word, 1.0, (word,), "stand-in", "stand-in")


def synthetic(plan: list[tuple[str, int]], size: tuple[int, int] = SIZE, seed: int = 0) -> list[np.ndarray]:
    """Frames by plan: ``("speech", n)`` noise, ``("quiet", n)`` flat grey, ``("away", n)`` black (no face)."""
    rng = np.random.default_rng(seed)
    frames = []
    for kind, n in plan:
        for _ in range(n):
            if kind == "speech":
                frames.append(rng.integers(0, 256, (*size, 3), dtype=np.uint8))
            else:
                frames.append(np.full((*size, 3), 128 if kind == "quiet" else 0, np.uint8))
    return frames


def spans_of(segments: list[Any]) -> list[tuple[int, int]]:
    return [(round(s.start * 25), round(s.end * 25)) for s in segments]


def test_utterances_come_out_where_the_speech_is() -> None:
    reader = StandInReader()
    plan = [("quiet", 30), ("speech", 40), ("quiet", 11), ("speech", 30), ("quiet", 40), ("speech", 20), ("quiet", 3)]
    segments = list(read_stream(reader, synthetic(plan), LiveSettings(pause=0.4, hop=25, context=0.5, lead=0.5)))
    assert spans_of(segments) == [(30, 70), (81, 111), (151, 171)]
    assert [s.text for s in segments] == ["w40", "w30", "w20"]
    assert segments[0].words[0].start == segments[0].start and segments[0].to_dict()["text"] == "w40"
    # each clip holds its utterance and up to 12 frames (0.5 s) before it, never the other utterances' speech.
    # The second is read by the run of the model that saw it end: through the pause (10 frames) and the
    # lookahead (5) after it. The first one's end was seen with the next one's speech in view, and the stream
    # ends 3 frames after the third, so they are read again, with up to 12 frames after them.
    assert reader.clips == [("transcribe", 12 + 40 + 11), ("run", 11 + 30 + 10 + 5), ("transcribe", 12 + 20 + 3)]


@pytest.mark.parametrize(
    ("settings", "after", "how"),
    [
        (LiveSettings(), 5 + 5, "run"),  # the pause (0.2 s) and the lookahead: the run that saw the end reads it
        (LiveSettings(pause=0.4), 10 + 5, "run"),
        (LiveSettings(context=1.0), 25, "transcribe"),  # its context (25 frames) is longer: it waits, is read again
        (LiveSettings(context=0.5), 12, "transcribe"),  # 12 frames: longer than the pause and lookahead too
    ],
)
def test_an_utterance_comes_out_as_soon_as_its_end_can_be_seen(settings: LiveSettings, after: int, how: str) -> None:
    """Frames pushed one at a time: the segment comes out with the frame that shows its end, ``pause`` and
    :data:`LOOKAHEAD` frames after its last speech frame, or with the last frame of its context if that is later."""
    reader = StandInReader()
    state = _Stream(reader, settings, "<frames>")
    out = []
    for count, frame in enumerate(synthetic([("quiet", 30), ("speech", 40), ("quiet", 40)]), 1):
        out += [(count, s) for s in state.push(frame)]
    assert [(count, spans_of([s])[0], s.text) for count, s in out] == [(70 + after, (30, 70), "w40")]
    assert [h for h, _ in reader.clips] == [how]


@pytest.mark.parametrize(("lead", "before"), [(0.0, 0), (0.48, 12), (0.8, 20), (2.0, 30)])
def test_lead_is_kept_before_an_utterance_and_context_after_it(lead: float, before: int) -> None:
    """``lead`` frames before the first speech frame (never before the stream), ``context`` after the last."""
    reader = StandInReader()
    plan = [("quiet", 30), ("speech", 40), ("quiet", 40)]
    segments = list(read_stream(reader, synthetic(plan), LiveSettings(context=1.0, lead=lead)))
    assert spans_of(segments) == [(30, 70)]
    assert reader.clips == [("transcribe", before + 40 + 25)]


def test_a_long_utterance_is_read_by_the_run_that_saw_it_end_too() -> None:
    """A clip that ``prepare`` reads itself (in windows, for a real model) gives the log-probabilities that
    decide the last frames and read the utterance."""
    reader = StandInReader(long=30)
    segments = list(read_stream(reader, synthetic([("quiet", 30), ("speech", 40), ("quiet", 40)]), LiveSettings()))
    assert spans_of(segments) == [(30, 70)] and [s.text for s in segments] == ["w40"]
    assert reader.clips == [("run", 12 + 40 + 5 + 5)]  # lead (0.48 s), the utterance, pause, lookahead


def test_a_short_pause_does_not_split_an_utterance_and_longest_cuts_one() -> None:
    plan = [("quiet", 10), ("speech", 20), ("quiet", 6), ("speech", 20), ("quiet", 30)]
    assert spans_of(list(read_stream(StandInReader(), synthetic(plan), LiveSettings(pause=0.4)))) == [(10, 56)]
    long = synthetic([("quiet", 10), ("speech", 60), ("quiet", 30)])
    cut = list(read_stream(StandInReader(), long, LiveSettings(pause=0.4, longest=1.0, context=0)))
    assert spans_of(cut) == [(10, 35), (35, 60), (60, 70)]


def test_no_face_ends_an_utterance() -> None:
    plan = [("quiet", 10), ("speech", 40), ("away", 25), ("speech", 20), ("quiet", 20)]
    segments = list(read_stream(StandInReader(), synthetic(plan), LiveSettings(pause=0.4, hop=25)))
    assert spans_of(segments) == [(10, 50), (75, 95)]


def test_frames_that_change_size_end_the_utterance_and_reading_goes_on() -> None:
    frames = synthetic([("quiet", 10), ("speech", 30)]) + synthetic([("speech", 20), ("quiet", 30)], (70, 130))
    segments = list(read_stream(StandInReader(), frames, LiveSettings(pause=0.4)))
    assert spans_of(segments) == [(10, 40), (40, 60)]


def test_bad_frames_are_refused() -> None:
    with pytest.raises(VideoError, match="frame 1: expected uint8 RGB"):
        list(read_stream(StandInReader(), [np.zeros((60, 120, 3), np.uint8), np.zeros((60, 120), np.uint8)]))


def test_memory_stays_bounded_over_a_long_stream() -> None:
    """Kept frames stay within the longest utterance plus context and a hop, however long the stream."""
    state = _Stream(StandInReader(), LiveSettings(pause=0.4, longest=2.0, hop=25, context=0.5), "<frames>")
    plan = [("quiet", 20), ("speech", 100), ("quiet", 15), ("speech", 30), ("quiet", 40)] * 4
    most = 0
    for frame in synthetic(plan):
        list(state.push(frame))
        most = max(most, len(state.history))
    assert most <= 50 + 2 * 12 + 25 and len(state.crops) <= 75


class StandInCapture:
    """A ``cv2.VideoCapture`` stand-in: ``frames`` good reads (BGR), then failures."""

    def __init__(self, frames: int, opened: bool = True, fps: float = 30.0, count: float = 0.0) -> None:
        self.left, self.opened, self.fps, self.count = frames, opened, fps, count
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def get(self, prop: int) -> float:
        import cv2

        return {cv2.CAP_PROP_FPS: self.fps, cv2.CAP_PROP_FRAME_COUNT: self.count}.get(prop, 0.0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        if not self.opened or self.left == 0:
            return False, None
        self.left -= 1
        frame = np.zeros((4, 6, 3), np.uint8)
        frame[..., 0] = 255  # blue in BGR
        return True, frame

    def release(self) -> None:
        self.released = True


@pytest.fixture
def captures(monkeypatch: pytest.MonkeyPatch) -> list[StandInCapture]:
    """The captures the source will open, in order (each call of ``_video_capture`` takes the next)."""
    queue: list[StandInCapture] = []
    monkeypatch.setattr(live_source, "_video_capture", lambda target: queue.pop(0))
    monkeypatch.setattr(live_source, "STALL_SECONDS", 0.05)
    return queue


def test_a_camera_that_cannot_be_opened(captures: list[StandInCapture]) -> None:
    captures.append(StandInCapture(0, opened=False))
    with pytest.raises(VideoError, match="camera 3: cannot be opened"):
        live_source.open_source("3")


def test_a_camera_that_stops_delivering(captures: list[StandInCapture]) -> None:
    captures.append(StandInCapture(5, fps=0.0))
    src = live_source.open_source("0")
    frames = list(src.frames())
    assert len(frames) == 5 and src.fps == live_source.CAMERA_FPS
    assert frames[0][0, 0].tolist() == [0, 0, 255]  # BGR from OpenCV, RGB out
    assert src.error is not None and "camera 0: stopped delivering frames" in str(src.error)


def test_a_stream_that_drops_is_reopened(captures: list[StandInCapture]) -> None:
    captures += [StandInCapture(4, fps=25.0), StandInCapture(3), StandInCapture(0, opened=False)]
    captures += [StandInCapture(0, opened=False)] * live_source.RECONNECTS
    src = live_source.open_source("rtsp://camera.local/live")
    assert len(list(src.frames())) == 7 and src.fps == 25.0
    assert src.error is not None and "dropped and could not be opened again" in str(src.error)


def test_a_stream_of_known_length_just_ends(captures: list[StandInCapture]) -> None:
    captures.append(StandInCapture(4, count=4))
    src = live_source.open_source("http://server/clip.mp4")
    assert len(list(src.frames())) == 4 and src.error is None


def test_a_stopped_source_delivers_no_more_and_lets_the_camera_go(captures: list[StandInCapture]) -> None:
    camera = StandInCapture(100)
    captures.append(camera)
    src = live_source.open_source("0")
    got = 0
    for _ in src.frames():
        got += 1
        if got == 10:
            src.stop()
    assert got == 10 and src.error is None and camera.released
