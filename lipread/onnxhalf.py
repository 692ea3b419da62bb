"""Halving an exported ONNX model's size: float32 weights stored as float16, computed in float32.

Every float32 initializer of at least ``min_size`` elements is stored as float16 and followed by a ``Cast``
back to float32, so the graph computes exactly as before on weights rounded to half precision (about three
significant decimal digits). Inputs, outputs and arithmetic stay float32: no speed is lost on CPUs without
fast half-precision arithmetic. With ``exact_only``, only the initializers float16 holds without rounding are
stored so, and the outputs stay bit for bit the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .weights import atomic_write

__all__ = ["store_weights_fp16"]


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
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    kept, casts = [], []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < min_size:
            kept.append(init)
            continue
        full = numpy_helper.to_array(init)
        values = full.astype(np.float16)
        if exact_only and not np.array_equal(values.astype(np.float32), full):
            kept.append(init)
            continue
        half_name = f"{init.name}__fp16"
        half = numpy_helper.from_array(values, half_name)
        kept.append(half)
        cast = helper.make_node("Cast", [half_name], [init.name], to=TensorProto.FLOAT, name=f"{init.name}__cast")
        casts.append(cast)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    atomic_write(dst, model.SerializeToString())
    return Path(dst)
