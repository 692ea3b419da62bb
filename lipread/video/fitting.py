"""Frames reduced, as they are decoded, to what the mouth locator and the crop need, so that memory follows the
model's needs rather than the video's resolution (a 10 s 3840x2160 clip holds 6.2 GB of RGB frames).

- A face-based locator (:class:`~lipread.video.mouth.FaceMouthLocator`,
  :class:`~lipread.video.mouth.AlignedMouthLocator`, or one of your own) gets frames of at most
  :data:`WORK_PIXELS` pixels (960x540 for 16:9): every detection level of :mod:`lipread.video.face` looks at
  such frames through the same windows as at full size (the detector's input is 128 pixels square), and a
  face a tenth of the frame wide still gives a mouth crop wider than the model's 100-pixel input.
- A :class:`~lipread.video.mouth.FixedCrop` keeps only its box: the frames are cut as they come, and the crop
  is then the whole cut.

Frames too small to show a face to the detector are refused here (:func:`check_face_frame`), with their size,
instead of asking for a face a pixel wide. This module imports the mouth locators only inside its functions, so
that they may call :func:`check_face_frame` themselves.

A :class:`FrameBuffer` gathers a clip's frames into one array as they come, so that the clip is never held
twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..errors import VideoError

if TYPE_CHECKING:
    from .mouth import FixedCrop, MouthLocator

__all__ = ["MIN_FACE_FRAME", "WORK_PIXELS", "FrameBuffer", "check_face_frame", "fit_frames", "work_pixels"]

WORK_PIXELS = 960 * 540
"""The most pixels a frame keeps for a face-based mouth locator (larger frames are shrunk as decoded)."""

MIN_FACE_FRAME = 32
"""The shortest side, in pixels, of a frame in which a face-based locator looks for a face: the detector sees
a frame scaled to 128 pixels, and a face in a smaller frame gives a mouth of a handful of pixels."""


def check_face_frame(height: int, width: int, source: str) -> None:
    """VideoError naming ``source`` and the size when frames of ``height`` x ``width`` pixels are too small to
    look for a face in (a side under :data:`MIN_FACE_FRAME`)."""
    if min(height, width) < MIN_FACE_FRAME:
        raise VideoError(
            f"{source}: frames of {width}x{height} pixels are too small to find a face in; the mouth locator needs "
            f"frames at least {MIN_FACE_FRAME} pixels on each side (from Python, a FixedCrop locator around the "
            "mouth reads such frames)"
        )


def work_pixels(locator: MouthLocator) -> int | None:
    """The most pixels a decoded frame needs to keep for ``locator`` (None: the whole frame; a
    :class:`~lipread.video.mouth.FixedCrop` is cut by :func:`fit_frames` instead)."""
    from .mouth import FixedCrop

    return None if type(locator) is FixedCrop else WORK_PIXELS


def fit_frames(
    frames: Iterable[np.ndarray], locator: MouthLocator, source: str
) -> tuple[Iterator[np.ndarray], MouthLocator]:
    """``(frames, locator)`` for the mouth: frames reduced one at a time, and the locator that reads them.

    Args:
        frames: ``uint8 (H, W, C)`` frames, one at a time (a file's, or a frames array's).
        locator: the mouth locator the frames are meant for.
        source: the clip's name in errors.

    Returns:
        For a :class:`FixedCrop`: its box cut out of each frame (a copy, so the full frame is freed), and a
        :class:`FixedCrop` of the whole cut. Otherwise: frames of at most :data:`WORK_PIXELS` pixels
        (:func:`lipread.video.reader.shrink`), and ``locator`` itself.

    Raises:
        VideoError (when the frames are read): frames smaller than the fixed box, or, for another locator,
            with a side shorter than :data:`MIN_FACE_FRAME`.
    """
    from .mouth import Box, FixedCrop

    if type(locator) is FixedCrop:
        box = locator.box
        inside = FixedCrop(Box(0, box.height, 0, box.width), locator.name)
        return _cut(frames, locator, source), inside
    return _shrunk(frames, source), locator


def _cut(frames: Iterable[np.ndarray], locator: FixedCrop, source: str) -> Iterator[np.ndarray]:
    box = locator.box
    for frame in frames:
        h, w = frame.shape[:2]
        if box.bottom > h or box.right > w:
            locator.locate(frame[None], source)  # raises, in the locator's own words
        yield np.ascontiguousarray(frame[box.top : box.bottom, box.left : box.right])


def _shrunk(frames: Iterable[np.ndarray], source: str) -> Iterator[np.ndarray]:
    from .reader import shrink

    for i, frame in enumerate(frames):
        if i == 0:
            check_face_frame(frame.shape[0], frame.shape[1], source)
        yield shrink(frame, WORK_PIXELS)


class FrameBuffer:
    """Up to ``capacity`` frames of one shape, copied into one array allocated at the first frame.

    Frames kept one by one and stacked at the end are held twice at the end, and more: the C allocator keeps
    the memory of the many freed frames for itself (a 10 s clip of 960x540 frames peaked at 2.4 times its
    size). The array is only reserved up front; the operating system gives it memory as frames are written.

    Args:
        capacity: the most frames the buffer takes.
        source: the clip's name in errors.
    """

    def __init__(self, capacity: int, source: str) -> None:
        self.capacity = capacity
        self.source = source
        self._array: np.ndarray | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, frame: np.ndarray) -> None:
        """Copy ``frame`` in; VideoError when its shape is not the first frame's."""
        if self._array is None:
            self._array = np.empty((self.capacity, *frame.shape), frame.dtype)
        elif frame.shape != self._array.shape[1:]:
            raise VideoError(f"{self.source}: frames change size within the video")
        if self._count == self.capacity:
            raise IndexError(f"a FrameBuffer of {self.capacity} frames is full")
        self._array[self._count] = frame
        self._count += 1

    def frames(self) -> np.ndarray:
        """The frames so far, ``(T, H, W, C)``: a view of the buffer, not a copy."""
        if self._array is None:
            raise ValueError("a FrameBuffer without frames has no shape")
        return self._array[: self._count]

    def drain(self) -> Iterator[np.ndarray]:
        """The frames one at a time (views); the buffer lets go of its array, which is freed with the last view."""
        array, count = self._array, self._count
        self._array, self._count = None, 0
        for i in range(count):
            yield array[i]  # type: ignore[index]
