"""Running a model over clips: :class:`Transcriber` holds a loaded model and a decoder and turns clips (video
files or frames arrays) into :class:`Transcript` objects, in batches. :func:`lipread.api.transcribe` makes one
per call; its documentation describes what happens to a clip (frame rate, length, long clips in windows).
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..backend import Model
from ..decoding.decoders import DEFAULT_BEAM_WIDTH, make_decoder, sentence_confidence, timed_words
from ..decoding.hypothesis import Hypothesis
from ..errors import ArgumentError, BackendError, DecodingError, VideoError
from ..models import DEFAULT_MODEL
from ..video.mouth import MouthLocator
from ..video.preprocess import decodes_grey, preprocess
from .frames import (
    DEFAULT_FPS,
    LONG_CLIP_FRAMES,
    MODEL_FPS,
    SOURCE_FPS_RANGE,
    _drain,
    _stack,
    file_fps,
    min_frames,
    resample,
    windowed_logprobs,
)
from .loading import _cached_model

__all__ = ["PreparedClip", "Transcriber", "Transcript", "Word"]

SourceItem = Union[str, "os.PathLike[str]", np.ndarray]
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
            of the model's highest probability of that character within its frames).
        backend: the backend that ran the model (``"onnx"``, ``"torch"``, ``"tensorflow"``).
        model: the model's shipped name, the path it was loaded from, or its config name.
        path: the video file, or None for a frames array.
        decoder: the decoder that read the text (a name of :data:`lipread.decoding.decoders.DECODERS`).
    """

    text: str
    confidence: float
    words: tuple[Word, ...]
    backend: str
    model: str
    path: str | None = None
    decoder: str = "beam"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``path``, ``text``, ``confidence``, ``words``, ``backend``, ``model``, ``decoder``."""
        return {
            "path": self.path,
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "words": [w.to_dict() for w in self.words],
            "backend": self.backend,
            "model": self.model,
            "decoder": self.decoder,
        }


@dataclass(frozen=True)
class PreparedClip:
    """One clip ready for decoding.

    Attributes:
        frames: model input ``float32 (T, H, W, C)`` of a short clip; None for a long one.
        fps: the frame rate of ``frames`` / ``logprobs`` (:data:`MODEL_FPS`).
        path: the video file, or None for a frames array.
        logprobs: a long clip, already run through the model in windows: ``float32 (T, V)``; else None.
    """

    frames: np.ndarray | None
    fps: float
    path: str | None
    logprobs: np.ndarray | None = None


class Transcriber:
    """A loaded model and decoder that transcribe clips in batches; :func:`~lipread.api.transcribe` uses one.

    Args:
        model: a shipped model name, a checkpoint or ``.onnx`` path, or an already loaded
            :class:`~lipread.backend.Model`.
        backend: see :func:`~lipread.api.load_model` (ignored for a loaded model).
        decoder: ``"greedy"``, ``"beam"``, ``"lexicon"`` or ``"grammar"`` (see :mod:`lipread.decoding.decoders`);
            None: the decoder the model's metadata names (:attr:`ModelConfig.decoder
            <lipread.config.ModelConfig.decoder>`), else ``"beam"``.
        beam_width: prefixes kept per frame by the beam decoders.
        lexicon: the words of the ``"lexicon"`` decoder (default the GRID words).
        locator: where the mouth is; the model's default locator when None.
        batch_size: clips (or windows of a long clip) per forward pass.
        opts: passed to the backend's ``load`` (e.g. ``threads=2`` for onnx).
    """

    def __init__(
        self,
        model: ModelSpec = DEFAULT_MODEL,
        backend: str | None = None,
        decoder: str | None = None,
        beam_width: int = DEFAULT_BEAM_WIDTH,
        lexicon: Iterable[str] | None = None,
        locator: MouthLocator | None = None,
        batch_size: int = 8,
        **opts: Any,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ArgumentError(f"batch_size must be a positive integer, not {batch_size!r}")
        if isinstance(model, (str, os.PathLike)):
            self.model = _cached_model(model, backend, opts)
            self.model_name = os.fspath(model)
        else:
            self.model = model
            self.model_name = model.config.name
        self.config = self.model.config
        name = decoder or self.config.decoder or "beam"
        self.decoder = make_decoder(name, self.config.vocabulary, beam_width, lexicon)
        self.locator = locator
        self.batch_size = batch_size

    @property
    def backend(self) -> str:
        """The name of the backend running the model."""
        return str(self.model.backend)

    def prepare(self, item: SourceItem, fps: float | None = None) -> PreparedClip:
        """Decode (for a path), resample to :data:`MODEL_FPS` and preprocess one clip.

        A clip of more than :data:`LONG_CLIP_FRAMES` frames is run through the model here, in windows
        (see :mod:`lipread.api`), and comes back as log-probabilities.

        Args:
            item: a video file, or frames ``uint8 (T, H, W, 3)`` RGB. A grey model with a fixed mouth box reads
                a file's luma plane (see :func:`lipread.video.preprocess.decodes_grey`), and grey from RGB frames.
            fps: the source's frame rate; default the file's own, or :data:`DEFAULT_FPS` for frames.

        Raises:
            VideoError: unreadable or truncated video, frames of the wrong shape or type, a clip too short
                to read, mouth not found.
        """
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, not {fps!r}")
        if isinstance(item, np.ndarray):
            source, path = "<frames>", None
            if item.ndim != 4 or item.shape[-1] != 3 or item.dtype != np.uint8 or item.size == 0:
                raise VideoError(
                    f"{source}: expected uint8 frames of shape (T, H, W, 3), got {item.dtype} {item.shape}"
                )
            stream: Iterator[np.ndarray] = iter(item)
            rate = fps or DEFAULT_FPS
        elif isinstance(item, (str, os.PathLike)):
            from ..video.reader import iter_frames

            source = path = str(item)
            stream = iter_frames(path, grey=decodes_grey(self.config, self.locator))
            stream = chain([next(stream)], stream)  # an unreadable file fails here, before its rate is read
            rate = fps or file_fps(Path(path))
        else:
            raise VideoError(f"{item!r}: expected a video path or a uint8 (T, H, W, 3) frames array")
        low, high = SOURCE_FPS_RANGE
        if not low <= rate <= high:
            raise VideoError(
                f"{source}: a frame rate of {rate:g} fps is outside the {low:g} to {high:g} fps lipread reads"
            )
        decoded = 0

        def counted(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
            nonlocal decoded
            for frame in frames:
                decoded += 1
                yield frame

        frames = resample(counted(stream), rate)
        head: deque[np.ndarray] = deque()
        limit = max(LONG_CLIP_FRAMES, 2 * self.config.frames)
        for frame in frames:
            head.append(frame)
            if len(head) > limit:
                lp = windowed_logprobs(
                    chain(_drain(head), frames), self.config, self._logprobs, self.locator, self.batch_size, source
                )
                return PreparedClip(None, MODEL_FPS, path, lp)
        need = min_frames(self.config)
        if len(head) < need:
            raise VideoError(
                f"{source}: too short to read: {decoded} frame{'s' if decoded != 1 else ''} at {rate:g} fps "
                f"({decoded / rate:.2f} s); the model needs at least {need / MODEL_FPS:.2f} s "
                f"({need} frames at {MODEL_FPS:g} fps)"
            )
        clip = preprocess(_stack(head, source), self.config, self.locator, source)
        return PreparedClip(clip, MODEL_FPS, path)

    def _logprobs(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The model's ``float32 (B, T, V)`` log-probabilities for input ``x`` with ``lengths``, shape-checked."""
        cfg = self.config
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
        words = tuple(
            Word(w.word, w.first_frame / clip.fps, (w.last_frame + 1) / clip.fps, w.confidence)
            for w in timed_words(hyp, logprobs, self.config.vocabulary)
        )
        text = " ".join(w.word for w in words)
        confidence = sentence_confidence(hyp, logprobs.shape[0])
        return Transcript(text, confidence, words, self.backend, self.model_name, clip.path, self.decoder.name)

    def transcribe(
        self, source: SourceItem | Sequence[SourceItem], fps: float | None = None
    ) -> Transcript | list[Transcript]:
        """:func:`~lipread.api.transcribe` with this model and decoder."""
        if isinstance(source, (str, os.PathLike, np.ndarray)):
            return self.run([self.prepare(source, fps)])[0]
        return self.run([self.prepare(item, fps) for item in source])
