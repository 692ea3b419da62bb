"""``lipread preview VIDEO -o out.gif``: the normalised mouth crop a model sees, as an animated GIF."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..config import PRESETS, get_preset
from ..errors import LipreadError, VideoError
from ..transcription.frames import MODEL_FPS, resample
from ..video.gif import write_gif
from ..video.preprocess import load_clip
from ..video.rates import frame_rate
from .parsing import file_path, positive, with_crop
from .parsing import frame_rate as rate_argument

MAX_SCALE = 10
"""The largest ``--scale``: a preset's crop (at most 140 pixels wide) enlarged to at most 1,400 pixels wide
(the GIF writer enlarges one frame at a time, so memory follows the clip's length, not the scale)."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``preview`` on the ``lipread`` command's sub-parsers."""
    p = subparsers.add_parser(
        "preview",
        help="write the mouth crop a model sees as an animated GIF",
        description="Decode a video, crop and standardise the mouth as a model of the given preset sees it, "
        "and write the clip as an animated GIF (stretched to the full grey or colour range for viewing).",
    )
    p.add_argument("video", metavar="VIDEO", type=file_path, help="video file or frame folder (numbered images)")
    p.add_argument("-o", "--output", type=file_path, required=True, help="GIF file to write")
    p.add_argument("--preset", choices=sorted(PRESETS), default="lipnet", help="model preset (default: lipnet)")
    p.add_argument(
        "--crop",
        choices=("lipnet", "aligned"),
        help="the mouth crop of an RGB model, as lipread train --crop chooses it: lipnet (an upright box from the "
        "face detector) or aligned (the face brought to a mean face by its landmarks first) (default: the preset's)",
    )
    p.add_argument(
        "--scale",
        type=positive(int, MAX_SCALE, "a larger GIF is too big to view"),
        default=2,
        help=f"enlarge each pixel to N x N, at most {MAX_SCALE} (default: 2)",
    )
    p.add_argument(
        "--fps",
        type=rate_argument,
        help="the video's frame rate (default: the rate the file states; 25 for a frame folder); the GIF "
        "plays at the model's 25 fps, frames dropped or repeated as lipread transcribe does",
    )
    return p


def to_display(clip: np.ndarray) -> np.ndarray:
    """Model input ``float32 (T, H, W, C)`` -> ``uint8 (T, H, W, C)``, min..max stretched to 0..255."""
    lo, hi = float(clip.min()), float(clip.max())
    span = hi - lo if hi > lo else 1.0
    return np.rint((clip - lo) * (255.0 / span)).astype(np.uint8)


def run(args: argparse.Namespace) -> int:
    """Write the GIF; returns 0 (a bad video raises VideoError, reported by the CLI)."""
    if args.output.suffix.lower() != ".gif":  # before the clip is read; viewers tell the format by the name
        raise LipreadError(f"{args.output}: the file to write must end in .gif (the preview is a GIF)")
    config = get_preset(args.preset)
    if args.crop is not None:
        config = with_crop(config, args.crop)
    crops = load_clip(args.video, config)
    rate = args.fps or frame_rate(args.video)
    resampled = list(resample(iter(crops), rate))  # the frames the model reads, at its rate
    if not resampled:  # e.g. one frame of a 60 fps file: no 25 fps frame falls within it
        n = len(crops)
        raise VideoError(
            f"{args.video}: too short to preview: {n} frame{'s' if n != 1 else ''} at {rate:g} fps "
            f"({n / rate:.3f} s) hold no frame at the model's {MODEL_FPS:g} fps"
        )
    frames = to_display(np.stack(resampled))
    try:  # enlarged inside the GIF writer, after its palette: memory of the clip's size, not the GIF's
        path = write_gif(args.output, frames, fps=MODEL_FPS, scale=args.scale)
    except OSError as e:
        raise LipreadError(f"{args.output}: cannot write the GIF: {e.strerror or e}") from None
    t, h, w = frames.shape[:3]
    source = "" if round(rate * 1000) == round(MODEL_FPS * 1000) else f", from {rate:g} fps"
    print(
        f"{path}: {t} frame{'s' if t != 1 else ''} of {w * args.scale}x{h * args.scale} pixels "
        f"({args.preset} preset{', ' + args.crop + ' crop' if args.crop else ''}, {MODEL_FPS:g} fps{source})"
    )
    return 0
