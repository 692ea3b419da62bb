"""Frame sources for ``lipread live``: a camera, a stream address, or a video file, as RGB frames one at a time.

:func:`open_source` opens one and fails at once, with a :class:`~lipread.errors.VideoError`, when it cannot
be opened. What goes wrong later does not end in an exception in the middle of reading: the source stops
delivering frames and keeps the error in :attr:`FrameSource.error`, so that the utterance in progress can
still be read before the error is reported.

- A camera's or a stream's frames are read ahead on a thread of their own (up to :data:`READ_AHEAD_SECONDS`),
  so that none is lost while the model runs.
- A camera that delivers no frame for :data:`STALL_SECONDS` has stopped (unplugged, taken by another program).
- A stream that drops is opened again, up to :data:`RECONNECTS` times in a row; a stream that states its
  length (a file served over HTTP) simply ends. Opening and reading time out after :data:`STALL_SECONDS`,
  where OpenCV's FFmpeg backend supports it, so a dead server does not hang the reader.
- A video file is decoded as :func:`lipread.video.reader.iter_frames` decodes it, as fast as it can be read,
  or, with ``realtime``, paced at its frame rate as a camera would deliver it.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VideoError
from ..video.access import opencv_name

__all__ = [
    "CAMERA_FPS",
    "MAX_CAMERA",
    "READ_AHEAD_SECONDS",
    "RECONNECTS",
    "STALL_SECONDS",
    "FrameSource",
    "open_source",
]

STALL_SECONDS = 5.0
"""A camera or stream that delivers no frame for this long has stopped; also the open and read timeout."""

RECONNECTS = 3
"""Times in a row a dropped stream is opened again before reading gives up."""

CAMERA_FPS = 30.0
"""The frame rate assumed for a camera or stream that does not state a plausible one."""

READ_AHEAD_SECONDS = 2.0
"""Frames of a camera or stream read ahead, on a thread of their own, while the model runs: without them the
driver drops the frames that arrive meanwhile, and with them the words spoken then."""


def _video_capture(target: int | str) -> Any:
    """An opened-or-not ``cv2.VideoCapture`` for a camera index or a stream address."""
    import cv2

    # OpenCV and FFmpeg log their own complaints about a missing camera or server; ours is the one line
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None and hasattr(logging, "setLogLevel"):
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    if isinstance(target, int):
        return cv2.VideoCapture(target)
    timeout = int(STALL_SECONDS * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout]
    return cv2.VideoCapture(opencv_name(target), cv2.CAP_FFMPEG, params)


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    """An OpenCV frame (BGR, BGRA or grey) -> ``uint8 (H, W, 3)`` RGB."""
    import cv2

    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB if frame.shape[2] == 4 else cv2.COLOR_BGR2RGB)


class FrameSource:
    """Frames of a camera, a stream address or a video file; made by :func:`open_source`.

    Attributes:
        name: the source in messages (``camera 0``, the address, the file).
        kind: ``"camera"``, ``"stream"`` or ``"file"``.
        fps: its frame rate (frames per second): the stated one, else :data:`CAMERA_FPS` (or 25 for a file).
        error: why the source stopped before its end (None while it delivers, and when it simply ended).
        notes: what was noticed while a file was read (a file cut short), one sentence each, as a
            transcript's warnings say it; complete once :meth:`frames` has ended.
    """

    def __init__(self, name: str, kind: str, fps: float, frames: Iterator[np.ndarray]) -> None:
        self.name, self.kind, self.fps = name, kind, fps
        self.error: VideoError | None = None
        self.notes: list[str] = []
        self._frames = frames
        self._stopped = False

    def stop(self) -> None:
        """Deliver no more frames (safe to call from a signal handler): :meth:`frames` ends at the next one."""
        self._stopped = True

    def frames(self) -> Iterator[np.ndarray]:
        """``uint8 (H, W, 3)`` RGB frames until the source ends, fails (see :attr:`error`) or is stopped."""
        try:
            for frame in self._frames:
                if self._stopped:
                    break
                yield frame
        except VideoError as e:
            self.error = e
        finally:
            close = getattr(self._frames, "close", None)
            if close is not None:
                close()  # a camera or stream is released now, not when this source is collected


MAX_CAMERA = 2**31 - 1
"""The largest camera index OpenCV can be asked for."""


def open_source(spec: str, realtime: bool = False, fps: float | None = None) -> FrameSource:
    """Open a camera (``"0"``, ``"1"``, ...), a stream address (``rtsp://...``, ``http://...``) or a video file.

    Args:
        spec: a camera index, an address with ``://``, or a path (a video file or a frame folder).
        realtime: pace a file at its frame rate (cameras and streams pace themselves).
        fps: the file's frame rate, where the caller knows better than the file (a frame folder states none):
            the rate ``realtime`` paces it at.

    Raises:
        VideoError: the camera or stream cannot be opened; the file is missing or cannot be decoded.
    """
    if spec.isascii() and spec.isdigit():  # ASCII: "²" is a digit to str.isdigit but no number to int()
        if int(spec) > MAX_CAMERA:  # OpenCV takes a C int, and would fail on a larger one with a traceback
            raise VideoError(f"camera {spec}: cannot be opened (no such camera)")
        return _open_capture(int(spec), f"camera {spec}", "camera")
    if "://" in spec:
        return _open_capture(spec, spec, "stream")
    from ..video.reader import iter_frames

    stated: list[float] = []
    notes: list[str] = []
    frames = iter_frames(spec, notes=notes, rate=stated)
    first = next(frames)  # a missing or undecodable file fails here, not while reading
    own = stated[0] if stated else 25.0
    source = FrameSource(str(Path(spec)), "file", own, _chain(first, frames))
    source.notes = notes  # the reader adds to it as it goes
    if realtime:
        source._frames = _paced(source._frames, fps or own)
    return source


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _paced(frames: Iterator[np.ndarray], fps: float) -> Iterator[np.ndarray]:
    """Frame ``i`` no sooner than ``i / fps`` seconds after the first (late frames are not waited for)."""
    start = time.monotonic()
    for i, frame in enumerate(frames):
        delay = start + i / fps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield frame


def _open_capture(target: int | str, name: str, kind: str) -> FrameSource:
    cap = _video_capture(target)
    if not cap.isOpened():
        cap.release()
        why = "no such camera, or another program is using it" if kind == "camera" else "cannot connect or decode"
        raise VideoError(f"{name}: cannot be opened ({why})")
    import cv2

    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    fps = fps if math.isfinite(fps) and 1.0 <= fps <= 1000.0 else CAMERA_FPS
    count = float(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0)
    finite = kind == "stream" and math.isfinite(count) and count > 0
    frames = _read_capture(cap, target, name, kind, finite)
    return FrameSource(name, kind, fps, _read_ahead(frames, max(1, round(READ_AHEAD_SECONDS * fps))))


def _read_ahead(frames: Generator[np.ndarray, None, None], most: int) -> Iterator[np.ndarray]:
    """The items of ``frames``, taken on a thread of their own up to ``most`` ahead of the consumer; the
    VideoError that ends them is raised here, in order. Closing this generator stops the thread."""
    ahead: queue.Queue[Any] = queue.Queue(maxsize=most)
    stop = threading.Event()
    end = object()

    def take() -> None:
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        ahead.put(frame, timeout=0.1)
                        break
                    except queue.Full:  # the reader is behind: wait (the driver keeps the newest frames)
                        continue
                if stop.is_set():
                    break
        except VideoError as e:
            ahead.put(e)
        finally:
            frames.close()  # releases the capture
            ahead.put(end)

    worker = threading.Thread(target=take, name="lipread-live-source", daemon=True)
    worker.start()
    try:
        while True:
            item = ahead.get()
            if item is end:
                return
            if isinstance(item, VideoError):
                raise item
            yield item
    finally:
        stop.set()
        give_up = time.monotonic() + STALL_SECONDS
        while worker.is_alive() and time.monotonic() < give_up:  # it ends after its current read
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.1)  # out of a full queue


def _read_capture(cap: Any, target: int | str, name: str, kind: str, finite: bool) -> Generator[np.ndarray, None, None]:
    """The frames of an opened capture; VideoError when a camera stalls or a stream cannot be reopened."""
    reconnects = 0
    last = time.monotonic()
    try:
        while True:
            ok, frame = cap.read()
            if ok and frame is not None and frame.size:
                last, reconnects = time.monotonic(), 0
                yield _to_rgb(frame)
                continue
            if kind == "camera":
                if time.monotonic() - last > STALL_SECONDS:
                    raise VideoError(f"{name}: stopped delivering frames (none for {STALL_SECONDS:g} s)")
                time.sleep(0.01)  # a camera between frames: wait for the next
                continue
            if finite:
                return
            if reconnects == RECONNECTS:
                raise VideoError(f"{name}: the stream dropped and could not be opened again ({RECONNECTS} tries)")
            reconnects += 1
            cap.release()
            cap = _video_capture(target)
    finally:
        cap.release()
