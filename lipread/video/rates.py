"""Frame rates: what a video file states (an ``.mpg``'s sequence header, else FFmpeg's), and when a stated
rate is one to use."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .access import opencv_name
from .frame_folder import FOLDER_FPS
from .mpeg import MPEG_EXTENSIONS, sequence_rate

__all__ = ["frame_rate", "silence_opencv", "stated_rate", "usable_rate"]


def silence_opencv(cv2) -> None:  # type: ignore[no-untyped-def]
    """Turn OpenCV's own logging off (its API moved between 4.x and 5.x)."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None and hasattr(logging, "setLogLevel"):
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(0)


def frame_rate(path: str | os.PathLike[str], default: float = FOLDER_FPS, notes: list[str] | None = None) -> float:
    """The frame rate a video file states (without decoding it), or ``default`` for a frame folder or a file
    that states none (noted in ``notes`` when given).

    An MPEG program stream's (``.mpg``) rate is the one its video sequence header states
    (:func:`lipread.video.mpeg.sequence_rate`): FFmpeg estimates it from packet times, which fails on a file
    truncated to a frame or two.
    """
    p = Path(path)
    if p.is_dir():
        return default
    if p.suffix.lower() in MPEG_EXTENSIONS:
        stated = sequence_rate(p)
        if stated is not None:
            return stated
    import cv2

    silence_opencv(cv2)
    cap = cv2.VideoCapture(opencv_name(p), cv2.CAP_FFMPEG)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        cap.release()
    return usable_rate(fps, default, notes)


def stated_rate(path: Path, cap) -> float:  # type: ignore[no-untyped-def]
    """The rate an open capture of ``path`` states: an ``.mpg``'s sequence header's, else FFmpeg's (0: none)."""
    import cv2

    stated = sequence_rate(path) if path.suffix.lower() in MPEG_EXTENSIONS else None
    return stated or float(cap.get(cv2.CAP_PROP_FPS) or 0.0)


def usable_rate(fps: float, default: float, notes: list[str] | None) -> float:
    """``fps`` when it is a rate a video can have, else ``default`` (noted in ``notes`` when given)."""
    if np.isfinite(fps) and 0 < fps < 1000:  # 1000: what FFmpeg states for a stream of 1 ms time steps
        return fps
    if notes is not None:
        why = ", the time step of a file that states none" if fps == 1000 else ""
        notes.append(f"the file states no usable frame rate ({fps:g} fps{why}); read as {default:g} fps")
    return default
