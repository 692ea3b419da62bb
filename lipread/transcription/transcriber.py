"""Running a model over clips: :class:`Transcriber` holds a loaded model and a decoder and turns clips (video
files or frames arrays) into :class:`Transcript` objects, in batches. :func:`lipread.api.transcribe` makes one
per call; its documentation describes what happens to a clip (frame rate, length, long clips in windows).
"""

from __future__ import annotations

import inspect
import math
import os
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, pairwise
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..backend import BUILTIN, Model, first_available, get_backend, resolve_backend_name
from ..config import ModelConfig
from ..decoding.decoders import DEFAULT_BEAM_WIDTH, make_decoder, sentence_confidence, timed_words
from ..decoding.hypothesis import Hypothesis
from ..errors import BackendError, CheckpointError, DecodingError, VideoError
from ..models import DEFAULT_MODEL, get_shipped, is_shipped
from ..video.mouth import MouthLocator
from ..video.preprocess import decodes_grey, mouth_crops, normalise, preprocess

__all__ = [
    "DEFAULT_FPS",
    "LONG_CLIP_FRAMES",
    "MODEL_FPS",
    "SOURCE_FPS_RANGE",
    "WINDOW_OVERLAP",
    "PreparedClip",
    "Transcriber",
    "Transcript",
    "Word",
    "load_model",
    "min_frames",
    "resample",
]

DEFAULT_FPS = 25.0
"""Frame rate assumed for frame arrays and for files that do not state theirs (GRID's rate)."""

MODEL_FPS = 25.0
"""The frame rate the models read; clips at other rates are resampled to it (see the module docs)."""

SOURCE_FPS_RANGE = (1.0, 1000.0)
"""The frame rates, in frames per second, of the clips lipread reads (slower clips are slide shows)."""

LONG_CLIP_FRAMES = 250
"""Clips of more frames than this (10 s at :data:`MODEL_FPS`) are read in windows (see the module docs)."""

WINDOW_OVERLAP = 25
"""Frames shared by consecutive windows of a long clip (1 s)."""

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
        words: the words with times (see the module docs) and confidences (mean, over the word's characters,
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


def _checkpoint_backend(path: Path, backend: str | None) -> str:
    if backend is None:
        try:
            return first_available(("torch", "tensorflow"))
        except BackendError:
            hint = " (only the onnx backend is installed)" if BUILTIN["onnx"].installed else ""
            raise BackendError(
                f"{path}: a checkpoint needs the torch or tensorflow backend{hint}: "
                'pip install "lipread[torch]" or "lipread[tf]", or pass an exported .onnx file instead'
            ) from None
    if backend == "onnx":
        raise BackendError(
            f"{path}: the onnx backend runs exported .onnx files, not checkpoints; export it with "
            "`lipread export` or use the torch or tensorflow backend"
        )
    return backend


def _resolve(model: str | os.PathLike[str], backend: str | None) -> tuple[Path, str]:
    """(file to load, backend name) for a shipped model name or a model file."""
    name = os.fspath(model)
    backend = resolve_backend_name(backend) if backend else None
    if is_shipped(name):
        shipped = get_shipped(name)
        if backend is None:
            installed = [b for b in ("onnx", "torch", "tensorflow") if BUILTIN[b].installed]
            if not installed:
                first_available()  # raises, naming the extras that add a backend
            usable = [b for b in installed if shipped.has("onnx" if b == "onnx" else "checkpoint")]
            backend = (usable or installed)[0]
        return shipped.file("onnx" if backend == "onnx" else "checkpoint"), backend
    path = Path(name)
    if not path.exists():
        get_shipped(name)  # raises: neither a shipped name nor a file
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a model file")
    if path.suffix.lower() == ".onnx":
        if backend not in (None, "onnx"):
            raise BackendError(f"{path}: an .onnx file runs on the onnx backend, not on {backend!r}")
        return path, "onnx"
    from ..weights import read_metadata

    read_metadata(path)  # a CheckpointError now beats a backend error later
    return path, _checkpoint_backend(path, backend)


def load_model(model: str | os.PathLike[str] = DEFAULT_MODEL, backend: str | None = None, **opts: Any) -> Model:
    """Load a model for inference.

    Args:
        model: a shipped model name (``"lipnet-grid-s1"``), a canonical ``.safetensors`` checkpoint, or an
            exported ``.onnx`` file.
        backend: ``"onnx"``, ``"torch"``, ``"tensorflow"`` or None to choose: an ``.onnx`` file runs on
            onnx; a shipped model on onnx when ONNX Runtime is installed, else on torch, else tensorflow;
            a checkpoint on torch, else tensorflow.
        opts: passed to the backend's ``load`` (the onnx backend takes ``threads=`` and ``device=``).

    Returns:
        The backend's :class:`~lipread.backend.Model`.

    Raises:
        CheckpointError: the model file is missing (also from this installation, for a shipped model),
            or is not a lipread checkpoint / ONNX model.
        BackendError: the backend needed is not installed, cannot load this kind of file, or does not
            take one of ``opts``.
    """
    path, name = _resolve(model, backend)
    impl = get_backend(name)
    try:
        inspect.signature(impl.load).bind(path, **opts)
    except TypeError:
        raise BackendError(f"backend {name!r} does not take the option(s) {', '.join(sorted(opts))}") from None
    return impl.load(path, **opts)


_CACHE: OrderedDict[tuple[Any, ...], Model] = OrderedDict()
_CACHE_SIZE = 2


def _cached_model(model: str | os.PathLike[str], backend: str | None, opts: dict[str, Any]) -> Model:
    """:func:`load_model`, remembering the last two models (a file's key includes its size and time)."""
    name = os.fspath(model)
    p = Path(name)
    stamp = (p.stat().st_mtime_ns, p.stat().st_size) if not is_shipped(name) and p.is_file() else None
    key = (name, stamp, backend, tuple(sorted(opts.items())))
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    loaded = load_model(model, backend, **opts)
    _CACHE[key] = loaded
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return loaded


def _file_fps(path: Path) -> float:
    """The frame rate a video file states, or :data:`DEFAULT_FPS` when it states none."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()
    return fps if math.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS


def min_frames(config: ModelConfig) -> int:
    """The fewest frames (at :data:`MODEL_FPS`) a clip needs: the time span of the model's 3D convolutions."""
    return 1 + sum(block.kernel[0] - 1 for block in config.frontend)


def resample(frames: Iterable[np.ndarray], fps: float) -> Iterator[np.ndarray]:
    """Frames at ``fps`` -> frames at :data:`MODEL_FPS`, by nearest-frame selection, one at a time.

    Output frame ``k`` is source frame ``floor((k + 0.5) * fps / MODEL_FPS)`` (the one on screen at the
    output frame's centre time), for every ``k`` whose source frame exists. At :data:`MODEL_FPS` the frames
    pass through unchanged. Rates are taken to the thousandth of a frame per second.
    """
    num, den = round(fps * 1000) if math.isfinite(fps) else 0, 2 * round(MODEL_FPS * 1000)
    if num < 1:
        raise ValueError(f"fps must be at least 0.001, not {fps!r}")
    if fps == MODEL_FPS:
        yield from frames
        return
    k = 0
    for i, frame in enumerate(frames):
        while (2 * k + 1) * num // den == i:
            yield frame
            k += 1


def _stack(frames: Sequence[np.ndarray], source: str) -> np.ndarray:
    try:
        return np.stack(frames)
    except ValueError:
        raise VideoError(f"{source}: frames change size within the video") from None


def _drain(frames: deque[np.ndarray]) -> Iterator[np.ndarray]:
    """Yield and drop the frames of ``frames`` from the left, so none is kept once handed on."""
    while frames:
        yield frames.popleft()


class Transcriber:
    """A loaded model and decoder that transcribe clips in batches; :func:`~lipread.api.transcribe` uses one.

    Args:
        model: a shipped model name, a checkpoint or ``.onnx`` path, or an already loaded
            :class:`~lipread.backend.Model`.
        backend: see :func:`load_model` (ignored for a loaded model).
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
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
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
        (see the module docs), and comes back as log-probabilities.

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
            rate = fps or _file_fps(Path(path))
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
                lp = self._windowed_logprobs(chain(_drain(head), frames), source)
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

    def _windowed_logprobs(self, frames: Iterator[np.ndarray], source: str) -> np.ndarray:
        """A long clip's ``float32 (T, V)`` log-probabilities, window by window (see the module docs)."""
        cfg = self.config
        size, hop = cfg.frames, cfg.frames - WINDOW_OVERLAP
        recent: deque[np.ndarray] = deque(maxlen=size)
        starts: list[int] = []
        outputs: list[np.ndarray] = []
        pending: list[np.ndarray | None] = []
        errors: list[VideoError] = []
        silence = np.full((size, cfg.num_classes), -np.inf, np.float32)
        silence[:, 0] = 0.0

        def window(start: int) -> None:
            starts.append(start)
            try:
                pending.append(normalise(mouth_crops(_stack(recent, source), cfg, self.locator, source)))
            except VideoError as e:
                errors.append(e)
                pending.append(None)
            if len(pending) == self.batch_size:
                flush()

        def flush() -> None:
            found = [x for x in pending if x is not None]
            lp = iter(self._logprobs(np.stack(found), np.full(len(found), size, np.int32)) if found else ())
            outputs.extend(silence if x is None else next(lp) for x in pending)
            pending.clear()

        n = 0
        for frame in frames:
            recent.append(frame)
            n += 1
            if n == len(starts) * hop + size:
                window(n - size)
        if starts[-1] + size < n:
            window(n - size)
        flush()
        if len(errors) == len(starts):
            raise errors[0]
        bounds = [0, *((a + size + b) // 2 for a, b in pairwise(starts)), n]
        return np.concatenate([lp[lo - s : hi - s] for s, lp, lo, hi in zip(starts, outputs, bounds, bounds[1:])])

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
