"""``lipread export CHECKPOINT -o model.onnx``: export a canonical checkpoint to ONNX with any backend that can."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import BackendError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``export`` on the ``lipread`` command's sub-parsers."""
    p = subparsers.add_parser(
        "export",
        help="export a checkpoint to ONNX",
        description="Load a canonical .safetensors checkpoint with a backend and export it to ONNX (inputs "
        "'frames' float32 (B,T,H,W,C) and 'lengths' int32 (B,), output 'logprobs' (B,T,V); batch and time "
        "dynamic; the checkpoint's metadata is kept). The result runs with `--backend onnx`.",
    )
    p.add_argument("checkpoint", type=Path, help="a .safetensors checkpoint written by lipread")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .onnx file to write")
    p.add_argument("--backend", default="torch", help="backend that exports (default: torch)")
    p.add_argument(
        "--fp16-weights",
        action="store_true",
        help="store the weights as float16 (half the file size; arithmetic stays float32)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Export; prints the path written. Returns 0."""
    from ..backend import get_backend

    backend = get_backend(args.backend)
    if "export" not in backend.capabilities:
        raise BackendError(f"backend {backend.name!r} cannot export; use --backend torch or --backend tensorflow")
    model = backend.load(args.checkpoint)
    path = backend.export_onnx(model, args.output)
    if args.fp16_weights:
        from ..onnxhalf import store_weights_fp16

        store_weights_fp16(path, path)
    print(path)
    return 0
