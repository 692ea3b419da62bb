"""Reading a stream of frames utterance by utterance: :func:`read_stream`, which
:meth:`Transcriber.stream <lipread.api.Transcriber.stream>` runs.

How it works, for frames at the model's 25 fps (``Transcriber.stream`` resamples them first):

1. Every ``hop`` frames (default 25, one second), the mouth is located in the new frames (one region for the
   hop, by the model's mouth locator), they are cropped for the model, and the model reads a window of the
   last ``config.frames`` crops (75, three seconds: what it was trained on), standardised together. Frames
   where no face is found read as silence.
2. A frame is speech when the model gives its blank class a posterior below one half there. It is decided
   once the model has read :data:`LOOKAHEAD` frames after it (0.2 s), and then for good;
   :class:`~lipread.live.segmenter.Segmenter` turns these decisions into utterances: an utterance ends after
   ``pause`` seconds without speech (or without a face), or when it reaches ``longest`` seconds.
3. While an utterance is in progress, the model also runs as soon as its last speech frame is ``pause``
   seconds and :data:`LOOKAHEAD` frames old, the moment its end can be seen, without waiting for the hop.
   That run reads the utterance itself instead of the window: its frames from ``lead`` seconds before its
   first speech frame up to the newest, as a clip of its own, exactly as
   :meth:`Transcriber.transcribe <lipread.api.Transcriber.transcribe>` reads a frames array (one mouth region
   for the clip, cropped and standardised together). When it shows the utterance has ended (nothing after
   its last speech frame is speech), its log-probabilities are decoded at once: the utterance is read by the
   same run of the model that saw it end.
4. An utterance whose end was seen otherwise (by a window, when it reached ``longest``, when the stream
   ended, or with the next speech already in view) is read again as a clip of its own, as ``transcribe``
   reads it: from ``lead`` seconds before its first speech frame to ``context`` seconds after its last
   (never into the utterance before it or the speech after it; frames not decided yet count as the last run
   heard them).

So an utterance reads as the same words as a clip of it alone would, and its words are timed the same way.
One read by the run that saw it end (3) keeps ``pause`` and 0.2 s after its last speech frame rather than
``context`` (that run reads it only when ``context`` is not longer), and its domain score (``domain_score``,
``in_domain``) counts the model's posteriors only, as a long clip's does. An utterance that reads as no
words, or with a confidence below ``min_confidence``, is dropped.

Memory is bounded: the last ``config.frames`` mouth crops, and the frames of the utterance in progress from
``lead`` before it to the newest (at most ``lead + longest + context + pause`` seconds of them, a hop and
:data:`LOOKAHEAD`) or, between utterances, the last ``lead`` seconds and the frames not yet decided.
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from ..backend import Model
from ..config import ModelConfig
from ..errors import ArgumentError, BackendError, VideoError
from ..video.mouth import Box, MouthLocator, Warp
from ..video.preprocess import default_locator, mouth_crops, normalise
from .segmenter import Segmenter, Span

__all__ = ["FPS", "HOP_RANGE", "MAX_SECONDS", "LiveSettings", "Reader", "Segment", "read_stream"]

FPS = 25.0
"""The frame rate :func:`read_stream` takes (the models' rate); segment times are frames divided by it."""

SPEECH_BELOW = 0.5
"""A frame is speech when the window's posterior of blank is below this (some character is likelier)."""

LOOKAHEAD = 5
"""Frames after a frame that the window must hold before the frame is decided: the model reads the last frames
of a window, which have nothing after them, less surely."""


MAX_SECONDS = 60.0
"""The longest any :class:`LiveSettings` time may be: the frames of an utterance are kept while it lasts."""
HOP_RANGE = (8, 50)
"""The frames a :class:`LiveSettings` hop may be, fewest and most."""


@dataclass(frozen=True)
class LiveSettings:
    """How a stream is cut into utterances (all times in seconds of the stream).

    Attributes:
        pause: time without speech (or without a face) that ends an utterance. Pauses between the words of
            one sentence are shorter; between sentences, longer. On 200 sentences of GRID speaker 1 played as
            one stream, the 68-epoch model shipped two before today's split or lost none with a pause of 0.16 s or
            0.2 s (nor does today's at 0.2 s), lost 2 at 0.12 s and 12 at 0.08 s; the default keeps two
            frames of margin over 0.12 s. The utterance's text comes no sooner than ``pause`` and 0.2 s
            (:data:`LOOKAHEAD`) after its end.
        longest: the longest utterance; one that reaches it ends there, and speech that goes on starts the
            next. Also bounds memory: the frames of the utterance in progress are kept. Each time here is at
            most :data:`MAX_SECONDS`.
        hop: frames (at 25 fps) between two runs of the model over the latest window; smaller reacts sooner
            and costs more (the model reads ``75 / hop`` times every frame).
        context: time kept after an utterance when it is read (silence the model expects after a sentence).
            When it is longer than ``pause`` and :data:`LOOKAHEAD`, an utterance waits for it after its end and
            is read again, so it also sets how soon the text comes. On the same 200 sentences, 0.32 s (on both
            sides, as it was then) read 187 of them as each clip alone reads, 0.5 s 182 (with the same pause).
        min_confidence: utterances read with a lower confidence are dropped: a twitch of the lips read as
            speech gives a sentence of near-zero confidence (a constrained decoder always finds one).
        lead: time kept before an utterance when it is read (never into the utterance before it). These frames
            have come already, so it costs no waiting. The model reads a sentence more as it reads the clip
            alone the nearer the silence around it is to a clip's (GRID's: about 0.6 s before, 1 s after): on
            two sets of 200 sentences of speaker 1, 0.48 s read 195 and 192 as the clips alone, 0.32 s 190 and
            189 (with ``context`` 0.32 s).
    """

    pause: float = 0.2
    longest: float = 10.0
    hop: int = 25
    context: float = 0.32
    min_confidence: float = 0.1
    lead: float = 0.48

    def __post_init__(self) -> None:
        for name in ("pause", "longest", "context", "min_confidence", "lead"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ArgumentError(f"live setting {name} must be a finite number, not {value!r}")
        times = (self.pause, self.longest, self.context, self.lead)
        if (
            self.pause < 1 / FPS
            or self.longest < 1 / FPS
            or min(self.context, self.lead) < 0
            or max(times) > MAX_SECONDS
            or not 0 <= self.min_confidence <= 1
        ):
            raise ArgumentError(
                f"live settings: pause ({self.pause:g} s) and longest ({self.longest:g} s) must be at least one "
                f"frame ({1 / FPS:g} s), context ({self.context:g} s) and lead ({self.lead:g} s) not negative, "
                f"none of them over {MAX_SECONDS:g} s, min_confidence ({self.min_confidence:g}) from 0 to 1"
            )
        hop = self.hop
        if isinstance(hop, bool) or not isinstance(hop, numbers.Integral) or not HOP_RANGE[0] <= hop <= HOP_RANGE[1]:
            raise ArgumentError(
                f"live setting hop must be a whole number of frames from {HOP_RANGE[0]} to {HOP_RANGE[1]}, not {hop!r}"
            )
        object.__setattr__(self, "hop", int(hop))  # a NumPy integer is a number too


class Reader(Protocol):
    """What :func:`read_stream` needs of a :class:`~lipread.api.Transcriber`."""

    config: ModelConfig
    locator: MouthLocator | None
    model: Model

    def prepare(self, item: Any, fps: float | None = None, *, start: float = 0.0) -> Any:
        """Frames made ready for the model: a dataclass with the model input ``frames`` (``float32 (T, H, W, C)``)
        or, for a clip too long for one run, None there and its ``logprobs`` (``float32 (T, V)``, read in windows).
        ``start``: the first frame's time in the stream, in seconds, for the times its notes give."""

    def run(self, clips: Sequence[Any]) -> list[Any]:
        """Transcript-like objects (``text``, ``confidence``, ``words``, ``to_dict()``) of prepared clips; a clip
        whose ``frames`` are None is decoded from its ``logprobs``."""


@dataclass(frozen=True)
class Segment:
    """One utterance of a stream, final once yielded.

    Attributes:
        start: seconds from the stream's start to its first word's start (25 fps frames:
            frame ``k`` covers ``[k / 25, (k + 1) / 25)``).
        end: seconds from the stream's start to its last word's end.
        text: the sentence (words separated by single spaces; never empty).
        words: the words (:class:`lipread.api.Word`), timed in seconds of the stream.
        confidence: the sentence's confidence in [0, 1], as :attr:`lipread.api.Transcript.confidence`.
        details: the utterance's transcript as :meth:`lipread.api.Transcript.to_dict` gives it (``backend``,
            ``model``, ``decoder`` and whatever else it carries), without its ``path``.
    """

    start: float
    end: float
    text: str
    words: tuple[Any, ...]
    confidence: float
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``start``, ``end``, ``text``, ``words``, ``confidence``, then ``details``."""
        return {
            **self.details,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "words": [w.to_dict() for w in self.words],
            "confidence": round(self.confidence, 4),
        }


@dataclass(frozen=True)
class _Region:
    """A locator that returns a region found before (one hop's), so its frames are cropped alike."""

    region: Box | Warp
    name: str = "live"

    def locate(self, frames: np.ndarray, source: str = "<frames>") -> Box | Warp:
        return self.region


def read_stream(
    reader: Reader, frames: Iterable[np.ndarray], settings: LiveSettings | None = None, source: str = "<frames>"
) -> Iterator[Segment]:
    """Segments of a stream of frames, each yielded as soon as it is final (see the module's description).

    Args:
        reader: the model, decoder and mouth locator (a :class:`~lipread.api.Transcriber`).
        frames: ``uint8 (H, W, 3)`` RGB frames at 25 fps, consumed one at a time. When their size changes
            (a camera switches mode), the utterance in progress ends there and reading goes on at the new size.
        settings: how utterances are found (default ``LiveSettings()``).
        source: the stream's name in errors.

    Raises:
        VideoError: a frame that is not ``uint8 (H, W, 3)``.
        BackendError: the model returns log-probabilities of the wrong shape.
    """
    state = _Stream(reader, settings or LiveSettings(), source)

    def segments() -> Iterator[Segment]:
        for frame in frames:
            yield from state.push(frame)
        yield from state.flush()

    said = 0.0  # the end of the last segment given out
    for segment in segments():
        segment = _after(segment, said)
        said = segment.end
        yield segment


def _after(segment: Segment, said: float) -> Segment:
    """``segment`` with no word before ``said`` seconds. An utterance's clip never reaches into the speech
    before it, but the best alignment may put a word's first frames in the context that the utterance before
    was read with; those frames are the earlier segment's, so the word starts where it ended."""
    if segment.start >= said:
        return segment
    words = tuple(
        replace(w, start=max(w.start, said), end=max(w.end, said)) if w.start < said else w for w in segment.words
    )
    return replace(segment, start=words[0].start, end=max(segment.end, words[0].start), words=words)


@dataclass
class _Ended:
    """An utterance that has ended and waits for the frames after it (its context) before it is read."""

    span: Span
    floor: int
    """The first frame its clip may include (the end of the utterance before it)."""
    after: int | None = None
    """The first speech frame after it, once seen: its clip stops there."""
    read: bool = False
    """Whether it has been read already, by the run of the model that saw it end (then ``segment`` is it)."""
    segment: Segment | None = None


@dataclass(frozen=True)
class _Clip:
    """The utterance in progress read as a clip of its own, from ``start`` to the newest frame (see
    :meth:`_Stream.read_through`)."""

    start: int
    """Its first frame (a stream index)."""
    utterance: int
    """The utterance's first speech frame."""
    prepared: Any
    """What the reader's ``prepare`` made of its frames."""
    logprobs: np.ndarray
    """The model's ``float32 (T, V)`` over it."""


class _Stream:
    """The state of one :func:`read_stream`: buffers, the segmenter, and the frame count."""

    def __init__(self, reader: Reader, settings: LiveSettings, source: str) -> None:
        self.reader, self.settings, self.source = reader, settings, source
        cfg = reader.config
        self.locator = reader.locator or default_locator(cfg)
        self.segmenter = Segmenter(round(settings.pause * FPS), round(settings.longest * FPS))
        self.context = round(settings.context * FPS)
        self.lead = round(settings.lead * FPS)
        self.shortest = 1 + sum(block.kernel[0] - 1 for block in cfg.frontend)  # the convolutions' span
        # the window: the model's clip length, and never shorter than the frames it must decide at once
        self.crops: deque[np.ndarray | None] = deque(maxlen=max(cfg.frames, settings.hop + LOOKAHEAD + 1))
        self.pending: list[np.ndarray] = []
        self.history: deque[np.ndarray] = deque()
        self.first = 0
        """The stream index of ``history[0]``."""
        self.floor = 0
        """The end of the last utterance: the next one's clip starts no sooner."""
        self.ended: deque[_Ended] = deque()
        self.count = 0
        self.decided = 0
        """Frames whose decisions the segmenter has had (the last :data:`LOOKAHEAD` frames wait for more)."""
        self.due = -1
        """The frame count at which the model runs without waiting for a full hop: when the utterance in
        progress has been silent for ``pause`` frames, or an ended one has its ``context`` frames after it."""
        self.shape: tuple[int, ...] | None = None
        self.provisional = np.zeros(0, bool)
        """``bool``: the last window's speech decisions of the frames after ``decided`` (not final yet)."""

    def push(self, frame: Any) -> Iterator[Segment]:
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise VideoError(f"{self.source}: frame {self.count}: expected uint8 RGB of shape (H, W, 3), got {got}")
        if frame.shape != self.shape:
            yield from self.flush()
            self.shape = frame.shape
        self.history.append(frame)
        self.pending.append(frame)
        self.count += 1
        if len(self.pending) == self.settings.hop or self.count == self.due:
            yield from self.hop()

    def flush(self) -> Iterator[Segment]:
        """Read the frames not yet read, end the utterance in progress, read what has ended, start afresh."""
        if self.decided < self.count:
            yield from self.hop(final=True)
        span = self.segmenter.cut()
        if span is not None:
            self.ended.append(_Ended(span, self.floor))
        yield from self.read_ended(final=True)
        self.history.clear()
        self.crops.clear()
        self.first = self.floor = self.decided = self.count

    def hop(self, final: bool = False) -> Iterator[Segment]:
        """Run the model over the window ending with the pending frames (over the utterance in progress, when
        it may end here: :meth:`read_through`) and pass the decisions of the frames with :data:`LOOKAHEAD`
        frames after them (of all, when ``final``) on."""
        if self.pending:
            frames = np.stack(self.pending)
            self.pending.clear()
            try:
                region = self.locator.locate(frames, self.source)
                self.crops.extend(mouth_crops(frames, self.reader.config, _Region(region), self.source))
            except VideoError:  # no face in these frames: they read as silence
                self.crops.extend([None] * len(frames))
        upto = self.count if final else max(self.decided, self.count - LOOKAHEAD)
        seg, new = self.segmenter, self.count - self.decided
        clip = None
        end = seg.last + seg.pause + 1 + LOOKAHEAD  # the utterance in progress ends here unless these frames speak
        if not final and seg.start is not None and self.count == end and seg.last + 1 + self.context <= end:
            clip = self.read_through(seg.start)
        speech = self.speech(new) if clip is None else self.clip_speech(clip, new)
        decisions, self.provisional = speech[: upto - self.decided], speech[upto - self.decided :]
        first, self.decided = self.decided, upto
        for t, said in enumerate(decisions.tolist(), first):
            if said:
                for ended in self.ended:
                    ended.after = t if ended.after is None else ended.after
            span = self.segmenter.push(said)
            if span is not None:
                ended = _Ended(span, self.floor)
                if clip is not None and span.start == clip.utterance and not speech[max(0, span.stop - first) :].any():
                    # it ended in the clip just read, and nothing after it is speech: that reading is its own
                    ended.read, ended.segment = True, self.clip_segment(clip)
                self.ended.append(ended)
                self.floor = span.stop
        yield from self.read_ended(final=False)
        due = [seg.last + seg.pause + 1 + LOOKAHEAD] if seg.start is not None else []
        due += [e.span.stop + self.context for e in self.ended if e.after is None and not e.read]
        self.due = min(due, default=-1)
        starts = [e.span.start for e in self.ended] + ([seg.start] if seg.start is not None else [])
        keep = min(starts, default=self.decided) - self.lead  # undecided frames may start one
        while self.history and self.first < keep:
            self.history.popleft()
            self.first += 1

    def read_ended(self, final: bool) -> Iterator[Segment]:
        """Read the ended utterances whose context has come (all of them when ``final``)."""
        while self.ended:
            ended = self.ended[0]
            if ended.read:
                self.ended.popleft()
                if ended.segment is not None:
                    yield ended.segment
                continue
            stop = ended.span.stop + self.context
            if ended.after is not None:
                stop = min(stop, ended.after)
            if not final and self.decided < stop:
                if self.count < stop:
                    return  # its context has not come yet
                # the context has come but is not decided yet: it ends where the last window hears speech
                ahead = np.flatnonzero(self.provisional[: stop - self.decided])
                stop = self.decided + int(ahead[0]) if ahead.size else stop
            self.ended.popleft()
            segment = self.segment(max(ended.span.start - self.lead, ended.floor), min(stop, self.count))
            if segment is not None:
                yield segment

    def speech(self, new: int) -> np.ndarray:
        """``bool (new,)``: which of the newest ``new`` frames are speech, by the model over the window."""
        crops = list(self.crops)
        valid = np.array([c is not None for c in crops])
        if valid.sum() < self.shortest:
            return np.zeros(new, bool)
        cfg = self.reader.config
        x = np.zeros((len(crops), cfg.height, cfg.width, cfg.channels), np.float32)
        x[valid] = normalise(np.stack([c for c in crops if c is not None]))
        return self.heard(self.logprobs(x)[-new:], valid[-new:])

    def clip_speech(self, clip: _Clip, new: int) -> np.ndarray:
        """``bool (new,)``: which of the newest ``new`` frames are speech, by the model over ``clip``."""
        return self.heard(clip.logprobs[-new:], np.array([c is not None for c in self.crops])[-new:])

    @staticmethod
    def heard(logprobs: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """``bool (T,)``: speech where the blank's posterior in ``float32 (T, V)`` is below :data:`SPEECH_BELOW`
        and ``valid`` (a face was found)."""
        with np.errstate(invalid="ignore"):
            return (np.exp(logprobs[:, 0]) < SPEECH_BELOW) & valid

    def logprobs(self, x: np.ndarray) -> np.ndarray:
        """The model's ``float32 (T, V)`` log-probabilities for one clip of input ``float32 (T, H, W, C)``."""
        cfg = self.reader.config
        lp = np.asarray(self.reader.model.logprobs(x[None], np.array([len(x)], np.int32)))
        if lp.shape != (1, len(x), cfg.num_classes):
            raise BackendError(
                f"the model returned log-probabilities of shape {lp.shape} for input {(1, *x.shape)}; "
                f"expected (1, {len(x)}, {cfg.num_classes})"
            )
        return lp[0]

    def read_through(self, start: int) -> _Clip | None:
        """The utterance in progress (first speech frame ``start``), read from ``lead`` before it up to the
        newest frame as :meth:`Transcriber.prepare <lipread.transcription.transcriber.Transcriber.prepare>`
        prepares a clip; None when it cannot be read (no mouth found)."""
        lo = max(start - self.lead, self.floor, self.first)
        frames = list(self.history)[lo - self.first :]
        if len(frames) < self.shortest:
            return None
        try:
            prepared = self.reader.prepare(np.stack(frames), FPS, start=lo / FPS)
        except VideoError:
            return None
        # a long clip comes back already read, in windows (as transcribe reads it)
        logprobs = self.logprobs(prepared.frames) if prepared.frames is not None else prepared.logprobs
        if logprobs is None or len(logprobs) != len(frames):
            return None
        return _Clip(lo, start, prepared, np.asarray(logprobs))

    def clip_segment(self, clip: _Clip) -> Segment | None:
        """The segment of a clip read by :meth:`read_through`, decoded from the log-probabilities at hand."""
        (transcript,) = self.reader.run([replace(clip.prepared, frames=None, logprobs=clip.logprobs)])
        return self.to_segment(transcript, clip.start)

    def segment(self, lo: int, hi: int) -> Segment | None:
        """Read an utterance from its frames ``lo`` to ``hi`` (stream indices) as a clip of its own; None when
        it reads as no words or cannot be read."""
        lo = max(lo, self.first)
        clip = list(self.history)[lo - self.first : hi - self.first]
        if len(clip) < self.shortest:
            return None
        try:
            prepared = self.reader.prepare(np.stack(clip), FPS, start=lo / FPS)
        except VideoError:  # no mouth in the utterance's clip: nothing to read
            return None
        (transcript,) = self.reader.run([prepared])
        return self.to_segment(transcript, lo)

    def to_segment(self, transcript: Any, lo: int) -> Segment | None:
        """The segment of a clip's transcript (its first frame ``lo``); None for no words or a low confidence."""
        if not transcript.text or transcript.confidence < self.settings.min_confidence:
            return None
        offset = lo / FPS
        words = tuple(replace(w, start=w.start + offset, end=w.end + offset) for w in transcript.words)
        details = {k: v for k, v in transcript.to_dict().items() if k not in ("path", "text", "words", "confidence")}
        return Segment(words[0].start, words[-1].end, transcript.text, words, transcript.confidence, details)
