"""ONNX: the ONNX Runtime inference backend (:mod:`~lipread.onnx.runtime`), the metadata an exported model
carries (:mod:`~lipread.onnx.metadata`), and the passes ``lipread export`` runs over an exported file: 3D
convolutions computed frame by frame (:mod:`~lipread.onnx.convolutions`), 16-bit weights
(:mod:`~lipread.onnx.half`) and int8 quantisation (:mod:`~lipread.onnx.quantize`).

It sits above the contracts it implements or writes (:mod:`lipread.backend`, :mod:`lipread.weights`,
:mod:`lipread.fixed16`, :mod:`lipread.config`) and below :mod:`lipread.transcription` and the CLI, which
reach the runtime only through the backend registry. ``onnx`` and ``onnxruntime`` are optional: the passes
import them inside their functions, and :mod:`~lipread.onnx.runtime`, which imports ONNX Runtime at once, is
imported only by the registry (the ``lipread.backends`` entry point ``onnx``). So this package re-exports
nothing from it.
"""

from __future__ import annotations

from .convolutions import framewise_convolutions
from .half import store_exact_16_bit, store_weights_fixed16, store_weights_fp16
from .metadata import INPUT_FRAMES, INPUT_LENGTHS, OUTPUT, metadata_props, parse_metadata
from .quantize import quantize_int8

__all__ = [
    "INPUT_FRAMES",
    "INPUT_LENGTHS",
    "OUTPUT",
    "framewise_convolutions",
    "metadata_props",
    "parse_metadata",
    "quantize_int8",
    "store_exact_16_bit",
    "store_weights_fixed16",
    "store_weights_fp16",
]
