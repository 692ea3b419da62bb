"""Decoding video files into RGB frames, or their luma plane, with OpenCV; typed errors instead of tracebacks.

A *frame folder* (a folder of numbered images, see :func:`is_frame_folder`) is read as one clip wherever a
video file is: :func:`read_frames`, :func:`iter_frames` and :func:`probe` take either (the folder is read by
:mod:`lipread.video.frame_folder`, whose public names are this module's too).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ArgumentError, VideoError
from .access import check_readable, opencv_name
from .frame_folder import FOLDER_FPS, IMAGE_EXTENSIONS, frame_files, is_frame_folder
from .mpeg import MPEG_EXTENSIONS, truncation
from .rates import frame_rate, silence_opencv, stated_rate, usable_rate
from .timing import EvenTimes, evenly_spaced, uneven_note

if TYPE_CHECKING:
    from .mouth import Box

__all__ = [
    "FOLDER_FPS",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VideoInfo",
    "frame_files",
    "frame_rate",
    "is_frame_folder",
    "iter_frames",
    "probe",
    "read_frames",
    "shrink",
]

VIDEO_EXTENSIONS = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".m4v")
"""File extensions treated as videos when a folder is searched."""


MAX_PIXELS = 4096 * 4096
"""Frames larger than this are refused (a guard against absurd sizes)."""

LUMA_FORMATS = frozenset({"I420", "IYUV", "YV12", "J420", "Y42B", "J422", "444P", "J444", "Y41B", "YUV9", "YVU9"})
"""Pixel formats (as OpenCV's ``CAP_PROP_CODEC_PIXEL_FORMAT`` names them) whose first plane is 8-bit luma:
the planar YUV formats of most MPEG-1/2/4, H.264, VP8/9 and AV1 video. ``grey=True`` hands that plane over
as it is; other formats are decoded to colour and converted."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds: ``frames`` counted by decoding, ``fps`` frames per second (the rate lipread reads it
    at), size in pixels, and ``notes`` on the way (a rate the file states that no video can have)."""

    path: str
    frames: int
    fps: float
    width: int
    height: int
    notes: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        """Length in seconds (``frames / fps``; 0 when the rate is unknown)."""
        return self.frames / self.fps if self.fps > 0 else 0.0


def _open(path: str | os.PathLike[str]):  # type: ignore[no-untyped-def]
    """An opened ``cv2.VideoCapture``, decoding on one thread when the frames are small (see
    :data:`ONE_THREAD_PIXELS`); VideoError when the file is missing, cannot be read (the message says why:
    permission denied, a symbolic link loop, ...), is empty or is not a video."""
    import cv2

    p = Path(path)
    if check_readable(p).st_size == 0:
        raise VideoError(f"{p}: video file is empty (0 bytes)")
    # Silence OpenCV's and FFmpeg's complaints about broken files; we raise our own error instead.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    silence_opencv(cv2)
    name = opencv_name(p)
    cap = cv2.VideoCapture(name, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    if not cap.isOpened() or np.prod(_declared_size(cap)) > ONE_THREAD_PIXELS:
        cap.release()  # large frames (or an OpenCV without the parameter): FFmpeg's own choice of threads
        cap = cv2.VideoCapture(name, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        if p.suffix.lower() in (".onnx", ".safetensors"):  # arguments swapped, as often as not
            raise VideoError(f"{p}: a model file, not a video (a model is given with --model, or model=)")
        raise VideoError(f"{p}: cannot decode video (not a video file, or a format OpenCV's FFmpeg cannot read)")
    return cap


ONE_THREAD_PIXELS = 160_000
"""Videos whose frames have at most this many pixels (GRID's 360x288 has 103,680) are decoded on one thread.

For frames this small FFmpeg's frame threads cost more than they save: a GRID clip decodes in 19 ms of CPU
and wall time on one thread against 30 ms of CPU and 23 ms of wall time with the default threads (2 cores).
Larger frames keep the default, which shortens wall time."""


def _check_complete(path: Path, cap, decoded: int, notes: list[str] | None = None) -> None:  # type: ignore[no-untyped-def]
    """VideoError when far fewer frames decoded than the container declares (a truncated or damaged file);
    a note in ``notes`` when a few are missing, or when an MPEG program stream is cut off inside a packet.

    MPEG program streams (``.mpg``) declare no frame count, only one estimated from the bit rate, so their
    packets are checked instead (:func:`lipread.video.mpeg.truncation`).
    """
    import cv2

    if path.suffix.lower() in MPEG_EXTENSIONS:
        cut = truncation(path) if notes is not None else None
        if cut is not None and notes is not None:
            notes.append(f"clip cut short: {cut}; {_frames(decoded)} could be decoded")
        return
    count = float(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    declared = int(count) if np.isfinite(count) else 0
    if declared - decoded > max(2, declared // 10):
        raise VideoError(
            f"{path}: only {decoded} of the {declared} frames the file declares could be decoded "
            "(the file is truncated or damaged)"
        )
    if declared - decoded > 1 and notes is not None:
        notes.append(
            f"clip cut short: {decoded} of the {declared} frames the file declares could be decoded "
            "(the file is truncated or damaged)"
        )


def _frames(n: int) -> str:
    return f"{n} frame{'s' if n != 1 else ''}"


def iter_frames(
    path: str | os.PathLike[str],
    start: int = 0,
    grey: bool = False,
    max_pixels: int | None = None,
    notes: list[str] | None = None,
    rate: list[float] | None = None,
) -> Iterator[np.ndarray]:
    """Decode a video one frame at a time, holding only the current frame (for clips of any length).

    Args:
        path: a video file (any format OpenCV's FFmpeg reads: GRID's ``.mpg``, ``.mp4``, ...).
        start: skip this many frames first.
        grey: yield grey frames, as :func:`read_frames` with ``grey=True`` returns them.
        max_pixels: shrink frames of more pixels than this as they are decoded, keeping their aspect ratio
            (:func:`shrink`), before any colour conversion; None: full size.
        notes: when given, what the reader noticed and the caller may want to tell is appended to it: a clip
            cut short (a few frames fewer than the file declares, or an ``.mpg`` cut off inside a packet), a
            frame folder whose numbering skips images or gives a number twice.
        rate: when given, the file's frame rate is appended to it once the file is open, before the first
            frame is yielded: what ``frame_rate(path, notes=notes)`` gives, read from the capture already open
            rather than by opening the file a second time. Nothing is appended for a frame folder.

    Yields:
        ``uint8 (H, W, 3)`` RGB frames (``(H, W, 1)`` grey with ``grey``), in order, evenly spaced in time at
        the file's rate: frames that are not (a variable frame rate) are placed at their presentation times,
        some shown twice or dropped (:class:`lipread.video.timing.EvenTimes`), and noted in ``notes``.

    Raises:
        VideoError: the file is missing, empty or not decodable (on the first ``next``); a frame is too
            large; the file yields no frames, or far fewer than it declares (when the frames run out); a frame
            folder holds no numbered images, or an image that cannot be read.
        ArgumentError: ``start`` is not a whole number >= 0 (on the first ``next``).
    """
    _check_span(start)
    p = Path(path)
    if p.is_dir():
        from .frame_folder import iter_folder, numbering_notes

        if notes is not None:
            notes += numbering_notes(frame_files(p))
        for frame in iter_folder(p, start, grey):
            yield frame if max_pixels is None else shrink(frame, max_pixels)
        return
    cap = _open(p)
    try:
        fps = usable_rate(stated_rate(p, cap), FOLDER_FPS, notes if rate is not None else None)
        if rate is not None:
            rate.append(fps)
        luma = grey and _luma_plane(cap)
        index = _skip(cap, start)
        times: list[float] = []  # presentation times (ms), to tell a variable frame rate
        even = EvenTimes(1000.0 / fps)
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            times.append(_time_ms(cap))
            if index == start:
                luma = luma and _is_luma_plane(cap, frame)
            index += 1
            frame = _check_size(p, frame) if luma else _three_channels(p, frame)
            if max_pixels is not None:
                frame = shrink(frame, max_pixels)
            out = np.empty((*frame.shape[:2], 1), np.uint8) if grey else frame  # RGB in place
            _convert(frame, grey, luma, out)
            yield from even.hold(out, times[-1])
        yield from even.release()
        _check_complete(p, cap, index, notes)
        if index <= start:
            raise VideoError(f"{p}: no frames could be decoded")
        uneven = uneven_note(times, even)
        if uneven is not None and notes is not None:
            notes.append(uneven)
    finally:
        cap.release()


def _time_ms(cap) -> float:  # type: ignore[no-untyped-def]
    """The presentation time of the frame ``cap`` decoded last, in milliseconds."""
    import cv2

    return float(cap.get(cv2.CAP_PROP_POS_MSEC))


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
    return _check_size(path, bgr)


def _check_size(path: Path, frame: np.ndarray) -> np.ndarray:
    """``frame``; VideoError when it has more than :data:`MAX_PIXELS` pixels."""
    if frame.shape[0] * frame.shape[1] > MAX_PIXELS:
        raise VideoError(f"{path}: frames of {frame.shape[1]}x{frame.shape[0]} pixels are too large")
    return frame


def shrink(frame: np.ndarray, max_pixels: int) -> np.ndarray:
    """``frame`` (``(H, W)`` or ``(H, W, C)``) reduced by area averaging to the largest size with at most
    ``max_pixels`` pixels and the same aspect ratio (to within a pixel); the frame itself when it is no larger."""
    import cv2

    h, w = frame.shape[:2]
    if h * w <= max_pixels:
        return frame
    scale = (max_pixels / (h * w)) ** 0.5
    size = (max(1, int(w * scale)), max(1, int(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], *frame.shape[2:])


def read_frames(
    path: str | os.PathLike[str],
    max_frames: int | None = None,
    start: int = 0,
    box: Box | None = None,
    grey: bool = False,
) -> np.ndarray:
    """Decode a video into RGB frames, or grey ones.

    Frames are decoded straight into one preallocated array, and colour is converted only inside ``box``
    when one is given, so keeping only the mouth costs little more than decoding.

    Args:
        path: a video file (any format OpenCV's FFmpeg reads: GRID's ``.mpg``, ``.mp4``, ...).
        max_frames: stop after this many frames (None: the whole video).
        start: skip this many frames first.
        box: keep only rows ``box.top:box.bottom`` and columns ``box.left:box.right`` of every frame
            (None: whole frames).
        grey: return the video's luma (Y) plane instead of RGB, as the codec stores it (the BT.601 or BT.709
            weighted sum of the colours, usually in the 16-235 range), with no colour conversion at all: 1.15x
            faster than RGB on GRID's H.264 clips, 2x on its MPEG-1 ones. Videos whose pixel format is not in
            :data:`LUMA_FORMATS`, or an OpenCV whose FFmpeg backend ignores ``CAP_PROP_CONVERT_RGB``, give
            OpenCV's BT.601 grey of the decoded colours instead.

    Returns:
        ``uint8 (T, H, W, 3)`` RGB frames (``(T, H, W, 1)`` grey with ``grey``), T >= 1 (H, W: the box's when
        one is given), evenly spaced in time at the file's rate as :func:`iter_frames` yields them (``start``
        and ``max_frames`` count the frames as the file stores them).

    A frame folder (see :func:`is_frame_folder`) is read the same way, its images in natural order; images
    of another size than the folder's first are resized to it (see :func:`iter_frames`).

    Raises:
        VideoError: the file is missing, empty, not decodable, or yields no frames; its frames change size,
            or are smaller than ``box``; a frame folder holds no numbered images, or one that cannot be read.
        ArgumentError: ``start`` is not a whole number >= 0, or ``max_frames`` not None or one >= 1.
    """
    _check_span(start, max_frames)
    p = Path(path)
    if p.is_dir():
        from .frame_folder import read_folder

        return read_folder(p, max_frames, start, box, grey)
    cap = _open(p)
    try:
        fps = usable_rate(stated_rate(p, cap), FOLDER_FPS, None)
        luma = grey and _luma_plane(cap)
        index = _skip(cap, start)
        times: list[float] = []
        frames, ended = _decode_into(p, cap, max_frames, box, grey, luma, times)
        if ended:
            _check_complete(p, cap, index + len(frames))
    finally:
        cap.release()
    if len(frames) == 0:
        raise VideoError(f"{p}: no frames could be decoded")
    return evenly_spaced(frames, times, fps)


def _luma_plane(cap) -> bool:  # type: ignore[no-untyped-def]
    """Ask ``cap`` for the luma plane instead of BGR; whether the pixel format allows it (see :data:`LUMA_FORMATS`)."""
    import cv2

    return _pixel_format(cap) in LUMA_FORMATS and bool(cap.set(cv2.CAP_PROP_CONVERT_RGB, 0))


def _pixel_format(cap) -> str:  # type: ignore[no-untyped-def]
    """The decoder's pixel format as a four-character code (``"I420"`` for 8-bit 4:2:0 YUV), or ``""``."""
    import cv2

    code = int(cap.get(getattr(cv2, "CAP_PROP_CODEC_PIXEL_FORMAT", -1)) or 0)
    return "".join(chr((code >> shift) & 0xFF) for shift in (0, 8, 16, 24)) if code > 0 else ""


_BUFFER_BYTES = 1 << 30
"""The most memory :func:`read_frames` sets aside up front from a file's declared frame count."""


def _decode_into(  # type: ignore[no-untyped-def]
    p: Path, cap, max_frames: int | None, box: Box | None, grey: bool, luma: bool, times: list[float]
) -> tuple[np.ndarray, bool]:
    """Decode up to ``max_frames`` frames into one array; returns it and whether the stream ran out. Each
    frame's presentation time (milliseconds) is appended to ``times``.

    RGB: whole frames are decoded in place into their slot of the array and all converted to RGB at the end,
    in one call (a call per frame leaves OpenCV's worker threads spinning between frames, which doubles the
    CPU time of the conversion); with a ``box``, each frame is decoded into one reused buffer and only the
    box is converted into the array.
    Grey: each frame is decoded into one reused buffer and the box copied (``luma``: ``cap`` was asked for the
    luma plane, which is used when the first frame is one 8-bit plane of the declared size) or converted.
    The array is sized from the declared frame count and doubled when that was too low.
    """

    limit = max_frames if max_frames is not None else -1
    out = np.empty((0, 0, 0, 1 if grey else 3), np.uint8)
    n = 0
    scratch: np.ndarray | None = None
    rows, cols = slice(None), slice(None)
    whole = box is None and not grey  # whole RGB frames: decoded in place, converted at the end
    ended = False
    while n != limit:
        target = out[n] if whole and n < len(out) else scratch
        ok, frame = cap.read(target) if target is not None else cap.read()
        if not ok or frame is None:
            ended = True
            break
        times.append(_time_ms(cap))
        if n == 0:
            luma = luma and _is_luma_plane(cap, frame)
            frame = _check_size(p, frame) if luma else _three_channels(p, frame)
            height, width = frame.shape[:2]
            if box is not None:
                if box.bottom > height or box.right > width:
                    raise VideoError(
                        f"{p}: frames of {width}x{height} pixels are smaller than the box to keep "
                        f"(rows {box.top}:{box.bottom}, cols {box.left}:{box.right})"
                    )
                rows, cols = slice(box.top, box.bottom), slice(box.left, box.right)
            shape = frame.shape
            h, w, c = *frame[rows, cols].shape[:2], out.shape[3]
            out = np.empty((_capacity(cap, limit, h * w * c), h, w, c), np.uint8)
        elif frame.shape != shape:
            if not luma:
                frame = _three_channels(p, frame)
            if frame.shape != shape:
                raise VideoError(f"{p}: frames change size within the video")
        if n == len(out):
            out = np.concatenate([out, np.empty_like(out)])
        if whole:
            if frame is not target:
                out[n] = frame
        else:
            scratch = frame
            _convert(frame[rows, cols], grey, luma, out[n])
        n += 1
    return _to_rgb(out[:n]) if whole else out[:n], ended


def _to_rgb(frames: np.ndarray) -> np.ndarray:
    """``uint8 (T, H, W, 3)`` BGR frames converted to RGB in one OpenCV call (in place: they are contiguous)."""
    import cv2

    if not frames.size:
        return frames
    rows = frames.reshape(-1, frames.shape[2], 3)
    return cv2.cvtColor(rows, cv2.COLOR_BGR2RGB, dst=rows).reshape(frames.shape)


def _is_luma_plane(cap, frame: np.ndarray) -> bool:  # type: ignore[no-untyped-def]
    """Whether a frame read after asking for the luma plane is that plane: one 8-bit plane of the declared size."""
    return frame.ndim == 2 and frame.dtype == np.uint8 and frame.shape == _declared_size(cap)


def _convert(frame: np.ndarray, grey: bool, luma: bool, dst: np.ndarray) -> None:
    """Write a decoded frame (BGR, or the luma plane when ``luma``) into ``dst``: RGB ``(H, W, 3)`` or grey
    ``(H, W, 1)``. For RGB ``dst`` may be ``frame`` itself."""
    import cv2

    if luma:
        dst[:, :, 0] = frame
    elif grey:
        cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY, dst=dst[:, :, 0])
    else:
        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB, dst=dst)


def _declared_size(cap) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """``(height, width)`` the container declares."""
    import cv2

    return int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))


def _capacity(cap, limit: int, frame_bytes: int) -> int:  # type: ignore[no-untyped-def]
    """Frames to allocate at first: the declared count (bounded by ``limit`` and :data:`_BUFFER_BYTES`), >= 1."""
    import cv2

    count = float(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    declared = int(count) + 1 if np.isfinite(count) and count > 0 else 64
    if limit >= 0:
        declared = min(declared, limit)
    return max(1, min(declared, _BUFFER_BYTES // max(1, frame_bytes)))


def probe(path: str | os.PathLike[str], fps: float | None = None) -> VideoInfo:
    """Frame count (by decoding, so it is exact), rate and size of a video or a frame folder.

    Args:
        path: a video file or a frame folder.
        fps: a frame folder's frame rate (default :data:`FOLDER_FPS`); a video file's own rate is always used
            (:data:`FOLDER_FPS` too, with a note, where the file states none a video can have).

    Raises:
        VideoError: as :func:`read_frames`.
        ArgumentError: ``fps`` is not None or a positive, finite number.
    """
    if fps is not None and (
        isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not (np.isfinite(fps) and fps > 0)
    ):
        raise ArgumentError(f"fps must be a positive number of frames per second, not {fps!r}")
    p = Path(path)
    if p.is_dir():
        from .frame_folder import iter_folder

        n, height, width = 0, 0, 0
        for frame in iter_folder(p):
            if n == 0:
                height, width = frame.shape[:2]
            n += 1
        return VideoInfo(str(p), n, float(fps) if fps else FOLDER_FPS, width, height)
    cap = _open(p)
    notes: list[str] = []
    try:
        fps = usable_rate(stated_rate(p, cap), FOLDER_FPS, notes)  # as transcribe reads the file
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
    return VideoInfo(str(p), n, fps, width, height, tuple(notes))


def _check_span(start: object, max_frames: object = None) -> None:
    """Raises ArgumentError unless ``start`` is a whole number >= 0 and ``max_frames`` None or one >= 1 (a
    negative number would count from the end in a frame folder and be ignored in a file)."""
    for name, value, low in (("start", start, 0), ("max_frames", max_frames, 1)):
        if value is None and name == "max_frames":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ArgumentError(f"{name} must be a whole number of frames >= {low}, not {value!r}")
