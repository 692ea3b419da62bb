"""Finding the clips that paths name: video files, frame folders, and folders searched for both."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .frame_folder import is_frame_folder
from .reader import VIDEO_EXTENSIONS

__all__ = ["find_videos"]


def find_videos(inputs: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The clips ``inputs`` name, and the inputs in which none could be found.

    A path that is not a folder stays itself (a video file, or a path whose reading will say what is wrong with
    it). A frame folder (numbered images, :func:`lipread.video.frame_folder.is_frame_folder`) is one clip. Any
    other folder is searched recursively, through linked folders too (each real folder once), for video files
    (:data:`lipread.video.reader.VIDEO_EXTENSIONS`) and frame folders (whose own sub-folders are not searched),
    sorted by path.

    Returns:
        ``(clips, problems)``: the clips in the order of ``inputs``; ``problems`` holds ``(folder, reason)`` for
        each searched folder that holds no clip, or one of whose folders cannot be listed.
    """
    clips: list[Path] = []
    problems: list[tuple[Path, str]] = []
    for item in map(Path, inputs):
        if not item.is_dir() or is_frame_folder(item):
            clips.append(item)
            continue
        found: list[Path] = []
        unlisted: list[OSError] = []  # os.walk skips what it cannot list; each is named, whatever else is found
        seen: set[str] = set()
        for top, dirs, names in os.walk(item, onerror=unlisted.append, followlinks=True):
            real = os.path.realpath(top)
            if real in seen:  # a link back to a folder already searched
                dirs[:] = []
                continue
            seen.add(real)
            here = Path(top)
            found += (here / n for n in names if Path(n).suffix.lower() in VIDEO_EXTENSIONS)
            frame_dirs = {d for d in dirs if is_frame_folder(here / d)}
            found += (here / d for d in frame_dirs)
            dirs[:] = sorted(d for d in dirs if d not in frame_dirs)
        for error in unlisted:
            where = os.path.relpath(error.filename, item) if error.filename else "."
            what = "the folder" if where == "." else f"its folder {where}"
            problems.append((item, f"cannot list {what}: {error.strerror}"))
        if not found and not unlisted:
            kinds = ", ".join(VIDEO_EXTENSIONS)
            problems.append((item, f"no videos found ({kinds}) and no frame folders (numbered images)"))
        clips += sorted(found)
    return clips, problems
