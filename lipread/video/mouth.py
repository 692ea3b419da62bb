"""Mouth locators: where the mouth is in a clip, as one steady region per clip (a box, or a warp that also
turns and scales the face to a mean face)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from ..errors import ArgumentError, VideoError

if TYPE_CHECKING:
    from .face import DetectionMemo, FaceTrack

__all__ = ["GRID_BOX", "AlignedMouthLocator", "Box", "FaceMouthLocator", "FixedCrop", "MouthLocator", "Warp"]


@dataclass(frozen=True)
class Box:
    """A pixel box: rows ``top:bottom`` and columns ``left:right`` (end exclusive)."""

    top: int
    bottom: int
    left: int
    right: int

    def __post_init__(self) -> None:
        """Raises ArgumentError for an edge that is not a whole number, or a box that is empty or starts
        outside the frame (a negative edge); NumPy integers become ints."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ArgumentError(f"Box.{f.name} must be a whole number of pixels, not {value!r}")
            object.__setattr__(self, f.name, int(value))
        if self.top < 0 or self.left < 0 or self.bottom <= self.top or self.right <= self.left:
            raise ArgumentError(
                f"a Box needs 0 <= top < bottom and 0 <= left < right, got rows {self.top}:{self.bottom}, "
                f"cols {self.left}:{self.right}"
            )

    @property
    def height(self) -> int:
        """Rows, in pixels."""
        return self.bottom - self.top

    @property
    def width(self) -> int:
        """Columns, in pixels."""
        return self.right - self.left

    def contains(self, x: float, y: float) -> bool:
        """Whether the point (column ``x``, row ``y``) lies inside."""
        return self.left <= x < self.right and self.top <= y < self.bottom


@runtime_checkable
class MouthLocator(Protocol):
    """Finds one mouth box for a clip of ``uint8 (T, H, W, 3)`` RGB frames."""

    @property
    def name(self) -> str:
        """A short name (keys crop caches)."""
        ...

    def locate(self, frames: np.ndarray, source: str = "<frames>") -> Box | Warp:
        """The mouth region of every frame of ``uint8 (T, H, W, 3)`` RGB ``frames``: an upright box, or a
        :class:`Warp` for a crop that is turned and scaled.

        ``source`` names the clip in error messages. Raises VideoError when no mouth can be located.
        """
        ...


GRID_BOX = Box(190, 236, 80, 220)
"""The LipNet notebook's mouth box for GRID speaker 1 in 360x288 frames (rows 190:236, cols 80:220)."""


@dataclass(frozen=True)
class FixedCrop:
    """The same box in every clip: right for GRID speaker 1 (the default box), wrong for other faces."""

    box: Box = GRID_BOX
    name: str = "fixed"

    def locate(self, frames: np.ndarray, source: str = "<frames>") -> Box:
        """``self.box`` for ``(T, H, W, 3)`` frames; VideoError if the frames are smaller than the box."""
        h, w = frames.shape[1:3]
        if self.box.bottom > h or self.box.right > w:
            raise VideoError(
                f"{source}: frames of {w}x{h} pixels are smaller than the fixed mouth box "
                f"(rows {self.box.top}:{self.box.bottom}, cols {self.box.left}:{self.box.right})"
            )
        return self.box


MOUTH_WIDTH_PER_FACE = 1.128
"""Mouth box width over face box width (BlazeFace's square box)."""

MOUTH_OFFSET = (-0.061, 0.023)
"""Mouth box centre minus the detected mouth centre, (columns, rows), in face widths.

These and :data:`MOUTH_WIDTH_PER_FACE` are the medians over the 900 GRID speaker-1 clips of the values that
map the clip's median face onto :data:`GRID_BOX`, so on that speaker the box matches the crop the seed
notebook's model was trained on (whose centre sits left of the mouth by about 6% of the face width).
"""


def _fit(box_top: float, box_left: float, height: int, width: int, frame_h: int, frame_w: int) -> Box:
    """A ``height`` x ``width`` box at (``box_top``, ``box_left``), moved inside the frame.

    The box is shrunk (keeping its aspect ratio) only when it is larger than the frame.
    """
    if width > frame_w:
        height, width = max(1, round(height * frame_w / width)), frame_w
    if height > frame_h:
        height, width = frame_h, max(1, round(width * frame_h / height))
    top = min(max(round(box_top), 0), frame_h - height)
    left = min(max(round(box_left), 0), frame_w - width)
    return Box(top, top + height, left, left + width)


def _check_frames_apart(owner: str, **settings: int | None) -> None:
    """Raises ArgumentError unless each of ``settings`` (frames between looks at the face) is None or an
    integer >= 1; None is allowed only for ``every``."""
    for key, value in settings.items():
        if value is None and key == "every":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ArgumentError(f"{owner}.{key} must be a whole number of frames >= 1, not {value!r}")


def _face_track(
    frames: np.ndarray, step: int, source: str, every: int | None = None, memo: DetectionMemo | None = None
) -> FaceTrack:
    """The face in every frame of ``uint8 (T, H, W, 3)`` RGB frames, detected in every ``step``-th, or with
    ``every`` in the frames :func:`lipread.video.face.follow_faces` picks (:func:`lipread.video.face.face_track`),
    through ``memo`` when one is given.

    Raises:
        VideoError: the frames are not RGB uint8, or no examined frame shows a face.
    """
    from .face import face_track, smallest_face
    from .fitting import check_face_frame

    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.size == 0:
        raise VideoError(f"{source}: expected uint8 frames of shape (T, H, W, 3), got {frames.dtype} {frames.shape}")
    # a frame too small to hold a face gets that reason, not "no face found"
    check_face_frame(frames.shape[1], frames.shape[2], source)
    track = face_track(frames, step, every=every, memo=memo)
    if track is None:
        examined = len(range(0, frames.shape[0], step))
        raise VideoError(
            f"{source}: no face found in the {examined} of {frames.shape[0]} frames examined, so the mouth "
            f"cannot be located (it needs a frontal face at least {smallest_face(*frames.shape[1:3])} pixels wide)"
        )
    return track


@dataclass(frozen=True)
class FaceMouthLocator:
    """Finds the face (:mod:`lipread.video.face`) and derives one steady mouth box per clip from it.

    The box has :data:`GRID_BOX`'s aspect ratio (140:46), is :data:`MOUTH_WIDTH_PER_FACE` face widths wide,
    and is centred at the detected mouth centre plus :data:`MOUTH_OFFSET`, using the clip's median face
    over all frames (outliers dropped, gaps interpolated). A box that would leave the frame is moved back
    inside it.

    Faces are detected in every ``every``-th frame and followed between them
    (:func:`lipread.video.face.follow_faces`: where the face moves, down to every ``step``-th frame); with
    ``every=None``, in every ``step``-th frame. On the 90 validation clips of GRID speaker 1 following costs
    6 detections a clip instead of 25 (a quarter of the time), boxes differ from every third frame's by at
    most 3 pixels, and the shipped model's transcripts are as good (the same WER; see the throughput
    benchmark). ``name`` keys crop caches: "face-framed" for these defaults (a face small in its frame looked
    at again, :func:`lipread.video.face.detect_faces`), "face-tracked" was the same without that look, "face"
    every third frame; give a locator with other settings a name of its own.
    """

    step: int = 3
    name: str = "face-framed"
    every: int | None = 15

    def __post_init__(self) -> None:
        """Raises ArgumentError for a ``step`` or ``every`` that is not a positive whole number."""
        _check_frames_apart(type(self).__name__, step=self.step, every=self.every)

    def locate(self, frames: np.ndarray, source: str = "<frames>", memo: DetectionMemo | None = None) -> Box:
        """The mouth box for ``uint8 (T, H, W, 3)`` RGB frames; VideoError when no frame shows a face.

        ``memo``: face detections already made in these frames, indexed from the first of them (see
        :class:`lipread.video.face.DetectionMemo`); the box is the same with it or without it.
        """
        face = _face_track(frames, self.step, source, self.every, memo).median()
        width = max(1, round(MOUTH_WIDTH_PER_FACE * face.width))
        height = max(1, round(width * GRID_BOX.height / GRID_BOX.width))
        centre_x = face.mouth_x + MOUTH_OFFSET[0] * face.width
        centre_y = face.mouth_y + MOUTH_OFFSET[1] * face.width
        frame_h, frame_w = frames.shape[1:3]
        return _fit(centre_y - height / 2, centre_x - width / 2, height, width, frame_h, frame_w)


@dataclass(frozen=True)
class Warp:
    """A mouth region that is not an upright box: the affine map from frame pixels to the crop's pixels.

    ``matrix`` is ``float64 (2, 3)``: a frame point (x, y) lands at ``matrix @ (x, y, 1)`` in a crop of
    ``width`` x ``height`` pixels (``cv2.warpAffine``'s convention).
    """

    matrix: np.ndarray
    width: int
    height: int


ALIGNED_MOUTH_CENTRE = (0.0, 0.82)
"""The aligned crop's centre on :data:`lipread.video.landmarks.MEAN_FACE`, in outer-eye distances from the
point between the outer eye corners: the mean mouth centre (the lip corners and lip edges) of the 19 frames
of nine GRID speakers the mean face was made from (0.006, 0.820), on the face's axis of symmetry."""

ALIGNED_MOUTH_WIDTH = 2.2
"""The aligned crop's width in outer-eye distances: on GRID speaker 1 (outer eye corners about 67 pixels
apart) the width of :class:`FaceMouthLocator`'s box (about 147 pixels), so both crops show as much of the
face. Its height follows :data:`GRID_BOX`'s aspect ratio."""


@dataclass(frozen=True)
class AlignedMouthLocator:
    """The mouth cut from the face brought to a mean face: landmarks (:mod:`lipread.video.landmarks`) of every
    ``step``-th frame give a similarity transform (rotation, scale, shift) of the eyes and nose onto
    :data:`~lipread.video.landmarks.MEAN_FACE`; the clip's median transform places a fixed box around the
    mouth (:data:`ALIGNED_MOUTH_CENTRE`, :data:`ALIGNED_MOUTH_WIDTH`). Every speaker's crop then shows the
    same part of the face at the same size and upright, whatever the camera and the head's roll.

    The face is found as :class:`FaceMouthLocator` finds it (every ``face_step``-th frame). ``name`` keys crop
    caches: "aligned-framed" since a face small in its frame is looked at again ("aligned" before).
    """

    step: int = 8
    face_step: int = 3
    name: str = "aligned-framed"

    def __post_init__(self) -> None:
        """Raises ArgumentError for a ``step`` or ``face_step`` that is not a positive whole number."""
        _check_frames_apart(type(self).__name__, step=self.step, face_step=self.face_step)

    def locate(self, frames: np.ndarray, source: str = "<frames>", memo: DetectionMemo | None = None) -> Warp:
        """The crop for ``uint8 (T, H, W, 3)`` RGB frames; VideoError when no frame shows a face.

        ``memo``: face detections already made in these frames, as :meth:`FaceMouthLocator.locate` takes it.
        """
        from .face import Face
        from .landmarks import landmarks, to_template

        track = _face_track(frames, self.face_step, source, memo=memo)
        transforms = []
        for t in range(0, frames.shape[0], self.step):
            points, presence = landmarks(frames[t], Face(*(float(v) for v in track.values[t])))
            if presence >= 0.5:
                transforms.append(to_template(points))
        if not transforms:
            raise VideoError(f"{source}: the face was found but none of its landmarks, so the mouth cannot be aligned")
        # A similarity transform is [[a, -b, x], [b, a, y]]; the median of each of a, b, x, y is one too.
        to_face = np.median(np.stack(transforms), axis=0)
        scale = float(np.hypot(to_face[0, 0], to_face[1, 0]))  # template units per frame pixel
        width = max(1, round(ALIGNED_MOUTH_WIDTH / scale))  # the crop keeps the video's resolution
        height = max(1, round(width * GRID_BOX.height / GRID_BOX.width))
        pixels = width / ALIGNED_MOUTH_WIDTH  # crop pixels per template unit
        left = ALIGNED_MOUTH_CENTRE[0] - ALIGNED_MOUTH_WIDTH / 2
        top = ALIGNED_MOUTH_CENTRE[1] - height / pixels / 2
        to_crop = np.array([[pixels, 0.0, -pixels * left], [0.0, pixels, -pixels * top]]) @ np.vstack(
            [to_face, [0.0, 0.0, 1.0]]
        )
        return Warp(to_crop, width, height)
