"""``lipread data grid --speakers 1-34 --dest DIR``: download the GRID corpus into a folder ``lipread train`` reads.

The work is done by :func:`lipread.data.grid_download.download_grid`, which says where the archives come from
and how they are checked.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..data.download import read_checksums
from ..data.grid_download import SOURCES, download_grid, parse_speakers
from ..errors import ArgumentError
from ..progress import add_progress_argument
from .parsing import file_path, non_negative

CORPORA = ("grid",)
"""The corpora ``lipread data`` can download."""


def _speakers(text: str) -> tuple[int, ...]:
    """``--speakers`` as numbers; a bad value is a usage error with the reason."""
    try:
        return parse_speakers(text)
    except ArgumentError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--speakers: ")) from None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``data``."""
    p = subparsers.add_parser(
        "data",
        help="download the GRID corpus (video and alignments) into a data folder",
        description="Download a corpus's published archives, check them, and unpack them into a folder that "
        "lipread train reads (DEST/s<N>/*.mpg and DEST/alignments/s<N>/*.align). A download that is cut off "
        "resumes where it stopped when the command is run again. GRID is CC BY 4.0: credit it "
        "(Cooke, Barker, Cunningham and Shao, 2006) wherever you show results made with it.",
    )
    p.add_argument("corpus", choices=CORPORA, metavar="CORPUS", help="the corpus: grid")
    p.add_argument("--dest", type=file_path, required=True, metavar="DIR", help="data folder to fill (created)")
    p.add_argument(
        "--speakers",
        type=_speakers,
        default="1",
        help="speakers, e.g. 1-34 or 1,3,5-7; 21 has no video (default: 1)",
    )
    p.add_argument(
        "--quality",
        choices=("normal", "high"),
        default="normal",
        help="video: normal (360x288 MPEG-1) or high (720x576, much larger files; sheffield only) (default: normal)",
    )
    p.add_argument(
        "--source",
        choices=tuple(SOURCES),
        default="zenodo",
        help=f"publisher: zenodo ({SOURCES['zenodo']}) or sheffield ({SOURCES['sheffield']}) (default: zenodo)",
    )
    p.add_argument(
        "--mirror",
        metavar="URL",
        help="base URL of a copy of the source's files in the same paths, used instead of the source's own "
        "(default: the source's URL)",
    )
    p.add_argument(
        "--checksums",
        type=file_path,
        metavar="FILE",
        help="sha256sum-style file ('<sha256>  <archive name>' per line) to check the archives against "
        "(default: sizes and archive integrity only; no published checksums ship)",
    )
    p.add_argument("--keep-archives", action="store_true", help="keep the archives in DEST/.downloads after unpacking")
    p.add_argument(
        "--retries",
        type=non_negative(int),
        default=2,
        help="attempts to resume a transfer cut off, before giving up (default: 2)",
    )
    add_progress_argument(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Download, unpack, and print what the folder now holds; 0 (a failure raises a one-line LipreadError)."""
    summary = download_grid(
        args.dest,
        args.speakers,
        quality=args.quality,
        source=args.source,
        mirror=args.mirror,
        checksums=read_checksums(args.checksums) if args.checksums else None,
        keep_archives=args.keep_archives,
        retries=args.retries,
        progress=args.progress,
    )
    names = ", ".join(f"s{n}" for n in summary.speakers)
    print(f"{summary.dest}: {summary.videos} clips and {summary.alignments} alignments of {names}")
    print(f"next: lipread train {summary.dest} -o run")
    return 0
