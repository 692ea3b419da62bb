"""ONNX export of a TensorFlow LipNet through ``tf2onnx.convert.from_function``.

The exported graph follows :mod:`lipread.onnx.metadata`: inputs ``frames`` ``float32 (B, T, H, W, C)`` and
``lengths`` ``int32 (B,)``, output ``logprobs`` ``float32 (B, T, V)``, batch and time dynamic, opset 17, and
the model's config and vocabulary in ``metadata_props``, so the ONNX Runtime backend can run it.
Its 3D convolutions are computed as per-frame 2D ones (:mod:`lipread.onnx.convolutions`), which ONNX Runtime runs
faster.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx

from lipread.errors import BackendError
from lipread.onnx.convolutions import framewise_convolutions
from lipread.onnx.metadata import INPUT_FRAMES, INPUT_LENGTHS, OUTPUT, metadata_props, onnx_path
from lipread.weights import atomic_write

from ._tensorflow import tf
from .model import TFModel

__all__ = ["OPSET", "export_onnx"]

OPSET = 17


def _rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Rename a graph input or output ``old`` to ``new`` everywhere it is used."""
    if old == new:
        return
    for value in (*graph.input, *graph.output):
        if value.name == old:
            value.name = new
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]


def export_onnx(
    model: TFModel,
    path: str | os.PathLike[str],
    *,
    trained_on: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` as an ONNX file (atomically).

    Args:
        model: the TensorFlow model.
        path: destination ``.onnx`` file.
        trained_on: the training data's description to store (default: the model's own).
        metrics: the measured metrics to store (default: the model's own).

    Returns:
        The path written.

    Raises:
        BackendError: tf2onnx failed to convert the graph.
        ArgumentError: ``path`` does not end in ``.onnx``, or the metadata is not a JSON object.
    """
    import tf2onnx

    path = onnx_path(path)
    c = model.config
    keras_model = model.keras_model

    def logprobs(frames: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
        return keras_model([frames, lengths], training=False)

    signature = (
        tf.TensorSpec((None, None, c.height, c.width, c.channels), tf.float32, name=INPUT_FRAMES),
        tf.TensorSpec((None,), tf.int32, name=INPUT_LENGTHS),
    )
    try:
        proto, _ = tf2onnx.convert.from_function(tf.function(logprobs), input_signature=signature, opset=OPSET)
    except Exception as e:  # tf2onnx raises assorted types for graphs it cannot convert
        raise BackendError(f"tf2onnx could not convert model {c.name!r} for {path}: {e}") from e
    framewise_convolutions(proto)
    graph = proto.graph
    if len(graph.input) != 2 or len(graph.output) != 1:
        raise BackendError(f"tf2onnx produced an unexpected graph for {path}: inputs {[i.name for i in graph.input]}")
    for value, name in ((graph.input[0], INPUT_FRAMES), (graph.input[1], INPUT_LENGTHS), (graph.output[0], OUTPUT)):
        _rename(graph, value.name, name)
    for value, axes in (
        (graph.input[0], ("batch", "time")),
        (graph.input[1], ("batch",)),
        (graph.output[0], ("batch", "time")),
    ):
        for dim, axis in zip(value.type.tensor_type.shape.dim, axes):
            dim.dim_param = axis
    props = metadata_props(
        c,
        trained_on=model.trained_on if trained_on is None else trained_on,
        metrics=model.metrics if metrics is None else metrics,
    )
    del proto.metadata_props[:]
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "lipread (tensorflow, tf2onnx)"
    atomic_write(path, proto.SerializeToString())
    return Path(path)
