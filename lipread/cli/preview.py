"""``lipread preview VIDEO -o out.gif``: the normalised mouth crop a model sees, as an animated GIF."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..config import PRESETS, get_preset
from ..errors import ArgumentError, LipreadError
from ..video.gif import write_gif
from ..video.preprocess import load_clip
from .parsing import file_path, frame_rate, positive

MAX_SCALE = 10
"""The largest ``--scale``: a preset's crop (at most 140 pixels wide) enlarged to at most 1,400 pixels wide; the
GIF of a 3 s clip then takes at most a few hundred MB to build."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``preview`` on the ``lipread`` command's sub-parsers."""
    p = subparsers.add_parser(
        "preview",
        help="write the mouth crop a model sees as an animated GIF",
        description="Decode a video, crop and standardise the mouth as a model of the given preset sees it, "
        "and write the clip as an animated GIF (stretched to the full grey or colour range for viewing).",
    )
    p.add_argument("video", metavar="VIDEO", help="video file or frame folder (numbered images)")
    p.add_argument("-o", "--output", type=file_path, required=True, help="GIF file to write")
    p.add_argument("--preset", choices=sorted(PRESETS), default="lipnet", help="model preset (default: lipnet)")
    p.add_argument(
        "--scale",
        type=positive(int, MAX_SCALE, "a larger GIF is too big to view"),
        default=2,
        help=f"enlarge each pixel to N x N, at most {MAX_SCALE} (default: 2)",
    )
    p.add_argument(
        "--fps",
        type=frame_rate,
        default=25.0,
        help="playback frame rate, and a frame folder's (default: 25, GRID's)",
    )
    return p


def to_display(clip: np.ndarray, scale: int = 1) -> np.ndarray:
    """Model input ``float32 (T, H, W, C)`` -> ``uint8 (T, H*scale, W*scale, C)``, min..max stretched to 0..255."""
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise ArgumentError(f"scale must be a whole number from 1 to {MAX_SCALE}, not {scale!r}")
    lo, hi = float(clip.min()), float(clip.max())
    span = hi - lo if hi > lo else 1.0
    img = np.rint((clip - lo) * (255.0 / span)).astype(np.uint8)
    if scale > 1:
        img = img.repeat(scale, axis=1).repeat(scale, axis=2)
    return img


def run(args: argparse.Namespace) -> int:
    """Write the GIF; returns 0 (a bad video raises VideoError, reported by the CLI)."""
    if args.output.suffix.lower() != ".gif":  # before the clip is read; viewers tell the format by the name
        raise LipreadError(f"{args.output}: the file to write must end in .gif (the preview is a GIF)")
    config = get_preset(args.preset)
    frames = to_display(load_clip(args.video, config), args.scale)
    try:
        path = write_gif(args.output, frames, fps=args.fps)
    except OSError as e:
        raise LipreadError(f"{args.output}: cannot write the GIF: {e.strerror or e}") from None
    t, h, w = frames.shape[:3]
    print(f"{path}: {t} frames of {w}x{h} pixels ({args.preset} preset, {args.fps:g} fps)")
    return 0
