"""Halving an exported ONNX model's size: float32 weights stored in 16 bits, computed in float32.

Two ways, each putting a stored initializer behind a node that turns it back into float32 weights, so inputs,
outputs and arithmetic stay float32 (no speed is lost on CPUs without fast half-precision arithmetic):

- :func:`store_weights_fp16`: float16 weights and a ``Cast``, which computes exactly as before on weights
  rounded to half precision (about three significant decimal digits). With ``exact_only``, only the
  initializers float16 holds without rounding are stored so, and the outputs stay bit for bit the same.
- :func:`store_weights_fixed16`: the initializers that already are 16-bit fixed point (:mod:`lipread.fixed16`;
  for example exported from a checkpoint that stored them so) as ``int16``, a ``Cast`` and a ``Mul`` by their
  power-of-two scales. Lossless: the outputs stay bit for bit the same.
- :func:`store_exact_16_bit`: both lossless ways in one pass over the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..fixed16 import exact_fixed16
from ..weights import atomic_write

__all__ = ["Encoder", "rewrite_initializers", "store_exact_16_bit", "store_weights_fixed16", "store_weights_fp16"]

Encoder = Callable[[str, np.ndarray], "tuple[list[Any], list[Any]] | None"]
"""``(name, float32 values) -> (initializers, nodes)`` that compute the tensor ``name``, or None to keep it."""


def _rewrite(src: str | os.PathLike[str], dst: str | os.PathLike[str], min_size: int, *encoders: Encoder) -> Path:
    """:func:`rewrite_initializers` of the ONNX model ``src``, written to ``dst`` atomically."""
    import onnx

    model = onnx.load(str(src))
    rewrite_initializers(model, min_size, *encoders)
    atomic_write(dst, model.SerializeToString())
    return Path(dst)


def rewrite_initializers(model: Any, min_size: int, *encoders: Encoder) -> None:
    """Replace, in the ``onnx.ModelProto`` ``model``, each float32 initializer of at least ``min_size`` elements
    that one of ``encoders`` takes (the first that does) by the initializers and nodes it returns (placed before
    every other node), and check the result."""
    import onnx
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    kept, added = [], []
    for init in graph.initializer:
        stored = None
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= min_size:
            values = numpy_helper.to_array(init)
            stored = next((s for s in (encode(init.name, values) for encode in encoders) if s is not None), None)
        if stored is None:
            kept.append(init)
            continue
        kept += stored[0]
        added += stored[1]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(added + nodes)
    onnx.checker.check_model(model)


def _fp16_encoder(exact_only: bool) -> Encoder:
    """Float16 and a ``Cast`` (only for values float16 holds exactly, with ``exact_only``)."""
    from onnx import TensorProto, helper, numpy_helper

    def encode(name: str, full: np.ndarray) -> tuple[list[Any], list[Any]] | None:
        values = full.astype(np.float16)
        if exact_only and not np.array_equal(values.astype(np.float32), full):
            return None
        half = numpy_helper.from_array(values, f"{name}__fp16")
        cast = helper.make_node("Cast", [half.name], [name], to=TensorProto.FLOAT, name=f"{name}__cast")
        return [half], [cast]

    return encode


def _fixed16_encoder() -> Encoder:
    """int16, a ``Cast`` and a ``Mul`` by power-of-two scales, for values that are exactly fixed point."""
    from onnx import TensorProto, helper, numpy_helper

    def encode(name: str, full: np.ndarray) -> tuple[list[Any], list[Any]] | None:
        found = exact_fixed16(full)
        if found is None:
            return None
        q, scale, axis = found
        if 2 * q.size + 4 * len(scale) >= 4 * q.size:  # a scale for every other weight or more: no smaller
            return None
        shape = [len(scale) if i == axis else 1 for i in range(q.ndim)]
        stored = numpy_helper.from_array(q, f"{name}__int16")
        scales = numpy_helper.from_array(scale.reshape(shape), f"{name}__scale")
        nodes = [
            helper.make_node("Cast", [stored.name], [f"{name}__float"], to=TensorProto.FLOAT, name=f"{name}__cast"),
            helper.make_node("Mul", [f"{name}__float", scales.name], [name], name=f"{name}__scale"),
        ]
        return [stored, scales], nodes

    return encode


def store_weights_fp16(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], min_size: int = 16, *, exact_only: bool = False
) -> Path:
    """Rewrite the ONNX model ``src`` into ``dst`` with its float32 weights stored as float16.

    Args:
        src: the ONNX model to read.
        dst: where to write the result, atomically (may be ``src``).
        min_size: initializers with fewer elements (biases of scalars, shapes) stay float32.
        exact_only: store only the initializers whose every value float16 holds exactly (weights that were
            rounded to float16 before export, e.g. from a checkpoint with some float16 tensors), so that
            the outputs do not change at all; the others stay float32.

    Returns:
        ``dst``.
    """
    return _rewrite(src, dst, min_size, _fp16_encoder(exact_only))


def store_weights_fixed16(src: str | os.PathLike[str], dst: str | os.PathLike[str], min_size: int = 16) -> Path:
    """Rewrite the ONNX model ``src`` into ``dst`` with the float32 weights that are exactly 16-bit fixed
    point along one of their axes stored as int16 and power-of-two scales (the others are left as they are, and
    so is a tensor that would need a scale for every other weight or more, such as a bias: it would not shrink).

    The outputs do not change at all. Use it on a model exported from a checkpoint with fixed-point tensors
    (:func:`lipread.weights.save_checkpoint` with ``fixed16``), whose exported weights keep those values, even
    when the export transposes them or reorders their rows.

    Args:
        src: the ONNX model to read.
        dst: where to write the result, atomically (may be ``src``).
        min_size: initializers with fewer elements stay as they are.

    Returns:
        ``dst``.
    """
    return _rewrite(src, dst, min_size, _fixed16_encoder())


def store_exact_16_bit(src: str | os.PathLike[str], dst: str | os.PathLike[str], min_size: int = 16) -> Path:
    """``store_weights_fp16(..., exact_only=True)``, then :func:`store_weights_fixed16` for the rest, in one
    pass: every float32 weight that 16 bits hold exactly is stored in 16 bits, and the outputs do not change at
    all. (Float16 first: it needs no scales.)

    Returns:
        ``dst``.
    """
    return _rewrite(src, dst, min_size, _fp16_encoder(exact_only=True), _fixed16_encoder())
