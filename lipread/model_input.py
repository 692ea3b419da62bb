"""The input every backend's ``Model.logprobs`` takes, checked the same way in all of them, so that one bad
batch gives the same error from PyTorch, TensorFlow and ONNX Runtime instead of each framework's own."""

from __future__ import annotations

import numpy as np

from .config import ModelConfig
from .errors import VideoError

__all__ = ["checked_input"]


def checked_input(config: ModelConfig, frames: object, lengths: object = None) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` as ``float32 (B, T, H, W, C)`` and ``lengths`` as ``int32 (B,)`` (default T for every clip).

    A batch of no clips (B = 0) is allowed; the backends answer it with ``(0, T, V)`` log-probabilities.

    Raises:
        VideoError: the frames are not 5-D with the model's ``(H, W, C)`` and T >= 1, or the lengths are not B
            whole numbers in ``1..T``.
    """
    x = np.ascontiguousarray(frames, dtype=np.float32)
    c = config
    if x.ndim != 5 or x.shape[2:] != (c.height, c.width, c.channels) or x.shape[1] == 0:
        raise VideoError(
            f"model {c.name!r} expects frames float32 (B, T, {c.height}, {c.width}, {c.channels}) with T >= 1, "
            f"got {x.shape}"
        )
    batch, steps = x.shape[:2]
    if lengths is None:
        return x, np.full(batch, steps, np.int32)
    given = np.asarray(lengths)
    n = given.reshape(-1) if given.dtype.kind in "iuf" else np.zeros(0)
    whole = n.dtype.kind in "iu" or bool(np.all(np.isfinite(n) & (n == np.round(n))))
    if n.shape != (batch,) or not whole or (n < 1).any() or (n > steps).any():
        shown = given.tolist() if given.size <= 16 else f"an array of shape {given.shape}"
        raise VideoError(f"lengths must be {batch} whole numbers in 1..{steps}, got {shown}")
    return x, n.astype(np.int32)
