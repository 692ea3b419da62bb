"""``lipread info VIDEO...``: frame count, frame rate, size and duration of videos."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import VideoError
from ..video import probe


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``info`` on the ``lipread`` command's sub-parsers."""
    p = subparsers.add_parser(
        "info",
        help="show frames, frame rate, size and duration of videos",
        description="Decode each video and show its frame count, frame rate, size and duration. "
        "A file that cannot be read is reported and the others are still shown (exit status 1).",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files")
    return p


def run(args: argparse.Namespace) -> int:
    """Print one line per video; returns 1 when any could not be read, else 0."""
    status = 0
    for path in args.videos:
        try:
            info = probe(path)
        except VideoError as e:
            print(f"lipread: error: {e}", file=sys.stderr)
            status = 1
            continue
        print(
            f"{info.path}: {info.frames} frames, {info.fps:g} fps, {info.width}x{info.height} pixels, "
            f"{info.duration:.2f} s"
        )
    return status
