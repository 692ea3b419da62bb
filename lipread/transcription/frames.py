"""A clip's frames on the model's clock: the frame rates lipread reads, resampling to the models' 25 fps, the
fewest frames a model can read, and a long clip run through the model in overlapping windows, so that memory
does not grow with its length. What these mean for a caller is told in :mod:`lipread.api`."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import pairwise

import numpy as np

from ..config import ModelConfig
from ..errors import VideoError
from ..video.mouth import MouthLocator
from ..video.preprocess import mouth_crops, normalise

__all__ = [
    "DEFAULT_FPS",
    "LONG_CLIP_FRAMES",
    "MODEL_FPS",
    "SOURCE_FPS_RANGE",
    "WINDOW_OVERLAP",
    "min_frames",
    "resample",
    "windowed_logprobs",
]

DEFAULT_FPS = 25.0
"""Frame rate assumed for frame arrays and for files that do not state theirs (GRID's rate)."""

MODEL_FPS = 25.0
"""The frame rate the models read; clips at other rates are resampled to it (see :mod:`lipread.api`)."""

SOURCE_FPS_RANGE = (1.0, 1000.0)
"""The frame rates, in frames per second, of the clips lipread reads (slower clips are slide shows)."""

LONG_CLIP_FRAMES = 250
"""Clips of more frames than this (10 s at :data:`MODEL_FPS`) are read in windows (see :mod:`lipread.api`)."""

WINDOW_OVERLAP = 25
"""Frames shared by consecutive windows of a long clip (1 s)."""


def min_frames(config: ModelConfig) -> int:
    """The fewest frames (at :data:`MODEL_FPS`) a clip needs: the time span of the model's 3D convolutions."""
    return 1 + sum(block.kernel[0] - 1 for block in config.frontend)


def resample(frames: Iterable[np.ndarray], fps: float) -> Iterator[np.ndarray]:
    """Frames at ``fps`` -> frames at :data:`MODEL_FPS`, by nearest-frame selection, one at a time.

    Output frame ``k`` is source frame ``floor((k + 0.5) * fps / MODEL_FPS)`` (the one on screen at the
    output frame's centre time), for every ``k`` whose source frame exists. At :data:`MODEL_FPS` the frames
    pass through unchanged. Rates are taken to the thousandth of a frame per second.
    """
    num, den = round(fps * 1000) if math.isfinite(fps) else 0, 2 * round(MODEL_FPS * 1000)
    if num < 1:
        raise ValueError(f"fps must be at least 0.001, not {fps!r}")
    if 2 * num == den:  # MODEL_FPS, to the thousandth
        yield from frames
        return
    k = 0
    for i, frame in enumerate(frames):
        while (2 * k + 1) * num // den == i:
            yield frame
            k += 1


def _stack(frames: Sequence[np.ndarray], source: str) -> np.ndarray:
    try:
        return np.stack(frames)
    except ValueError:
        raise VideoError(f"{source}: frames change size within the video") from None


def _drain(frames: deque[np.ndarray]) -> Iterator[np.ndarray]:
    """Yield and drop the frames of ``frames`` from the left, so none is kept once handed on."""
    while frames:
        yield frames.popleft()


def windowed_logprobs(
    frames: Iterator[np.ndarray],
    config: ModelConfig,
    logprobs: Callable[[np.ndarray, np.ndarray], np.ndarray],
    locator: MouthLocator | None,
    batch_size: int,
    source: str,
) -> np.ndarray:
    """A long clip's ``float32 (T, V)`` log-probabilities, window by window (see :mod:`lipread.api`).

    Args:
        frames: the clip's frames at :data:`MODEL_FPS`, consumed one at a time.
        config: the model's configuration (``config.frames`` is the window's length).
        logprobs: the model: ``(x float32 (B, T, H, W, C), lengths int32 (B,)) -> float32 (B, T, V)``.
        locator: where the mouth is in each window; the model's default locator when None.
        batch_size: windows per call of ``logprobs``.
        source: the clip's name in errors.

    Raises:
        VideoError: no window of the clip shows a mouth (the first window's error).
    """
    cfg = config
    size, hop = cfg.frames, cfg.frames - WINDOW_OVERLAP
    recent: deque[np.ndarray] = deque(maxlen=size)
    starts: list[int] = []
    outputs: list[np.ndarray] = []
    pending: list[np.ndarray | None] = []
    errors: list[VideoError] = []
    silence = np.full((size, cfg.num_classes), -np.inf, np.float32)
    silence[:, 0] = 0.0

    def window(start: int) -> None:
        starts.append(start)
        try:
            pending.append(normalise(mouth_crops(_stack(recent, source), cfg, locator, source)))
        except VideoError as e:
            errors.append(e)
            pending.append(None)
        if len(pending) == batch_size:
            flush()

    def flush() -> None:
        found = [x for x in pending if x is not None]
        lp = iter(logprobs(np.stack(found), np.full(len(found), size, np.int32)) if found else ())
        outputs.extend(silence if x is None else next(lp) for x in pending)
        pending.clear()

    n = 0
    for frame in frames:
        recent.append(frame)
        n += 1
        if n == len(starts) * hop + size:
            window(n - size)
    if starts[-1] + size < n:
        window(n - size)
    flush()
    if len(errors) == len(starts):
        raise errors[0]
    bounds = [0, *((a + size + b) // 2 for a, b in pairwise(starts)), n]
    return np.concatenate([lp[lo - s : hi - s] for s, lp, lo, hi in zip(starts, outputs, bounds, bounds[1:])])
