"""The front door: :func:`transcribe` a video (or many, or decoded frames) and :func:`load_model`.

>>> import lipread
>>> t = lipread.transcribe("bbaf2n.mpg")  # doctest: +SKIP
>>> t.text, t.words[0].start  # doctest: +SKIP
('bin blue at f two now', 0.6)

Word times come from the CTC emission frames: a word starts at the frame where its first character is
emitted and ends at the frame after the one where its last character is emitted (frame ``k`` covers
``[k / fps, (k + 1) / fps)`` seconds). CTC emits a character somewhere inside the stretch where it is
spoken, so these are estimates, typically within a frame or two of a forced alignment's boundaries.
"""

from __future__ import annotations

import inspect
import math
import os
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from .backend import BUILTIN, Model, first_available, get_backend, resolve_backend_name
from .ctc import Hypothesis
from .decoding import DEFAULT_BEAM_WIDTH, make_decoder, sentence_confidence, timed_words
from .errors import BackendError, CheckpointError, VideoError
from .models import DEFAULT_MODEL, get_shipped, is_shipped
from .mouth import MouthLocator
from .preprocess import preprocess

__all__ = ["DEFAULT_FPS", "PreparedClip", "Transcriber", "Transcript", "Word", "load_model", "transcribe"]

DEFAULT_FPS = 25.0
"""Frame rate assumed for frame arrays and for files that do not state theirs (GRID's rate)."""

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
    """What :func:`transcribe` read from one clip.

    Attributes:
        text: the sentence (lower case, words separated by single spaces; empty when nothing was read).
        confidence: ``exp(score / frames)``, the per-frame geometric mean of the probability the model
            gives this text (greedy decoding: its best path), in [0, 1].
        words: the words with times (see the module docs) and confidences (mean posterior probability of
            the word's characters at their emission frames).
        backend: the backend that ran the model (``"onnx"``, ``"torch"``, ``"tensorflow"``).
        model: the model's shipped name, the path it was loaded from, or its config name.
        path: the video file, or None for a frames array.
    """

    text: str
    confidence: float
    words: tuple[Word, ...]
    backend: str
    model: str
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``path``, ``text``, ``confidence``, ``words``, ``backend``, ``model``."""
        return {
            "path": self.path,
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "words": [w.to_dict() for w in self.words],
            "backend": self.backend,
            "model": self.model,
        }


@dataclass(frozen=True)
class PreparedClip:
    """One clip ready for the model: ``frames`` ``float32 (T, H, W, C)``, its frame rate and its file."""

    frames: np.ndarray
    fps: float
    path: str | None


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
    from .weights import read_metadata

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


class Transcriber:
    """A loaded model and decoder that transcribe clips in batches; :func:`transcribe` uses one.

    Args:
        model: a shipped model name, a checkpoint or ``.onnx`` path, or an already loaded
            :class:`~lipread.backend.Model`.
        backend: see :func:`load_model` (ignored for a loaded model).
        decoder: ``"greedy"``, ``"beam"``, ``"lexicon"`` or ``"grammar"`` (see :mod:`lipread.decoding`).
        beam_width: prefixes kept per frame by the beam decoders.
        lexicon: the words of the ``"lexicon"`` decoder (default the GRID words).
        locator: where the mouth is; the model's default locator when None.
        batch_size: clips per forward pass.
        opts: passed to the backend's ``load`` (e.g. ``threads=2`` for onnx).
    """

    def __init__(
        self,
        model: ModelSpec = DEFAULT_MODEL,
        backend: str | None = None,
        decoder: str = "beam",
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
        self.decoder = make_decoder(decoder, self.config.vocabulary, beam_width, lexicon)
        self.locator = locator
        self.batch_size = batch_size

    @property
    def backend(self) -> str:
        """The name of the backend running the model."""
        return str(self.model.backend)

    def prepare(self, item: SourceItem, fps: float | None = None) -> PreparedClip:
        """Decode (for a path) and preprocess one clip.

        Args:
            item: a video file, or frames ``uint8 (T, H, W, 3)`` RGB.
            fps: frame rate for word times; default the file's own, or :data:`DEFAULT_FPS` for frames.

        Raises:
            VideoError: unreadable video, frames of the wrong shape or type, mouth not found.
        """
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, not {fps!r}")
        if isinstance(item, np.ndarray):
            frames = preprocess(item, self.config, self.locator)
            return PreparedClip(frames, fps or DEFAULT_FPS, None)
        if not isinstance(item, (str, os.PathLike)):
            raise VideoError(f"{item!r}: expected a video path or a uint8 (T, H, W, 3) frames array")
        from .video import read_frames

        path = Path(item)
        frames = preprocess(read_frames(path), self.config, self.locator, source=str(path))
        return PreparedClip(frames, fps or _file_fps(path), str(path))

    def run(self, clips: Sequence[PreparedClip]) -> list[Transcript]:
        """Transcribe prepared clips, ``batch_size`` at a time (zero-padded to the longest, with lengths)."""
        out: list[Transcript] = []
        cfg = self.config
        for i in range(0, len(clips), self.batch_size):
            chunk = clips[i : i + self.batch_size]
            lengths = np.array([c.frames.shape[0] for c in chunk], dtype=np.int32)
            x = np.zeros((len(chunk), int(lengths.max()), cfg.height, cfg.width, cfg.channels), np.float32)
            for b, c in enumerate(chunk):
                x[b, : lengths[b]] = c.frames
            lp = np.asarray(self.model.logprobs(x, lengths))
            if lp.shape[:2] != x.shape[:2] or lp.shape[2] != cfg.num_classes:
                raise BackendError(
                    f"backend {self.backend!r} returned log-probabilities of shape {lp.shape} for input "
                    f"{x.shape}; expected ({x.shape[0]}, {x.shape[1]}, {cfg.num_classes})"
                )
            for c, hyp, row, n in zip(chunk, self.decoder.decode_batch(lp, lengths), lp, lengths.tolist()):
                out.append(self._transcript(c, hyp, row[:n]))
        return out

    def _transcript(self, clip: PreparedClip, hyp: Hypothesis, logprobs: np.ndarray) -> Transcript:
        words = tuple(
            Word(w.word, w.first_frame / clip.fps, (w.last_frame + 1) / clip.fps, w.confidence)
            for w in timed_words(hyp, logprobs, self.config.vocabulary)
        )
        text = " ".join(w.word for w in words)
        confidence = sentence_confidence(hyp, logprobs.shape[0])
        return Transcript(text, confidence, words, self.backend, self.model_name, clip.path)

    def transcribe(
        self, source: SourceItem | Sequence[SourceItem], fps: float | None = None
    ) -> Transcript | list[Transcript]:
        """:func:`transcribe` with this model and decoder."""
        if isinstance(source, (str, os.PathLike, np.ndarray)):
            return self.run([self.prepare(source, fps)])[0]
        return self.run([self.prepare(item, fps) for item in source])


def transcribe(
    source: SourceItem | Sequence[SourceItem],
    model: ModelSpec = DEFAULT_MODEL,
    backend: str | None = None,
    decoder: str = "beam",
    beam_width: int = DEFAULT_BEAM_WIDTH,
    lexicon: Iterable[str] | None = None,
    locator: MouthLocator | None = None,
    batch_size: int = 8,
    fps: float | None = None,
    **opts: Any,
) -> Transcript | list[Transcript]:
    """Read the lips in a video.

    Args:
        source: a video file; frames ``uint8 (T, H, W, 3)`` RGB; or a list of those (run in batches).
        model: a shipped model name, a ``.safetensors`` checkpoint or ``.onnx`` path, or a loaded model.
            Loaded models are kept, so repeated calls with the same model do not reload it.
        backend: ``"onnx"``, ``"torch"``, ``"tensorflow"``, or None to choose (see :func:`load_model`).
        decoder: ``"greedy"``, ``"beam"`` (default), ``"lexicon"`` or ``"grammar"``.
        beam_width: prefixes kept per frame by the beam decoders.
        lexicon: the word list of the ``"lexicon"`` decoder (default the GRID words).
        locator: where the mouth is (default: the model's own, the fixed GRID crop).
        batch_size: clips per forward pass for a list.
        fps: frame rate for word times (default: the file's own; 25 for frames arrays).
        opts: passed to the backend's ``load`` (e.g. ``threads=2``, ``device="cpu"`` for onnx).

    Returns:
        A :class:`Transcript`, or a list of them (in order) for a list.

    Raises:
        VideoError: a video cannot be read, or frames have the wrong shape.
        CheckpointError, BackendError: as :func:`load_model`.
        DecodingError: unknown decoder or bad beam width.
    """
    runner = Transcriber(model, backend, decoder, beam_width, lexicon, locator, batch_size, **opts)
    return runner.transcribe(source, fps)
