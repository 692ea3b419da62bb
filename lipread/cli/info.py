"""``lipread info VIDEO_OR_FOLDER...``: frame count, frame rate, size and duration of videos.

Folders are searched recursively for video files and frame folders, as ``lipread transcribe`` searches them
(:func:`lipread.video.discovery.find_videos`); a frame folder shows ``--fps`` (default 25) as its rate. A file
that cannot be read, or a folder without videos, is reported on stderr (``lipread: error: <path>: <reason>``)
and the others are still shown; the exit status is then 1."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import VideoError
from ..report import counted, report_error, report_warning
from ..video.discovery import find_videos
from ..video.reader import probe
from .parsing import file_path
from .transcribe import add_fps_argument, warn_fps_for_files


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``info`` on the ``lipread`` command's sub-parsers."""
    p = subparsers.add_parser(
        "info",
        help="show frames, frame rate, size and duration of videos",
        description="Decode each video and show its frame count, frame rate, size and duration. Folders are "
        "searched recursively for videos and frame folders (folders of numbered images, one clip each). A file "
        "that cannot be read, or a folder without videos, is reported and the others are still shown (exit status 1).",
    )
    p.add_argument(
        "videos",
        nargs="+",
        type=file_path,
        metavar="VIDEO_OR_FOLDER",
        help="video files, frame folders, or folders of either",
    )
    add_fps_argument(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Print one line per video; returns 1 when any could not be read (or a folder holds none), else 0."""
    files, problems = find_videos(args.videos)
    for folder, reason in problems:
        report_error(reason, folder)
    status = 1 if problems else 0
    warn_fps_for_files(args.fps, files)
    for path in files:
        try:
            info = probe(path, args.fps)
        except VideoError as e:
            report_error(e, path)
            status = 1
            continue
        for note in info.notes:  # on stderr, before the line it is about
            report_warning(note, path)
        print(
            f"{info.path}: {counted(info.frames, 'frame')}, {info.fps:g} fps, {info.width}x{info.height} pixels, "
            f"{info.duration:.2f} s"
        )
    return status
