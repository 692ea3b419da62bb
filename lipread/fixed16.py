"""16-bit fixed-point storage of float32 weights: int16 values times a power of two per slice.

A tensor ``w`` is stored as ``q`` (``int16``, the shape of ``w``) and ``scale`` (``float32 (n,)``, one power of
two per index along ``axis``), and read back as ``q * scale`` along that axis. Each scale is the smallest power
of two that fits the slice's largest magnitude in int16, so a weight is off by at most half a step, less than
1/32,767 of the slice's largest magnitude, against float16's 1/2,048 of each weight. For a trained layer's
weights, whose large values matter most, that is several times closer than float16 at the same two bytes per
weight. Reading back is exact in float32 (an integer below
2**15 times a power of two), so every framework and ONNX Runtime compute with the very same weights.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Q_MAX", "exact_fixed16", "from_fixed16", "to_fixed16"]

Q_MAX = 32767
"""The largest stored magnitude (int16, symmetric)."""
_MIN_EXPONENT = -126
"""Steps stay normal float32 numbers (2**-126 and up)."""


def _shape_along(ndim: int, axis: int, n: int) -> tuple[int, ...]:
    return tuple(n if i == axis else 1 for i in range(ndim))


def to_fixed16(w: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Round ``w`` (float32, at least 1-D) to 16-bit fixed point along ``axis``.

    Returns:
        ``(q, scale)``: ``int16`` of ``w``'s shape and ``float32 (w.shape[axis],)`` powers of two, with
        ``|w - q * scale| <= scale / 2`` along ``axis``. A slice of zeros (or of float32's
        tiniest numbers, which round to zero) gets the smallest scale, ``2**-126``.
    """
    w = np.asarray(w, np.float32)
    axis = axis % w.ndim
    others = tuple(i for i in range(w.ndim) if i != axis)
    peak = np.abs(w).max(axis=others).astype(np.float64) if others else np.abs(w).astype(np.float64)
    with np.errstate(divide="ignore"):
        exponent = np.ceil(np.log2(peak / Q_MAX))
    exponent = np.where(peak > 0, exponent, _MIN_EXPONENT)
    # log2 in floating point can land one off at the edges: make it the smallest exponent that fits
    exponent = np.where(peak > Q_MAX * np.exp2(exponent), exponent + 1, exponent)
    exponent = np.where((peak > 0) & (peak <= Q_MAX * np.exp2(exponent - 1)), exponent - 1, exponent)
    exponent = np.maximum(exponent, _MIN_EXPONENT)
    scale = np.exp2(exponent).astype(np.float32)
    q = np.rint(w / scale.reshape(_shape_along(w.ndim, axis, -1)))
    return np.clip(q, -Q_MAX, Q_MAX).astype(np.int16), scale


def from_fixed16(q: np.ndarray, scale: np.ndarray, axis: int = 0) -> np.ndarray:
    """``q * scale`` along ``axis`` as float32 (exact): the inverse of :func:`to_fixed16`."""
    q = np.asarray(q)
    return q.astype(np.float32) * np.asarray(scale, np.float32).reshape(_shape_along(q.ndim, axis % q.ndim, -1))


def exact_fixed16(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, int] | None:
    """``(q, scale, axis)`` if float32 ``w`` is exactly 16-bit fixed point along one of its axes (for example
    a weight read from a checkpoint that stored it so, perhaps transposed or with reordered rows), else None."""
    w = np.asarray(w)
    if w.dtype != np.float32 or w.ndim == 0 or w.size == 0 or not np.isfinite(w).all():
        return None
    for axis in range(w.ndim):
        q, scale = to_fixed16(w, axis)
        if np.array_equal(from_fixed16(q, scale, axis), w):
            return q, scale, axis
    return None
