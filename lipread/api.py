"""The front door: :func:`transcribe` a video (or many, or decoded frames) and :func:`load_model`.

>>> import lipread
>>> t = lipread.transcribe("bbaf2n.mpg")  # doctest: +SKIP
>>> t.text, t.words[0].start  # doctest: +SKIP
('bin blue at f two now', 0.6)

Word times come from the most likely CTC alignment of the decoded text
(:func:`lipread.decoding.viterbi.best_path_spans`), so the same text gets the same times from every decoder: a word
starts at the first frame of its first character and ends after the last frame of its last character (frame
``k`` covers ``[k / fps, (k + 1) / fps)`` seconds). How close that is to when the word is spoken depends on
the model: CTC only orders the characters, it does not tie them to the frames where they are seen.
``lipread eval`` measures the error against GRID alignments.

Frame rate. The models read video at :data:`MODEL_FPS` (25 fps, GRID's rate). A clip at another rate is
resampled in time by nearest-frame selection before the model: output frame ``k`` is the source frame on
screen at its centre time ``(k + 0.5) / 25`` s, for every such time inside the clip (a 60 fps clip loses
frames, a 5 fps clip repeats each five times). Word times are therefore seconds of the original clip.
A source rate outside :data:`SOURCE_FPS_RANGE` (1 to 1000 fps) raises :class:`~lipread.errors.VideoError`.

Length. A clip with fewer frames (after resampling) than the time span of the model's 3D convolutions
(7 frames, 0.28 s, for both presets) cannot be read and raises :class:`~lipread.errors.VideoError`
("too short"); so does a truncated ``.mpg`` that decodes only that little, since MPEG program streams
declare no frame count to compare with.

Long clips. A clip of more than :data:`LONG_CLIP_FRAMES` frames (10 s) is read in windows so that memory
does not grow with its length. Frames are decoded one at a time (:func:`lipread.video.reader.iter_frames`); once
the clip is known to be long, only the last ``config.frames`` (75, 3 s: the length the models were trained
on) are kept. Windows of that length start every ``config.frames - WINDOW_OVERLAP`` frames (50), the last
one moved back to end with the clip. Each window is handled like a short clip of its own: its mouth is
located, its crops standardised, and the model runs on ``batch_size`` windows at a time. Of each window's
log-probabilities only the part up to the middle of its overlap with each neighbour is kept (so every kept
frame has at least 12 frames of context on both sides, except at the clip's ends), and the kept parts,
``float32 (T, V)`` in all, are decoded as one sequence. A window where no mouth can be located reads as
silence (all blank); a clip where no window shows one raises that window's VideoError. Memory holds at
most ``LONG_CLIP_FRAMES + 1`` decoded frames (while the length is still unknown), then one window's frames
and one batch of model input: bounded, apart from the ``(T, V)`` log-probabilities and the text. Clips of
up to :data:`LONG_CLIP_FRAMES` frames are read whole, in one pass.

Large frames. Each frame is cut down, as it is decoded, to what the mouth locator and the crop need
(:mod:`lipread.video.fitting`): a face-based locator gets frames of at most 960x540 pixels' worth (larger ones
are shrunk, keeping their aspect ratio), a fixed box gets only its box. A clip is gathered into one array as
it is read, so it is never held twice: a 10 s 3840x2160 clip is read within 1 GB of memory
(``benchmarks/large_frames.py``).

Warnings. What lipread notices that may make a reading wrong is told in :attr:`Transcript.warnings` (and the
``warnings`` of ``to_dict()``, which ``lipread transcribe`` prints on stderr), one sentence each, starting
with what it is: ``frames without a face`` (the face is lost in some of the frames examined, every 15th),
``colour missing`` (a greyscale video for a colour model), ``frame rate resampled`` (the clip's rate is not
the model's 25 fps) and ``clip cut short`` (the file is truncated: it declares more frames than decode, or an
``.mpg`` ends inside a packet). The transcript is still made; the text may be wrong where they say.

Errors. A file that cannot be read says why: missing, permission denied, a symbolic link loop or a broken
link, a folder, a pipe or device, empty, not a video (:mod:`lipread.video.access`); an ``.mpg`` states its
frame rate in its sequence header, which is read instead of FFmpeg's guess (wrong for a truncated file), and
a clip too short to read because the file is truncated says so. Frames too small to show a face (under 32
pixels on a side) are refused with their size.

The names of this module are lipread's public API; they are implemented in :mod:`lipread.transcription`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from .config import DEFAULT_BATCH_SIZE
from .decoding.decoders import DEFAULT_BEAM_WIDTH
from .models import DEFAULT_MODEL
from .transcription.frames import (
    DEFAULT_FPS,
    LONG_CLIP_FRAMES,
    MODEL_FPS,
    SOURCE_FPS_RANGE,
    WINDOW_OVERLAP,
    min_frames,
    resample,
)
from .transcription.loading import load_model
from .transcription.transcriber import ModelSpec, PreparedClip, SourceItem, Transcriber, Transcript, Word
from .video.mouth import MouthLocator

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
    "transcribe",
]


def transcribe(
    source: SourceItem | Sequence[SourceItem],
    model: ModelSpec = DEFAULT_MODEL,
    backend: str | None = None,
    decoder: str | None = None,
    beam_width: int = DEFAULT_BEAM_WIDTH,
    lexicon: Iterable[str] | os.PathLike[str] | None = None,
    locator: MouthLocator | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    fps: float | None = None,
    **opts: Any,
) -> Transcript | list[Transcript]:
    """Read the lips in a video.

    Args:
        source: a video file; a frame folder (numbered images, :func:`lipread.video.reader.is_frame_folder`);
            frames ``uint8 (T, H, W, 3)`` RGB; or a list of those (run in batches).
        model: a shipped model name, a ``.safetensors`` checkpoint or ``.onnx`` path, or a loaded model.
            Loaded models are kept, so repeated calls with the same model do not reload it.
        backend: ``"onnx"``, ``"torch"``, ``"tensorflow"``, or None to choose (see :func:`load_model`).
        decoder: ``"greedy"``, ``"beam"``, ``"lexicon"`` or ``"grammar"``; None (default): ``"lexicon"`` when a
            ``lexicon`` is given, else the one the model's metadata names (``"grammar"`` for the shipped
            ``lipnet-grid-s1``), else ``"beam"``.
        beam_width: prefixes kept per frame by the beam decoders.
        lexicon: the word list of the ``"lexicon"`` decoder, or a word-list file's ``Path`` (default the words the
            model was trained on, which it stores, else the GRID words); it asks for that decoder, and another
            ``decoder`` with it is refused.
        locator: where the mouth is (default: the model's own, see :func:`lipread.video.preprocess.default_locator`).
        batch_size: clips per forward pass for a list, and windows per forward pass for a long clip.
        fps: the source's frame rate (default: the file's own; 25 for frame folders and frames arrays). Clips are
            resampled to 25 fps for the model; word times are seconds of the source.
        opts: passed to the backend's ``load`` (e.g. ``threads=2``, ``device="cpu"`` for onnx).

    Returns:
        A :class:`Transcript`, or a list of them (in order) for a list.

    Raises:
        VideoError: a video cannot be read (the message says why) or is truncated, a clip is too short to
            read, frames have the wrong shape or are too small to show a face, or no mouth is found.
        CheckpointError, BackendError: as :func:`load_model`.
        DecodingError: unknown decoder or bad beam width; the model gave NaN log-probabilities.
        ArgumentError: ``fps`` or ``batch_size`` is not a positive number, or a ``lexicon`` with another decoder.
    """
    runner = Transcriber(model, backend, decoder, beam_width, lexicon, locator, batch_size, **opts)
    return runner.transcribe(source, fps)
