"""The contract of an exported ONNX model: input/output names and the lipread metadata it carries.

Every exporter (PyTorch, TensorFlow) writes models with inputs ``frames`` ``float32 (B, T, H, W, C)`` and
``lengths`` ``int32 (B,)``, output ``logprobs`` ``float32 (B, T, V)``, batch and time dynamic, and the
metadata below in the model's ``metadata_props``; the ONNX Runtime backend reads it back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..config import ModelConfig
from ..errors import ArgumentError, CheckpointError
from ..weights import metadata_json

__all__ = ["INPUT_FRAMES", "INPUT_LENGTHS", "OUTPUT", "metadata_props", "onnx_path", "parse_metadata"]

INPUT_FRAMES = "frames"
INPUT_LENGTHS = "lengths"
OUTPUT = "logprobs"

_PREFIX = "lipread_"


def onnx_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as the file an exporter writes.

    Raises:
        ArgumentError: it does not end in ``.onnx``, the name by which lipread (and most tools) tell an ONNX
            model from a checkpoint.
    """
    p = Path(path)
    if p.suffix.lower() != ".onnx":
        raise ArgumentError(f"{p}: an exported model's file name must end in .onnx")
    return p


def metadata_props(
    config: ModelConfig, trained_on: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None
) -> dict[str, str]:
    """The string key/value pairs to store in an exported model's ``metadata_props``.

    Raises:
        ArgumentError: ``trained_on`` or ``metrics`` is not a dict JSON can write (see
            :func:`lipread.weights.metadata_json`).
    """
    return {
        f"{_PREFIX}format": "lipread",
        f"{_PREFIX}version": "1",
        f"{_PREFIX}config": config.dumps(),
        f"{_PREFIX}vocabulary": json.dumps(config.vocabulary.to_json()),
        f"{_PREFIX}trained_on": metadata_json("trained_on", trained_on),
        f"{_PREFIX}metrics": metadata_json("metrics", metrics),
    }


def parse_metadata(props: dict[str, str], source: str) -> dict[str, Any]:
    """``{"config": ModelConfig, "trained_on": dict, "metrics": dict}`` from ``metadata_props``.

    Raises:
        CheckpointError: the model carries no lipread metadata, or it is invalid.
    """
    if props.get(f"{_PREFIX}format") != "lipread":
        raise CheckpointError(f"{source}: an ONNX model without lipread metadata (export it with `lipread export`)")
    try:
        config = ModelConfig.loads(props[f"{_PREFIX}config"])
        trained_on = json.loads(props.get(f"{_PREFIX}trained_on", "{}"))
        metrics = json.loads(props.get(f"{_PREFIX}metrics", "{}"))
    except (KeyError, ValueError, TypeError, RecursionError) as e:
        raise CheckpointError(f"{source}: invalid lipread metadata in ONNX model: {e}") from None
    if not isinstance(trained_on, dict) or not isinstance(metrics, dict):
        raise CheckpointError(f"{source}: invalid lipread metadata in ONNX model: trained_on, metrics must be objects")
    return {"config": config, "trained_on": trained_on, "metrics": metrics}
