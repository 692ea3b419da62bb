"""What lipread notices about a clip while its frames pass, and tells with the transcript instead of reading
nonsense in silence: frames without a face, colour missing for a colour model, the frame rate resampled.

A :class:`ClipWatch` looks at the frames on their way to the model (:meth:`ClipWatch.watch`), one at a time, so
it works alike for a short clip and for a long one read in windows, and holds no frame. The face detections it
makes for a face-based mouth locator are kept (:class:`lipread.video.face.DetectionMemo`) and shared with that
locator through :attr:`ClipWatch.locator`, so that no frame is searched for a face twice.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..config import ModelConfig
from .mouth import AlignedMouthLocator, Box, FaceMouthLocator, MouthLocator, Warp

if TYPE_CHECKING:
    from .face import DetectionMemo

__all__ = ["COLOUR_SAMPLE_STEP", "FACE_STEP", "GREY_LEVELS", "ClipWatch", "trained_on_grey"]

FACE_STEP = 15
"""Every this many frames (at 25 fps: every 0.6 s) a face-based locator's clip is searched for a face: 5
detections for a 3 s clip, about 3 ms each on a GRID frame (one look at the whole frame; a frame without a
face is also searched in smaller windows before it counts as one). The locator reuses those it also needs
(:attr:`ClipWatch.locator`): the default one, which looks at every 15th frame and the last, all 5 of a 3 s
clip (the same step, so that the warnings cost no detection of their own); one that looks at every third
frame, all of them too."""

COLOUR_SAMPLE_STEP = 25
"""Every this many frames (one a second at 25 fps) the colour of a clip for a colour model is measured."""

GREY_LEVELS = 1.0
"""A frame whose colour channels differ by less than this on average (grey levels of 255) has no colour: a
greyscale video decoded to RGB has equal channels, up to the rounding of its chroma."""

_LEVELS = 3
"""Detection levels tried on a frame before it counts as one without a face (see :func:`lipread.video.face.detect`)."""


class ClipWatch:
    """Notices about one clip, gathered from its frames at the model's rate.

    Args:
        config: the model's configuration (a colour model, ``channels == 3``, is told when colour is missing).
        locator: the mouth locator (faces are looked for only for the face-based ones, which need them).
        fps: the clip's own frame rate, and ``model_fps`` the rate it is read at (a difference is told).
        reads_grey: the colour model was also trained on clips made grey (:func:`trained_on_grey`), so that a
            greyscale video is no news.
        start: the time of the clip's first frame in seconds, where the clip was cut from a longer stream
            (``lipread live``'s utterances): the times the notes give count from the stream's start.
    """

    def __init__(
        self,
        config: ModelConfig,
        locator: MouthLocator,
        fps: float,
        model_fps: float,
        reads_grey: bool = False,
        start: float = 0.0,
    ) -> None:
        self.faces = type(locator) in (FaceMouthLocator, AlignedMouthLocator)
        self._locator = locator
        self._memo: DetectionMemo | None = None
        if self.faces:
            from .face import DetectionMemo

            self._memo = DetectionMemo()
        self.colour = config.channels == 3 and not reads_grey
        self.fps, self.model_fps, self.start = fps, model_fps, start
        self.frames = 0
        self.examined = 0
        self.faceless: list[int] = []
        self.with_face: list[int] = []
        self.sampled = 0
        self.grey = 0

    def watch(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """``frames`` (``uint8 (H, W, C)`` at the model's rate), passed on unchanged while they are looked at."""
        for frame in frames:
            if self.faces and self.frames % FACE_STEP == 0 and frame.ndim == 3 and frame.shape[2] == 3:
                self.examined += 1
                (self.with_face if self._has_face(frame) else self.faceless).append(self.frames)
            if self.colour and self.frames % COLOUR_SAMPLE_STEP == 0 and frame.ndim == 3 and frame.shape[2] == 3:
                self.sampled += 1
                self.grey += _is_grey(frame)
            self.frames += 1
            yield frame

    def faceless_spans(self) -> list[tuple[int, int]]:
        """``(first, end)`` frame spans (at the model's rate, ``end`` exclusive) where the face may be missing:
        around each run of examined frames without a face, from the frame after the examined one before it that
        showed a face (or the clip's start) to the next examined one that shows a face (or the clip's end). Only
        every :data:`FACE_STEP`-th frame is examined, so the face is gone somewhere within each span, not
        necessarily all of it."""
        spans: list[tuple[int, int]] = []
        for frame in self.faceless:
            after = bisect.bisect_left(self.with_face, frame)
            lo = self.with_face[after - 1] + 1 if after else 0
            hi = self.with_face[after] if after < len(self.with_face) else self.frames
            if not spans or spans[-1] != (lo, hi):  # the faceless frames between two with a face share one span
                spans.append((lo, hi))
        return spans

    def _has_face(self, frame: np.ndarray) -> bool:
        """Whether the watched frame now passing on (frame ``self.frames`` of the clip) shows a face at any level."""
        assert self._memo is not None  # made in __init__ whenever faces are looked for
        return any(self._memo.largest(frame, self.frames, level=level) is not None for level in range(_LEVELS))

    @property
    def locator(self) -> MouthLocator:
        """The clip's mouth locator, for the frames this watch has passed on: a face-based one gets the face
        detections this watch made (and the overlapping windows of a long clip each other's), so that no frame
        is searched twice; the boxes are the same as the locator's own. Any other locator is itself.

        The frames it is given must be the latest that :meth:`watch` passed on (all of a short clip's, a long
        clip's window just read): their indices in the clip are found by counting back from the last.
        """
        return self._locator if self._memo is None else _SharedDetections(self, self._locator)

    def notes(self) -> list[str]:
        """The notices, one sentence each (empty when there is nothing to tell)."""
        out: list[str] = []
        if round(self.fps * 1000) != round(self.model_fps * 1000):  # as precisely as the resampling reads rates
            change = "some frames dropped" if self.fps > self.model_fps else "frames repeated"
            out.append(
                f"frame rate resampled: the clip's {self.fps:g} fps read as the model's {self.model_fps:g} fps "
                f"({change}; word times stay in the clip's seconds)"
            )
        if self.faceless and self.with_face:
            at = self.start
            spans = ", and ".join(
                f"between {at + lo / self.model_fps:.2f} s and {at + hi / self.model_fps:.2f} s"
                for lo, hi in self.faceless_spans()
            )
            out.append(
                f"frames without a face: no face in {len(self.faceless)} of the {self.examined} frames examined "
                f"({spans}); the mouth there is placed from the other frames, so the words there may be wrong"
            )
        if self.sampled and self.grey == self.sampled:
            out.append(
                "colour missing: the video is greyscale but the model reads colour (it was trained on colour "
                "video), so the reading may be poor"
            )
        return out


class _SharedDetections:
    """A face-based mouth locator that looks faces up in a :class:`ClipWatch`'s memo (see :attr:`ClipWatch.locator`)."""

    def __init__(self, watch: ClipWatch, locator: MouthLocator) -> None:
        self._watch, self._locator = watch, locator

    @property
    def name(self) -> str:
        """The locator's own name (crop caches are keyed by it; the crops are the same)."""
        return self._locator.name

    def locate(self, frames: np.ndarray, source: str = "<frames>") -> Box | Warp:
        """The locator's region for ``frames``, the latest frames the watch passed on."""
        start = self._watch.frames - len(frames)
        memo = self._watch._memo
        if memo is None or start < 0:  # not frames the watch has seen: detect afresh rather than mix them up
            return self._locator.locate(frames, source)
        assert isinstance(self._locator, (FaceMouthLocator, AlignedMouthLocator))
        return self._locator.locate(frames, source, memo=memo.from_frame(start))


def trained_on_grey(model: object) -> bool:
    """Whether a loaded model's metadata says it was trained on clips made grey (``lipread train --greyscale P``
    with ``P > 0``): such a colour model reads a greyscale video too."""
    trained_on = getattr(model, "trained_on", None)
    return isinstance(trained_on, dict) and float(trained_on.get("greyscale") or 0) > 0


def _is_grey(frame: np.ndarray) -> bool:
    """Whether an ``uint8 (H, W, 3)`` RGB frame's channels are equal to within :data:`GREY_LEVELS` on average."""
    step = max(1, int(np.sqrt(frame.shape[0] * frame.shape[1] / 65536)))  # about 65,000 pixels are enough
    pixels = frame[::step, ::step].astype(np.int16)
    spread = np.abs(pixels[..., 0] - pixels[..., 1]).mean() + np.abs(pixels[..., 1] - pixels[..., 2]).mean()
    return bool(spread / 2 < GREY_LEVELS)
