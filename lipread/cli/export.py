"""``lipread export CHECKPOINT -o model.onnx``: export a canonical checkpoint to ONNX with any backend that can."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ModelConfig
from ..errors import BackendError, LipreadError, VideoError
from .parsing import UsageError, file_path

__all__ = ["CALIBRATION_CLIPS", "add_parser", "run"]

CALIBRATION_CLIPS = 32
"""At most this many clips calibrate an int8 export."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``export`` on the ``lipread`` command's sub-parsers."""
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint to ONNX",
        description="Load a canonical .safetensors checkpoint with a backend and export it to ONNX (inputs "
        "'frames' float32 (B,T,H,W,C) and 'lengths' int32 (B,), output 'logprobs' (B,T,V); batch and time "
        "dynamic; the checkpoint's metadata is kept). The result runs with `--backend onnx`.",
    )
    p.add_argument(
        "checkpoint", type=file_path, help="a .safetensors checkpoint written by lipread, or a shipped model's name"
    )
    p.add_argument("-o", "--output", type=file_path, required=True, help="the .onnx file to write")
    p.add_argument("--backend", default="torch", help="backend that exports (default: torch)")
    p.add_argument(
        "--fp16-weights",
        action="store_true",
        help="store the weights as float16 (half the file size; arithmetic stays float32). Without it, "
        "the weights the checkpoint stores in 16 bits (float16 or fixed point) stay 16-bit, losslessly",
    )
    p.add_argument(
        "--quantize",
        choices=["int8"],
        help="write an int8 model for faster CPU inference (ONNX Runtime's quantisation; see --calibration)",
    )
    p.add_argument(
        "--calibration",
        nargs="+",
        type=file_path,
        metavar="VIDEO_OR_FOLDER",
        help="clips to calibrate int8 activations on (folders searched recursively; the first "
        f"{CALIBRATION_CLIPS} videos that can be read are used, the others reported): convolutions become int8 "
        "too, about twice as fast; without them only the matrix multiplications are quantised",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Export; prints the path written. Returns 0."""
    from ..backend import get_backend
    from ..models import source_checkpoint

    if args.calibration and not args.quantize:  # the command line first, then the files it names
        raise UsageError("--calibration is only used with --quantize int8")
    if args.quantize and args.fp16_weights:
        raise UsageError("--quantize int8 and --fp16-weights do not go together; choose one")
    if args.output.suffix.lower() != ".onnx":  # lipread (and most tools) tell an ONNX model by its name
        raise LipreadError(f"{args.output}: the file to write must end in .onnx")
    checkpoint = source_checkpoint(args.checkpoint, "be exported again")
    backend = get_backend(args.backend)
    if "export" not in backend.capabilities:
        raise BackendError(f"backend {backend.name!r} cannot export; use --backend torch or --backend tensorflow")
    model = backend.load(checkpoint)
    clips = _calibration_clips(args.calibration or [], model.config) if args.quantize else []  # before any writing
    if args.output.is_dir():
        raise LipreadError(f"{args.output}: is a folder; give the .onnx file to write")
    # Every step writes a file of its own name, which replaces the output only once the model is whole: a
    # failed export (a quantiser error, Ctrl-C) leaves no half-made model, and an earlier file as it was.
    partial = args.output.with_name(f".{args.output.stem}.partial{os.getpid()}.onnx")
    try:
        path = backend.export_onnx(model, partial)
        if args.fp16_weights:
            from ..onnx.half import store_weights_fp16

            store_weights_fp16(path, path)
        elif not args.quantize:  # weights the checkpoint stores in 16 bits stay so, losslessly
            from ..onnx.half import store_exact_16_bit

            store_exact_16_bit(path, path)
        if args.quantize:
            from ..onnx.quantize import quantize_int8

            quantize_int8(path, path, clips)
        os.replace(path, args.output)
    except LipreadError as e:  # named by the file asked for, not by the one that is gone
        raise type(e)(str(e).replace(str(partial), str(args.output))) from None
    except OSError as e:
        if e.filename is None or os.fspath(e.filename) != str(partial):
            raise
        raise OSError(e.errno, str(e.strerror).replace(str(partial), str(args.output)), str(args.output)) from None
    finally:
        with contextlib.suppress(OSError):  # never there, or in a place that cannot hold it
            partial.unlink()
    print(args.output)
    return 0


def _calibration_clips(inputs: list[Path], config: ModelConfig) -> list[np.ndarray]:
    """The first CALIBRATION_CLIPS videos of ``inputs`` that can be read, preprocessed for ``config``; each input
    that is missing or holds no video, and each video that cannot be read, is reported on stderr and skipped.

    Raises:
        VideoError: no video of ``inputs`` could be read.
    """
    from ..report import report_warning
    from ..video.discovery import find_videos
    from ..video.preprocess import load_clip

    if not inputs:  # no calibration: only the matrix multiplications are quantised
        return []
    files, problems = find_videos(inputs)
    for item, reason in problems:
        report_warning(f"not used for calibration: {str(reason).removeprefix(f'{item}: ')}", item)
    clips: list[np.ndarray] = []
    for f in files:
        if len(clips) == CALIBRATION_CLIPS:
            break
        try:
            clips.append(load_clip(f, config))
        except VideoError as e:
            report_warning(f"not used for calibration: {str(e).removeprefix(f'{f}: ')}", f)
    if not clips:
        if not files:
            raise VideoError("--calibration: no videos")
        what = (
            "its one video could not be read" if len(files) == 1 else f"none of its {len(files)} videos could be read"
        )
        raise VideoError(f"--calibration: {what}")
    return clips
