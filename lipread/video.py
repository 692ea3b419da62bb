"""Decoding video files into RGB frames with OpenCV, with typed errors instead of tracebacks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import VideoError

if TYPE_CHECKING:
    from .mouth import Box

__all__ = ["VIDEO_EXTENSIONS", "VideoInfo", "iter_frames", "probe", "read_frames"]

VIDEO_EXTENSIONS = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".m4v")
"""File extensions treated as videos when a folder is searched."""

MAX_PIXELS = 4096 * 4096
"""Frames larger than this are refused (a guard against absurd sizes)."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds: ``frames`` counted by decoding, ``fps`` frames per second, size in pixels."""

    path: str
    frames: int
    fps: float
    width: int
    height: int

    @property
    def duration(self) -> float:
        """Length in seconds (``frames / fps``; 0 when the rate is unknown)."""
        return self.frames / self.fps if self.fps > 0 else 0.0


def _open(path: str | os.PathLike[str]):  # type: ignore[no-untyped-def]
    import cv2

    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: video file not found")
    if p.is_dir():
        raise VideoError(f"{p}: is a folder, not a video file")
    if p.stat().st_size == 0:
        raise VideoError(f"{p}: video file is empty (0 bytes)")
    # Silence OpenCV's and FFmpeg's complaints about broken files; we raise our own error instead.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    _silence_opencv(cv2)
    cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{p}: cannot decode video (not a video file, or a format OpenCV's FFmpeg cannot read)")
    return cap


def _silence_opencv(cv2) -> None:  # type: ignore[no-untyped-def]
    """Turn OpenCV's own logging off (its API moved between 4.x and 5.x)."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None and hasattr(logging, "setLogLevel"):
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(0)


def _check_complete(path: Path, cap, decoded: int) -> None:  # type: ignore[no-untyped-def]
    """VideoError when far fewer frames decoded than the container declares (a truncated or damaged file).

    MPEG program streams (``.mpg``) declare no frame count, only one estimated from the bit rate, so they
    are not checked.
    """
    import cv2

    if path.suffix.lower() in (".mpg", ".mpeg"):
        return
    count = float(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    declared = int(count) if np.isfinite(count) else 0
    if declared - decoded > max(2, declared // 10):
        raise VideoError(
            f"{path}: only {decoded} of the {declared} frames the file declares could be decoded "
            "(the file is truncated or damaged)"
        )


def iter_frames(path: str | os.PathLike[str], start: int = 0) -> Iterator[np.ndarray]:
    """Decode a video one frame at a time, holding only the current frame (for clips of any length).

    Args:
        path: a video file (any format OpenCV's FFmpeg reads: GRID's ``.mpg``, ``.mp4``, ...).
        start: skip this many frames first.

    Yields:
        ``uint8 (H, W, 3)`` RGB frames, in order.

    Raises:
        VideoError: the file is missing, empty or not decodable (on the first ``next``); a frame is too
            large; the file yields no frames, or far fewer than it declares (when the frames run out).
    """
    import cv2

    p = Path(path)
    cap = _open(p)
    try:
        index = _skip(cap, start)
        while True:
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            index += 1
            bgr = _three_channels(p, bgr)
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)  # in place: one new array per frame
        _check_complete(p, cap, index)
        if index <= start:
            raise VideoError(f"{p}: no frames could be decoded")
    finally:
        cap.release()


def _skip(cap, frames: int) -> int:  # type: ignore[no-untyped-def]
    """Decode and drop up to ``frames`` frames (no colour conversion); returns how many there were."""
    index = 0
    while index < frames and cap.grab():
        index += 1
    return index


def _three_channels(path: Path, bgr: np.ndarray) -> np.ndarray:
    """A decoded frame as ``(H, W, 3)`` BGR (grey frames are expanded); VideoError when it is too large."""
    import cv2

    if bgr.ndim != 3 or bgr.shape[2] != 3:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    if bgr.shape[0] * bgr.shape[1] > MAX_PIXELS:
        raise VideoError(f"{path}: frames of {bgr.shape[1]}x{bgr.shape[0]} pixels are too large")
    return bgr


def read_frames(
    path: str | os.PathLike[str], max_frames: int | None = None, start: int = 0, box: Box | None = None
) -> np.ndarray:
    """Decode a video into RGB frames.

    Frames are decoded straight into one preallocated array, and colour is converted only inside ``box``
    when one is given, so keeping only the mouth costs little more than decoding.

    Args:
        path: a video file (any format OpenCV's FFmpeg reads: GRID's ``.mpg``, ``.mp4``, ...).
        max_frames: stop after this many frames (None: the whole video).
        start: skip this many frames first.
        box: keep only rows ``box.top:box.bottom`` and columns ``box.left:box.right`` of every frame
            (None: whole frames).

    Returns:
        ``uint8 (T, H, W, 3)`` RGB frames, T >= 1 (H, W: the box's when one is given).

    Raises:
        VideoError: the file is missing, empty, not decodable, or yields no frames; its frames change size,
            or are smaller than ``box``.
    """
    p = Path(path)
    cap = _open(p)
    try:
        index = _skip(cap, start)
        frames, ended = _decode_into(p, cap, max_frames, box)
        if ended:
            _check_complete(p, cap, index + len(frames))
    finally:
        cap.release()
    if len(frames) == 0:
        raise VideoError(f"{p}: no frames could be decoded")
    return frames


_BUFFER_BYTES = 1 << 30
"""The most memory :func:`read_frames` sets aside up front from a file's declared frame count."""


def _decode_into(p: Path, cap, max_frames: int | None, box: Box | None) -> tuple[np.ndarray, bool]:  # type: ignore[no-untyped-def]
    """Decode up to ``max_frames`` frames into one array; returns it and whether the stream ran out.

    Whole frames are decoded in place into their slot of the array and converted to RGB there; with a
    ``box``, each frame is decoded into one reused buffer and only the box is converted into the array.
    The array is sized from the declared frame count and doubled when that was too low.
    """
    import cv2

    limit = max_frames if max_frames is not None else -1
    out = np.empty((0, 0, 0, 3), np.uint8)
    n = 0
    scratch: np.ndarray | None = None
    rows, cols = slice(None), slice(None)
    while n != limit:
        target = out[n] if box is None and n < len(out) else scratch
        ok, bgr = cap.read(target) if target is not None else cap.read()
        if not ok or bgr is None:
            return out[:n], True
        if n == 0:
            bgr = _three_channels(p, bgr)
            height, width = bgr.shape[:2]
            if box is not None:
                if box.bottom > height or box.right > width:
                    raise VideoError(
                        f"{p}: frames of {width}x{height} pixels are smaller than the box to keep "
                        f"(rows {box.top}:{box.bottom}, cols {box.left}:{box.right})"
                    )
                rows, cols = slice(box.top, box.bottom), slice(box.left, box.right)
            shape = (height, width, 3)
            out = np.empty((_capacity(cap, limit, bgr[rows, cols].nbytes), *bgr[rows, cols].shape), np.uint8)
        elif bgr.shape != shape:
            bgr = _three_channels(p, bgr)
            if bgr.shape != shape:
                raise VideoError(f"{p}: frames change size within the video")
        if n == len(out):
            out = np.concatenate([out, np.empty_like(out)])
        if box is not None:
            scratch = bgr
        cv2.cvtColor(bgr[rows, cols], cv2.COLOR_BGR2RGB, dst=out[n])
        n += 1
    return out[:n], False


def _capacity(cap, limit: int, frame_bytes: int) -> int:  # type: ignore[no-untyped-def]
    """Frames to allocate at first: the declared count (bounded by ``limit`` and :data:`_BUFFER_BYTES`), >= 1."""
    import cv2

    count = float(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    declared = int(count) + 1 if np.isfinite(count) and count > 0 else 64
    if limit >= 0:
        declared = min(declared, limit)
    return max(1, min(declared, _BUFFER_BYTES // max(1, frame_bytes)))


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count (by decoding, so it is exact), rate and size of a video.

    Raises:
        VideoError: as :func:`read_frames`.
    """
    import cv2

    p = Path(path)
    cap = _open(p)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        n, width, height = 0, 0, 0
        while cap.grab():
            if n == 0:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    height, width = frame.shape[:2]
            n += 1
        _check_complete(p, cap, n)
    finally:
        cap.release()
    if n == 0:
        raise VideoError(f"{p}: no frames could be decoded")
    return VideoInfo(str(p), n, fps if np.isfinite(fps) else 0.0, width, height)
