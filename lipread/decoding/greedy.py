"""Greedy CTC decoding: the best path (arg-max per frame), repeats collapsed and blanks dropped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .hypothesis import BLANK, Hypothesis, _make, _prepare, _prepare_batch

if TYPE_CHECKING:
    from ..vocab import Vocabulary

__all__ = ["greedy_decode", "greedy_decode_batch"]


def _greedy(lp: np.ndarray, vocabulary: Vocabulary | None) -> Hypothesis:
    if lp.shape[0] == 0:
        return _make([], [], 0.0, vocabulary)
    best = lp.argmax(axis=1)
    score = float(lp[np.arange(lp.shape[0]), best].sum())
    start = best != BLANK
    start[1:] &= best[1:] != best[:-1]
    steps = np.flatnonzero(start)
    return _make(best[steps].tolist(), steps.tolist(), score, vocabulary)


def greedy_decode(logprobs: np.ndarray, vocabulary: Vocabulary | None = None, length: int | None = None) -> Hypothesis:
    """Best-path CTC decoding of one clip.

    Args:
        logprobs: ``float (T, V)`` log-probabilities (log-softmax applied), blank = id 0.
        vocabulary: optional; when given, ``V`` must equal ``len(vocabulary.tokens)`` and the result has text.
        length: use only the first ``length`` frames (``0 <= length <= T``); default all.

    Returns:
        The arg-max path collapsed (repeats merged, blanks dropped); ``score`` is that path's
        log-probability, ``timesteps`` the first frame of each token's run. Ties pick the lower id.

    Raises:
        DecodingError: not 2-D, NaN/+inf or an all ``-inf`` frame, ``V`` mismatch, bad ``length``.
    """
    return _greedy(_prepare(logprobs, vocabulary, length), vocabulary)


def greedy_decode_batch(
    logprobs: np.ndarray, lengths: Sequence[int] | np.ndarray | None = None, vocabulary: Vocabulary | None = None
) -> list[Hypothesis]:
    """:func:`greedy_decode` for each clip of ``float (B, T, V)`` log-probabilities.

    Args:
        lengths: ``int (B,)``: valid frames per clip (frames past it are ignored, not even validated);
            default ``T`` for all.

    Returns:
        ``B`` hypotheses, ``result[b] == greedy_decode(logprobs[b], vocabulary, lengths[b])``.
    """
    arr, lens = _prepare_batch(logprobs, lengths, vocabulary)
    return [_greedy(arr[b, :n], vocabulary) for b, n in enumerate(lens)]
