"""ONNX export of a PyTorch LipNet, following :mod:`lipread.onnx.metadata`'s contract.

The exported graph has inputs ``frames`` ``float32 (B, T, H, W, C)`` and ``lengths`` ``int32 (B,)``, output
``logprobs`` ``float32 (B, T, V)``, with batch and time dynamic, and carries the lipread metadata (config,
vocabulary, training data, metrics) in its ``metadata_props``.
Its 3D convolutions are computed as per-frame 2D ones (:mod:`lipread.onnx.convolutions`), which ONNX Runtime runs
faster.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lipread.errors import BackendError
from lipread.onnx.convolutions import framewise_convolutions
from lipread.onnx.metadata import INPUT_FRAMES, INPUT_LENGTHS, OUTPUT, metadata_props, onnx_path
from lipread.weights import atomic_write

from .model import LipNet
from .wrapper import TorchModel

__all__ = ["OPSET", "export_onnx"]

OPSET = 17


class _Exportable(nn.Module):
    """The network with ``int32`` lengths, as the ONNX contract has them."""

    def __init__(self, net: LipNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.net(frames, lengths.to(torch.int64))


def export_onnx(
    model: TorchModel,
    path: str | os.PathLike[str],
    *,
    trained_on: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to ``path`` as an ONNX model (opset 17), atomically.

    Args:
        model: the model to export (exported on the CPU in float32, in eval mode).
        trained_on: training-data description to embed; default: what the model was loaded with.
        metrics: measured metrics to embed; default: what the model was loaded with.

    Returns:
        The path written.

    Raises:
        BackendError: the ``onnx`` package is missing, or PyTorch fails to export.
        ArgumentError: ``path`` does not end in ``.onnx``, or the metadata is not a JSON object.
    """
    path = onnx_path(path)
    try:
        import onnx
    except ImportError:
        raise BackendError('exporting to ONNX needs the onnx package: pip install "lipread[torch]"') from None
    config = model.config
    net = LipNet(config)
    net.load_state_dict(model.module.state_dict())
    wrapper = _Exportable(net.eval())
    frames = torch.zeros((2, 8, config.height, config.width, config.channels), dtype=torch.float32)
    lengths = torch.tensor([8, 5], dtype=torch.int32)
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch's notes on exporting RNNs with a fixed batch dimension
            torch.onnx.export(
                wrapper,
                (frames, lengths),
                buf,  # type: ignore[arg-type]  # file-like objects are accepted
                input_names=[INPUT_FRAMES, INPUT_LENGTHS],
                output_names=[OUTPUT],
                dynamic_axes={
                    INPUT_FRAMES: {0: "batch", 1: "time"},
                    INPUT_LENGTHS: {0: "batch"},
                    OUTPUT: {0: "batch", 1: "time"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as e:  # the exporter raises many types
        raise BackendError(f"{path}: PyTorch could not export model {config.name!r} to ONNX: {e}") from e
    proto = onnx.load_from_string(buf.getvalue())
    framewise_convolutions(proto)
    props = metadata_props(
        config,
        trained_on if trained_on is not None else model.trained_on,
        metrics if metrics is not None else model.metrics,
    )
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "lipread"
    atomic_write(path, proto.SerializeToString())
    return Path(path)
