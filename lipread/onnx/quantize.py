"""int8 versions of exported ONNX models, for faster CPU inference (ONNX Runtime's quantisation tools).

Two ways, both keeping the model's inputs, outputs and lipread metadata:

- *Static* (with calibration clips): the convolutions' and matrix multiplications' weights and activations
  become int8 (QDQ format, activation ranges measured on the calibration clips), which ONNX Runtime runs as
  integer kernels: about twice as fast on a CPU for the ``lipnet`` preset. Convolutions with fewer than
  :data:`MIN_INT8_CHANNELS` input channels stay float32: ONNX Runtime's int8 kernel is slower than its
  float32 one there. In lipread's exports (per-frame convolutions, :mod:`lipread.onnx.convolutions`) the first one
  sees ``3 x C`` channels (3 frames of C channels): int8 for RGB frames, float32 for grey ones.
- *Dynamic* (no calibration clips): ``onnxruntime.quantization.quantize_dynamic`` on the matrix
  multiplications (weights int8, activations quantised at run time). Convolutions stay float32, because
  ONNX Runtime's dynamic int8 convolution (``ConvInteger``) is several times *slower* than its float32 one on
  CPUs. For LipNet this changes little; use calibration clips.

Either way the recurrent layers (GRU, LSTM, RNN) compute in float32, as ONNX Runtime has no int8 kernel for
them, but their weights, most of a LipNet's bytes, are stored as int8 with a float32 scale per row
(symmetric, the row's largest magnitude at 127) behind a ``Cast`` and a ``Mul``, which ONNX Runtime folds
into float32 weights once when it loads the model: the file is about a quarter of the size, and the run as
fast.

ONNX Runtime is imported only when a function here is called.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError
from ..weights import atomic_write
from .half import rewrite_initializers
from .metadata import INPUT_FRAMES, INPUT_LENGTHS

__all__ = ["MIN_INT8_CHANNELS", "RECURRENT_OPS", "quantize_int8"]

MIN_INT8_CHANNELS = 4
"""Convolutions with fewer input channels than this stay float32 under static quantisation."""
RECURRENT_OPS = ("GRU", "LSTM", "RNN")
"""ONNX operators whose weight (``W``) and recurrence (``R``) initializers are stored as int8 rows."""


def _quantization():  # type: ignore[no-untyped-def]
    try:
        from onnxruntime import quantization
    except ImportError:
        raise BackendError('int8 quantisation needs ONNX Runtime: pip install "lipread[onnx]"') from None
    return quantization


def _float_convs(model) -> list[str]:  # type: ignore[no-untyped-def]
    """Names of the Conv nodes whose weight (an initializer) has fewer than MIN_INT8_CHANNELS input channels."""
    weights = {init.name: tuple(init.dims) for init in model.graph.initializer}
    out = []
    for node in model.graph.node:
        dims = weights.get(node.input[1]) if node.op_type == "Conv" and len(node.input) > 1 else None
        if dims is not None and len(dims) >= 3 and dims[1] < MIN_INT8_CHANNELS:
            out.append(node.name)
    return out


def quantize_int8(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    calibration: Sequence[np.ndarray] | None = None,
) -> Path:
    """Write an int8 version of the ONNX model ``src`` to ``dst`` (atomically; may be the same path).

    Args:
        src: an ONNX model with lipread's contract (inputs ``frames``, ``lengths``).
        dst: where to write the quantised model.
        calibration: preprocessed clips, each ``float32 (T, H, W, C)`` as :func:`lipread.video.preprocess.load_clip`
            makes them, to measure activation ranges on (static quantisation; a few dozen are plenty).
            None or empty: dynamic quantisation of the matrix multiplications only (see the module docs).

    Returns:
        ``dst``.

    Raises:
        BackendError: ONNX Runtime is not installed, or it cannot quantise the model (the message names ``src``).
    """
    q = _quantization()
    import onnx

    src, dst = Path(src), Path(dst)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "int8.onnx"
        try:
            model = onnx.load(str(src))
            onnx.checker.check_model(model)
            if calibration:
                with _without_advice():
                    q.quantize_static(
                        str(src),
                        str(out),
                        _reader(q, calibration),
                        quant_format=q.QuantFormat.QDQ,
                        op_types_to_quantize=["Conv", "MatMul", "Gemm"],
                        nodes_to_exclude=_float_convs(model),
                        activation_type=q.QuantType.QUInt8,
                        weight_type=q.QuantType.QInt8,
                    )
            else:
                with _without_advice():
                    q.quantize_dynamic(str(src), str(out), op_types_to_quantize=["MatMul", "Gemm"])
        except Exception as e:  # ONNX Runtime raises many types
            raise BackendError(f"{src}: ONNX Runtime could not quantise the model: {e}") from e
        quantised = onnx.load(str(out))
    _store_recurrent_int8(quantised)
    del quantised.metadata_props[:]
    quantised.metadata_props.extend(model.metadata_props)
    quantised.producer_name = model.producer_name
    atomic_write(dst, quantised.SerializeToString())
    return dst


@contextlib.contextmanager
def _without_advice() -> Iterator[None]:
    """Logging below ERROR off for the block: ONNX Runtime's quantiser logs advice for its own users (run its
    graph pre-processing first) through the root logger, which a lipread user could not act on."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _store_recurrent_int8(model) -> None:  # type: ignore[no-untyped-def]
    """Store the float32 ``W`` and ``R`` initializers of the recurrent nodes of ``model`` (in place) as int8
    rows times a float32 scale per row, computed back by a ``Cast`` and a ``Mul`` placed before every node."""
    from onnx import TensorProto, helper, numpy_helper

    recurrent = {name for node in model.graph.node if node.op_type in RECURRENT_OPS for name in node.input[1:3]}

    def encode(name: str, weights: np.ndarray) -> tuple[list[Any], list[Any]] | None:
        if name not in recurrent:
            return None
        scale = np.abs(weights).max(axis=-1, keepdims=True).astype(np.float32) / 127
        scale[scale == 0] = 1  # an all-zero row stays zero
        rows = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
        stored = [numpy_helper.from_array(rows, f"{name}__int8"), numpy_helper.from_array(scale, f"{name}__scale")]
        nodes = [
            helper.make_node("Cast", [f"{name}__int8"], [f"{name}__float"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{name}__float", f"{name}__scale"], [name]),
        ]
        return stored, nodes

    rewrite_initializers(model, 1, encode)


def _reader(quantization, clips: Sequence[np.ndarray]):  # type: ignore[no-untyped-def]
    """An ONNX Runtime calibration data reader handing over ``clips`` one at a time, as batches of one."""

    class Reader(quantization.CalibrationDataReader):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self._clips: Iterator[np.ndarray] = iter(clips)

        def get_next(self) -> dict[str, np.ndarray] | None:
            clip = next(self._clips, None)
            if clip is None:
                return None
            x = np.ascontiguousarray(clip, dtype=np.float32)[None]
            return {INPUT_FRAMES: x, INPUT_LENGTHS: np.array([x.shape[1]], np.int32)}

    return Reader()
