"""Frame folders: a clip stored as a folder of numbered images (``1.jpg, 2.jpg, ... 75.jpg``), read in natural
order. :func:`lipread.video.reader.read_frames`, :func:`~lipread.video.reader.iter_frames` and
:func:`~lipread.video.reader.probe` read a frame folder wherever they read a video file, through this module."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import VideoError
from ..report import counted
from .access import path_problem

if TYPE_CHECKING:
    from .mouth import Box

__all__ = [
    "FOLDER_FPS",
    "IMAGE_EXTENSIONS",
    "frame_files",
    "is_frame_folder",
    "iter_folder",
    "missing_numbers",
    "numbering_notes",
    "read_folder",
    "repeated_numbers",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
"""File extensions of the images a frame folder holds (see :func:`is_frame_folder`)."""

FOLDER_FPS = 25.0
"""The frame rate of a frame folder unless the caller states one (GRID's rate; a folder states none)."""

_DIGITS = re.compile(r"(\d+)")


def _natural_key(path: Path) -> tuple[list[str | int], str]:
    """Sort key of natural order: the numbers in a name compared as numbers (``2.jpg`` before ``10.jpg``)."""
    parts = _DIGITS.split(path.stem.lower())
    return [int(t) if i % 2 else t for i, t in enumerate(parts)], path.name


def _is_numbered_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".") and bool(_DIGITS.search(path.stem))


def frame_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The numbered images of a frame folder (names with a number and an :data:`IMAGE_EXTENSIONS` extension),
    in natural order: ``1.jpg, 2.jpg, 10.jpg`` (and ``frame_2.png`` before ``frame_10.png``). Other files are
    ignored. ``[]`` for a folder without such images, or one that cannot be listed."""
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return []
    return sorted((p for p in entries if _is_numbered_image(p) and p.is_file()), key=_natural_key)


def _numbers(files: list[Path]) -> list[int]:
    return [int(_DIGITS.findall(f.stem)[-1]) for f in files]


def missing_numbers(files: list[Path]) -> list[int]:
    """The numbers a frame folder's images skip (``[31]`` for ``1.jpg ... 30.jpg, 32.jpg ...``): each is a
    frame lost, and the frames after it are read a frame early. ``[]`` when the names are numbered otherwise
    (two images with the same last number)."""
    numbers = _numbers(files)
    if len(set(numbers)) != len(numbers) or not numbers:
        return []
    return sorted(set(range(min(numbers), max(numbers) + 1)) - set(numbers))


def repeated_numbers(files: list[Path]) -> list[int]:
    """The numbers that name more than one of a frame folder's images (``[1]`` for ``1.jpg`` beside
    ``01.jpg``): each such image is read as a frame of its own, one after the other."""
    return sorted(n for n, k in Counter(_numbers(files)).items() if k > 1)


def numbering_notes(files: list[Path]) -> list[str]:
    """What to tell about the numbers of a frame folder's images ``files``: the numbers they skip
    (:func:`missing_numbers`) and those they give twice (:func:`repeated_numbers`); ``[]`` when none."""
    notes = []
    gaps, twice = missing_numbers(files), repeated_numbers(files)
    if gaps:
        notes.append(
            f"the frame folder's numbering skips {counted(len(gaps), 'number')} ({_first(gaps)}): "
            "a frame lost at each, and the frames after it read early"
        )
    if twice:
        a, b = [f.name for f, n in zip(files, _numbers(files)) if n == twice[0]][:2]
        notes.append(
            f"the frame folder's images give {counted(len(twice), 'number')} more than once ({_first(twice)}; "
            f"{a} and {b} are both frame {twice[0]}): each is read as a frame of its own, and the frames after "
            "them read late"
        )
    return notes


def _first(numbers: list[int]) -> str:
    """The first five of ``numbers``, for a note."""
    return ", ".join(map(str, numbers[:5])) + (", ..." if len(numbers) > 5 else "")


def is_frame_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a frame folder: a folder holding numbered images (see :func:`frame_files`) and no
    video files (a folder of videos with a numbered cover picture stays a folder of videos)."""
    from .reader import VIDEO_EXTENSIONS

    p = Path(path)
    if not p.is_dir():
        return False
    try:
        if any(f.suffix.lower() in VIDEO_EXTENSIONS and f.is_file() for f in p.iterdir()):
            return False
    except OSError:
        return False
    return bool(frame_files(p))


def _read_image(path: Path, folder: Path, grey: bool) -> np.ndarray:
    """One image of a frame folder as ``uint8 (H, W, 3)`` BGR, or ``(H, W)`` grey; VideoError naming the folder
    and the image when it cannot be read."""
    import cv2

    from .reader import _check_size

    try:
        data = np.fromfile(path, np.uint8)  # not cv2.imread: it fails on non-ASCII paths on Windows
    except OSError as e:
        raise VideoError(f"{folder}: cannot read frame {path.name}: {e.strerror or e}") from None
    try:
        image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR) if data.size else None
    except cv2.error:  # a header OpenCV refuses outright (a size past its limits, a damaged BMP)
        image = None
    if image is None:
        raise VideoError(f"{folder}: cannot read frame {path.name} (empty, damaged, or not an image)")
    return _check_size(folder, image)


def iter_folder(folder: Path, start: int = 0, grey: bool = False, limit: int | None = None) -> Iterator[np.ndarray]:
    """The frames of a frame folder, as :func:`iter_frames` yields a video's.

    Every frame is brought to the size of the folder's *first* image (resized with area averaging when it
    shrinks, bilinear when it grows). The first image rather than the median one, because the size must be
    known before the second frame is handed on: :func:`iter_frames` holds one frame at a time, and a folder
    read in parts (``start``) gets the same size as one read whole. The sizes of such folders differ by a
    pixel or two from frame to frame (face crops), so the choice moves the picture by less than a pixel.
    """
    import cv2

    files = frame_files(folder)
    if not files:
        try:
            os.listdir(folder)  # the true reason it lists nothing: missing, a link loop, no permission, ...
        except OSError as e:
            raise VideoError(path_problem(folder, e, "frame folder")) from None
        raise VideoError(
            f"{folder}: is a folder with no numbered images ({', '.join(IMAGE_EXTENSIONS)}): "
            "not a video file or a frame folder"
        )
    height, width = _read_image(files[0], folder, grey).shape[:2]
    end = None if limit is None else start + limit
    n = 0
    for f in files[start:end]:
        image = _read_image(f, folder, grey)
        h, w = image.shape[:2]
        if (h, w) != (height, width):
            shrink = h * w > height * width
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        if grey:
            yield image.reshape(height, width, 1)
        else:
            yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        n += 1
    if n == 0:
        raise VideoError(f"{folder}: no frames could be decoded (the folder has {len(files)} images)")


def read_folder(folder: Path, max_frames: int | None, start: int, box: Box | None, grey: bool) -> np.ndarray:
    """:func:`read_frames` of a frame folder."""
    frames = []
    for frame in iter_folder(folder, start, grey, max_frames):
        if box is not None:
            height, width = frame.shape[:2]
            if box.bottom > height or box.right > width:
                raise VideoError(
                    f"{folder}: frames of {width}x{height} pixels are smaller than the box to keep "
                    f"(rows {box.top}:{box.bottom}, cols {box.left}:{box.right})"
                )
            frame = np.ascontiguousarray(frame[box.top : box.bottom, box.left : box.right])
        frames.append(frame)
    return np.stack(frames)
