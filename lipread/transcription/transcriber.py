"""Running a model over clips: :class:`Transcriber` holds a loaded model and a decoder and turns clips (video
files or frames arrays) into :class:`Transcript` objects, in batches. :func:`lipread.api.transcribe` makes one
per call; its documentation describes what happens to a clip (frame rate, length, long clips in windows).
"""

from __future__ import annotations

import math
import numbers
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Union

import numpy as np

from ..backend import Model
from ..config import DEFAULT_BATCH_SIZE
from ..decoding.decoders import DEFAULT_BEAM_WIDTH, make_decoder, sentence_confidence, timed_words
from ..decoding.hypothesis import Hypothesis
from ..errors import ArgumentError, BackendError, DecodingError, LipreadError, VideoError
from ..live.stream import LiveSettings, Segment, read_stream
from ..models import DEFAULT_MODEL
from ..video.fitting import FrameBuffer, fit_frames, work_pixels
from ..video.mouth import MouthLocator
from ..video.notices import ClipWatch, trained_on_grey
from ..video.preprocess import decodes_grey, default_locator, preprocess
from .domain import DomainStats, calibrate_confidence, summarise
from .frames import (
    DEFAULT_FPS,
    LONG_CLIP_FRAMES,
    MODEL_FPS,
    SOURCE_FPS_RANGE,
    min_frames,
    resample,
    windowed_logprobs,
)
from .loading import _cached_model
from .pipeline import resolve_workers, transcribe_stream

__all__ = ["PreparedClip", "Transcriber", "Transcript", "Word"]

SourceItem = Union[str, bytes, "os.PathLike[str]", np.ndarray]
ModelSpec = Union[str, "os.PathLike[str]", Model]


@dataclass(frozen=True)
class Word:
    """A recognised word: ``start`` and ``end`` in seconds from the clip's start, ``confidence`` in [0, 1]."""

    word: str
    start: float
    end: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """``{"word", "start", "end", "confidence"}``, times rounded to the millisecond."""
        return {
            "word": self.word,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "confidence": round(self.confidence, 4),
        }


@dataclass(frozen=True)
class Transcript:
    """What :func:`~lipread.api.transcribe` read from one clip.

    Attributes:
        text: the sentence (lower case, words separated by single spaces; empty when nothing was read).
        confidence: ``exp(score / frames)``, the per-frame geometric mean of the probability the model
            gives this text (greedy decoding: its best path), in [0, 1].
        words: the words with times (see :mod:`lipread.api`) and confidences (mean, over the word's characters,
            of the model's highest probability of that character within its frames; mapped to the chance that
            the word is right when the model's metadata carries a calibration for the decoder, as the shipped
            model's does for grammar, its default: :func:`lipread.transcription.domain.calibrate_confidence`).
        backend: the backend that ran the model (``"onnx"``, ``"torch"``, ``"tensorflow"``).
        model: the model's shipped name, the path it was loaded from, or its config name.
        path: the video file, or None for a frames array.
        decoder: the decoder that read the text (a name of :data:`lipread.decoding.decoders.DECODERS`).
        warnings: what lipread noticed that may make the text wrong, one sentence each, starting with what
            it is: ``frames without a face``, ``colour missing``, ``frame rate resampled``, ``clip cut short``
            (:mod:`lipread.video.notices`, :func:`lipread.video.reader.iter_frames`). Empty when all was well.
        domain_score: how much the clip looks like the model's training clips, in [0, 1] (near 0: unlike them);
            None for a model whose metadata has no training statistics (:mod:`lipread.transcription.domain`).
        in_domain: False when the clip looks unlike the training clips, so that the text is probably wrong;
            None with ``domain_score``.
    """

    text: str
    confidence: float
    words: tuple[Word, ...]
    backend: str
    model: str
    path: str | None = None
    decoder: str = "beam"
    warnings: tuple[str, ...] = ()
    domain_score: float | None = None
    in_domain: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``path``, ``text``, ``confidence``, ``words``, ``backend``, ``model``, ``decoder``,
        ``warnings`` (a list of sentences, empty when all was well), ``domain_score``, ``in_domain`` (null when
        the model carries no training statistics)."""
        return {
            "path": self.path,
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "words": [w.to_dict() for w in self.words],
            "backend": self.backend,
            "model": self.model,
            "decoder": self.decoder,
            "warnings": list(self.warnings),
            "domain_score": None if self.domain_score is None else round(self.domain_score, 4),
            "in_domain": self.in_domain,
        }


@dataclass(frozen=True)
class PreparedClip:
    """One clip ready for decoding.

    Attributes:
        frames: model input ``float32 (T, H, W, C)`` of a short clip; None for a long one.
        fps: the frame rate of ``frames`` / ``logprobs`` (:data:`MODEL_FPS`).
        path: the video file, or None for a frames array.
        logprobs: a long clip, already run through the model in windows: ``float32 (T, V)``; else None.
        notes: what was noticed while the clip was read (the transcript's ``warnings``).
    """

    frames: np.ndarray | None
    fps: float
    path: str | None
    logprobs: np.ndarray | None = None
    notes: tuple[str, ...] = ()


class Transcriber:
    """A loaded model and decoder that transcribe clips in batches; :func:`~lipread.api.transcribe` uses one.

    Args:
        model: a shipped model name, a checkpoint or ``.onnx`` path, or an already loaded
            :class:`~lipread.backend.Model`.
        backend: see :func:`~lipread.api.load_model` (ignored for a loaded model).
        decoder: ``"greedy"``, ``"beam"``, ``"lexicon"`` or ``"grammar"`` (see :mod:`lipread.decoding.decoders`);
            None: ``"lexicon"`` when a ``lexicon`` is given, else the decoder the model's metadata names
            (:attr:`ModelConfig.decoder <lipread.config.ModelConfig.decoder>`), else ``"beam"``.
        beam_width: prefixes kept per frame by the beam decoders.
        lexicon: the words of the ``"lexicon"`` decoder, or a word-list file's ``Path`` (default the words the
            model was trained on, which it stores (:attr:`ModelConfig.words <lipread.config.ModelConfig.words>`),
            else the GRID words). A word list asks for that decoder, as ``lipread transcribe --lexicon`` does;
            with another ``decoder`` it is refused (ArgumentError).
        locator: where the mouth is; the model's default locator when None.
        batch_size: clips (or windows of a long clip) per forward pass. On a CPU a clip costs the same in any
            batch, and every clip of a batch adds about 80 MB (the shipped model, 75 frames) to the peak memory.
        workers: threads preparing the clips of a list while the model runs (0: one per core; see
            :mod:`lipread.transcription.pipeline`).
        opts: passed to the backend's ``load`` (e.g. ``threads=2`` for onnx).
    """

    def __init__(
        self,
        model: ModelSpec = DEFAULT_MODEL,
        backend: str | None = None,
        decoder: str | None = None,
        beam_width: int = DEFAULT_BEAM_WIDTH,
        lexicon: Iterable[str] | os.PathLike[str] | None = None,
        locator: MouthLocator | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        workers: int = 0,
        **opts: Any,
    ) -> None:
        self.workers = resolve_workers(workers)
        size = int(batch_size) if isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool) else 0
        if size < 1:  # a NumPy integer is a whole number too
            raise ArgumentError(f"batch_size must be a positive integer, not {batch_size!r}")
        if locator is not None and (isinstance(locator, type) or not isinstance(locator, MouthLocator)):
            raise ArgumentError(
                f"locator must be a mouth locator such as FixedCrop(box) or FaceMouthLocator(), "
                f"not {_described(locator)}"
            )
        if model is None:  # an unset option passed through
            model = DEFAULT_MODEL
        if isinstance(model, (str, os.PathLike)):
            self.model = _cached_model(model, backend, opts)
            self.model_name = os.fspath(model)
        elif isinstance(model, Model):
            self.model = model
            self.model_name = model.config.name
        else:
            raise ArgumentError(
                f"model must be a shipped model name, a model file's path or a loaded model, not {type(model).__name__}"
            )
        self.config = self.model.config
        if lexicon is not None and decoder not in (None, "lexicon"):
            raise ArgumentError(f"a lexicon is only used by the lexicon decoder, not by decoder={decoder!r}")
        if lexicon is not None:
            name = "lexicon"  # a word list asks for the decoder that uses it
        else:
            name = decoder if decoder is not None else self.config.decoder or "beam"  # "" is no decoder name
        words = lexicon if lexicon is not None else self.config.words
        self.decoder = make_decoder(name, self.config.vocabulary, beam_width, words)
        self.domain = DomainStats.of_model(self.model)  # None: the model carries no training statistics
        self.locator = locator
        self.batch_size = size
        self._model_lock = threading.Lock()  # one forward pass at a time: workers run long clips' windows too

    @property
    def backend(self) -> str:
        """The name of the backend running the model."""
        return str(self.model.backend)

    def prepare(self, item: SourceItem, fps: float | None = None, *, start: float = 0.0) -> PreparedClip:
        """Decode (for a path), resample to :data:`MODEL_FPS` and preprocess one clip.

        A clip of more than :data:`LONG_CLIP_FRAMES` frames is run through the model here, in windows
        (see :mod:`lipread.api`), and comes back as log-probabilities.

        Args:
            item: a video file, or frames ``uint8 (T, H, W, 3)`` RGB. A grey model with a fixed mouth box reads
                a file's luma plane (see :func:`lipread.video.preprocess.decodes_grey`), and grey from RGB frames.
            fps: the source's frame rate; default the file's own, or :data:`DEFAULT_FPS` for frames.
            start: where the clip was cut from a longer stream, the time of its first frame in seconds: the
                times its notes give (frames without a face) count from the stream's start.

        Raises:
            ArgumentError: ``fps`` or ``start`` is not a number it can be.
            VideoError: unreadable or truncated video, frames of the wrong shape or type, a clip too short
                to read, mouth not found.
        """
        fps = _checked_fps(fps)
        if isinstance(start, bool) or not isinstance(start, numbers.Real) or not math.isfinite(start) or start < 0:
            raise ArgumentError(f"start must be a time in seconds, 0 or more, not {start!r}")
        if isinstance(item, bytes):
            item = os.fsdecode(item)
        locator = self.locator or default_locator(self.config)
        notes: list[str] = []  # filled by the reader as it goes: a clip cut short, a rate the file does not state
        if not isinstance(item, (np.ndarray, str, os.PathLike)) and hasattr(item, "__array__"):
            try:
                item = np.asarray(item)  # a tensor of a framework, on the CPU
            except (TypeError, ValueError, RuntimeError) as e:  # e.g. a tensor on a GPU
                raise VideoError(f"{_described(item)}: cannot be read as a NumPy array: {e}") from None
        if isinstance(item, np.ndarray):
            source, path = "<frames>", None
            if item.ndim == 4 and len(item) == 0:
                raise VideoError(f"{source}: no frames (an array of shape {item.shape})")
            if item.ndim != 4 or item.shape[-1] != 3 or item.dtype != np.uint8 or item.size == 0:
                one_frame = item.ndim == 3 and item.shape[-1] == 3  # a colour frame where a clip was due
                hint = "; a list is read as a list of clips: np.stack its frames into one array" * one_frame
                raise VideoError(
                    f"{source}: expected uint8 frames of shape (T, H, W, 3), got {item.dtype} {item.shape}{hint}"
                )
            stream: Iterator[np.ndarray] = iter(item)
            rate = fps or DEFAULT_FPS
        elif isinstance(item, (str, os.PathLike)):
            from ..video.access import usable_path
            from ..video.reader import iter_frames

            source = path = usable_path(item)
            grey = decodes_grey(self.config, locator)
            stated: list[float] = []  # the file's own rate, read by the capture that decodes it (a folder: none)
            pixels = work_pixels(locator)
            stream = iter_frames(path, grey=grey, max_pixels=pixels, notes=notes, rate=None if fps else stated)
            stream = chain([next(stream)], stream)  # an unreadable file fails here, before its rate is read
            rate = fps or (stated[0] if stated else DEFAULT_FPS)
        else:
            hint = "; give a clip's frames as one NumPy array" * isinstance(item, (list, tuple))
            raise VideoError(f"{_described(item)}: expected a video path or a uint8 (T, H, W, 3) frames array{hint}")
        low, high = SOURCE_FPS_RANGE
        if not low <= rate <= high:
            raise VideoError(
                f"{source}: a frame rate of {rate:g} fps is outside the {low:g} to {high:g} fps lipread reads"
            )
        stream, locator = fit_frames(stream, locator, source)  # each frame cut down to what the mouth needs
        # The watch sees each frame right before the mouth locator gets it, and its locator shares the face
        # detections of both, so that no frame is searched for a face twice.
        watch = ClipWatch(self.config, locator, rate, MODEL_FPS, trained_on_grey(self.model), start)
        decoded = 0

        def counted(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
            nonlocal decoded
            for frame in frames:
                decoded += 1
                yield frame

        frames = resample(counted(stream), rate)
        limit = max(LONG_CLIP_FRAMES, 2 * self.config.frames)
        head = FrameBuffer(limit + 1, source)  # one array, so the clip is never held twice
        for frame in frames:
            head.append(frame)
            if len(head) > limit:
                watched = watch.watch(chain(head.drain(), frames))
                lp = windowed_logprobs(watched, self.config, self._logprobs, watch.locator, self.batch_size, source)
                return PreparedClip(None, MODEL_FPS, path, lp, (*notes, *watch.notes()))
        need = min_frames(self.config)
        if len(head) < need:
            raise VideoError(
                f"{source}: too short to read: {decoded} frame{'s' if decoded != 1 else ''} at {rate:g} fps "
                f"({decoded / rate:.2f} s); the model needs at least {need / MODEL_FPS:.2f} s "
                f"({need} frames at {MODEL_FPS:g} fps)" + "".join(f"; {note}" for note in notes)
            )
        for _ in watch.watch(head.frames()):  # the warnings' look at each frame, before the locator's
            pass
        clip = preprocess(head.frames(), self.config, watch.locator, source)
        return PreparedClip(clip, MODEL_FPS, path, notes=(*notes, *watch.notes()))

    def _logprobs(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The model's ``float32 (B, T, V)`` log-probabilities for input ``x`` with ``lengths``, shape-checked."""
        cfg = self.config
        with self._model_lock:
            lp = np.asarray(self.model.logprobs(x, lengths))
        if lp.shape[:2] != x.shape[:2] or lp.shape[2] != cfg.num_classes:
            raise BackendError(
                f"backend {self.backend!r} returned log-probabilities of shape {lp.shape} for input "
                f"{x.shape}; expected ({x.shape[0]}, {x.shape[1]}, {cfg.num_classes})"
            )
        return lp

    def run(self, clips: Sequence[PreparedClip]) -> list[Transcript]:
        """Transcribe prepared clips, ``batch_size`` at a time (zero-padded to the longest, with lengths).

        Long clips (whose ``logprobs`` are already computed) are decoded on their own.
        """
        out: dict[int, Transcript] = {}
        cfg = self.config
        short = [(i, c.frames) for i, c in enumerate(clips) if c.frames is not None]
        for i in range(0, len(short), self.batch_size):
            chunk = short[i : i + self.batch_size]
            lengths = np.array([f.shape[0] for _, f in chunk], dtype=np.int32)
            x = np.zeros((len(chunk), int(lengths.max()), cfg.height, cfg.width, cfg.channels), np.float32)
            for b, (_, f) in enumerate(chunk):
                x[b, : lengths[b]] = f
            lp = self._logprobs(x, lengths)
            for (j, _), row, n in zip(chunk, lp, lengths.tolist()):
                self._check_finite(clips[j], row[:n])
            for (j, _), hyp, row, n in zip(chunk, self.decoder.decode_batch(lp, lengths), lp, lengths.tolist()):
                out[j] = self._transcript(clips[j], hyp, row[:n])
        for j, c in enumerate(clips):
            if c.logprobs is not None:
                self._check_finite(c, c.logprobs)
                hyp = self.decoder.decode_batch(c.logprobs[None], [c.logprobs.shape[0]])[0]
                out[j] = self._transcript(c, hyp, c.logprobs)
        return [out[j] for j in range(len(clips))]

    def _check_finite(self, clip: PreparedClip, logprobs: np.ndarray) -> None:
        """DecodingError naming the clip and the model when the model gave NaN or +inf log-probabilities."""
        if np.isnan(logprobs).any() or np.isposinf(logprobs).any():
            raise DecodingError(
                f"{clip.path or '<frames>'}: model {self.model_name!r} gave log-probabilities containing NaN or +inf"
            )

    def _transcript(self, clip: PreparedClip, hyp: Hypothesis, logprobs: np.ndarray) -> Transcript:
        calibration = self.domain.calibration(self.decoder.name) if self.domain is not None else None
        words = tuple(
            Word(
                w.word,
                w.first_frame / clip.fps,
                (w.last_frame + 1) / clip.fps,
                calibrate_confidence(w.confidence, calibration),
            )
            for w in timed_words(hyp, logprobs, self.config.vocabulary)
        )
        text = " ".join(w.word for w in words)
        notes = clip.notes
        confidence = sentence_confidence(hyp, logprobs.shape[0])
        score, ok = self.domain.judge(summarise(clip.frames, logprobs)) if self.domain is not None else (None, None)
        return Transcript(
            text,
            confidence,
            words,
            self.backend,
            self.model_name,
            clip.path,
            self.decoder.name,
            notes,
            domain_score=score,
            in_domain=ok,
        )

    def transcribe(
        self, source: SourceItem | Sequence[SourceItem], fps: float | None = None
    ) -> Transcript | list[Transcript]:
        """:func:`~lipread.api.transcribe` with this model and decoder."""
        fps = _checked_fps(fps)  # before any clip of a list is read
        if isinstance(source, (str, bytes, os.PathLike, np.ndarray)):
            return self.run([self.prepare(source, fps)])[0]
        if hasattr(source, "__array__") and getattr(source, "ndim", None) == 4:  # one clip as a framework's tensor
            return self.run([self.prepare(source, fps)])[0]  # type: ignore[arg-type]  # prepare reads its array
        if not isinstance(source, Iterable) or isinstance(source, memoryview):
            raise VideoError(
                f"{_described(source)}: expected a video path or a uint8 (T, H, W, 3) frames array, or a list of them"
            )
        out = []
        for _, got in transcribe_stream(self, source, lambda item: self.prepare(item, fps), self.workers):
            if isinstance(got, LipreadError):
                raise got  # the first unreadable clip in input order, as when they were read one by one
            out.append(got)
        return out

    def stream(
        self,
        frames: Iterable[np.ndarray],
        fps: float | None = None,
        settings: LiveSettings | None = None,
        name: str = "<frames>",
    ) -> Iterator[Segment]:
        """Read a live stream utterance by utterance, yielding each :class:`~lipread.live.stream.Segment` as soon
        as it is final (how utterances are found and read: :mod:`lipread.live.stream`).

        Args:
            frames: ``uint8 (H, W, 3)`` RGB frames (a camera's, a decoder's), consumed one at a time.
            fps: their frame rate (default :data:`DEFAULT_FPS`); they are resampled to :data:`MODEL_FPS`.
            settings: how utterances are found (:class:`~lipread.live.stream.LiveSettings`; default its defaults).
            name: what errors call the stream (a file's path, a camera's); default ``"<frames>"``.
        """
        if settings is not None and not isinstance(settings, LiveSettings):
            raise ArgumentError(
                f"settings must be a LiveSettings, not {type(settings).__name__} (e.g. LiveSettings(pause=0.5))"
            )
        if isinstance(frames, (str, bytes, os.PathLike)) or not isinstance(frames, Iterable):
            raise ArgumentError(
                f"frames must be an iterable of uint8 (H, W, 3) frames, not {_described(frames)}; for a video file or "
                "a camera, give lipread.live.source.open_source(...).frames() (as lipread live does)"
            )
        checked = _checked_fps(fps)
        rate, (low, high) = DEFAULT_FPS if checked is None else checked, SOURCE_FPS_RANGE
        if not low <= rate <= high:
            raise VideoError(
                f"{name}: a frame rate of {rate:g} fps is outside the {low:g} to {high:g} fps lipread reads"
            )
        return read_stream(self, resample(frames, rate), settings, name)


def _described(item: object) -> str:
    """``item`` named briefly for an error message: its type, and its shape or length where it has one (never
    its ``repr``, which for a list of frames runs to megabytes)."""
    shape = getattr(item, "shape", None)
    if shape is not None:
        return f"a {type(item).__name__} of shape {tuple(shape)}"
    if isinstance(item, Sequence) and not isinstance(item, (str, bytes)):
        return f"a {type(item).__name__} of {len(item)} items"
    return f"a {type(item).__name__}"


def _checked_fps(fps: Any) -> float | None:
    """``fps`` as a float, None as None.

    Raises:
        ArgumentError: not a positive, finite number (a bool is not one).
    """
    if fps is None:
        return None
    rate = float(fps) if isinstance(fps, numbers.Real) and not isinstance(fps, bool) else math.nan
    if not (math.isfinite(rate) and rate > 0):
        raise ArgumentError(f"fps must be a positive number of frames per second, not {fps!r}")
    return rate
