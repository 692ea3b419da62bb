"""The contract of an exported ONNX model: input/output names and the lipread metadata it carries.

Every exporter (PyTorch, TensorFlow) writes models with inputs ``frames`` ``float32 (B, T, H, W, C)`` and
``lengths`` ``int32 (B,)``, output ``logprobs`` ``float32 (B, T, V)``, batch and time dynamic, and the
metadata below in the model's ``metadata_props``; the ONNX Runtime backend reads it back.
"""

from __future__ import annotations

import json
from typing import Any

from ..config import ModelConfig
from ..errors import CheckpointError

__all__ = ["INPUT_FRAMES", "INPUT_LENGTHS", "OUTPUT", "metadata_props", "parse_metadata"]

INPUT_FRAMES = "frames"
INPUT_LENGTHS = "lengths"
OUTPUT = "logprobs"

_PREFIX = "lipread_"


def metadata_props(
    config: ModelConfig, trained_on: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None
) -> dict[str, str]:
    """The string key/value pairs to store in an exported model's ``metadata_props``."""
    return {
        f"{_PREFIX}format": "lipread",
        f"{_PREFIX}version": "1",
        f"{_PREFIX}config": config.dumps(),
        f"{_PREFIX}vocabulary": json.dumps(config.vocabulary.to_json()),
        f"{_PREFIX}trained_on": json.dumps(trained_on or {}),
        f"{_PREFIX}metrics": json.dumps(metrics or {}),
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
