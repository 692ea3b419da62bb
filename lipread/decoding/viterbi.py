"""Where a decoded text sits in a clip: the most likely CTC alignment of given tokens (Viterbi).

Decoders say *what* was read; the frames each character occupies come from here, the same way for every
decoder: among all CTC paths that collapse to the tokens, the single most probable one. Each token then
covers a run of frames (its span); the frame of the span where the model was most sure of it is its peak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DecodingError

__all__ = ["TokenSpan", "best_path_spans"]


@dataclass(frozen=True)
class TokenSpan:
    """The frames one token occupies in an alignment.

    Attributes:
        token: the class id.
        start: its first frame, 0-based.
        end: its last frame (inclusive).
        peak: the frame in ``start..end`` where the token's log-probability is highest.
    """

    token: int
    start: int
    end: int
    peak: int


def best_path_spans(logprobs: np.ndarray, tokens: Sequence[int]) -> list[TokenSpan] | None:
    """The spans of ``tokens`` in their most likely CTC alignment to ``logprobs``.

    Args:
        logprobs: one clip's ``float (T, V)`` log-probabilities, blank = class 0.
        tokens: the labelling, class ids in ``1..V-1`` (no blanks).

    Returns:
        One :class:`TokenSpan` per token, in order; ``[]`` for no tokens; None when no path of ``T``
        frames with nonzero probability spells the tokens (too few frames, or a token the model rules out).

    Raises:
        DecodingError: ``logprobs`` is not 2-D, or a token is the blank or outside the vocabulary.
    """
    lp = np.asarray(logprobs, dtype=np.float64)
    if lp.ndim != 2:
        raise DecodingError(f"logprobs must be (T, V), got shape {lp.shape}")
    labels = [int(k) for k in tokens]
    if any(not 0 < k < lp.shape[1] for k in labels):
        raise DecodingError(f"tokens must be class ids 1..{lp.shape[1] - 1} (0 is the blank), got {labels}")
    if not labels:
        return []
    frames = lp.shape[0]
    if frames == 0:
        return None
    # States: blank, token 1, blank, token 2, ..., token L, blank.
    states = np.zeros(2 * len(labels) + 1, dtype=np.intp)
    states[1::2] = labels
    n = states.shape[0]
    skip = np.zeros(n, dtype=bool)  # a token state reachable from the token state two before
    skip[3::2] = states[3::2] != states[1:-2:2]
    emit = lp[:, states]  # (T, S)
    score = np.full(n, -np.inf)
    score[:2] = emit[0, :2]
    moves = np.zeros((frames, n), dtype=np.int8)  # how far back each state came from: 0, 1 or 2
    candidates = np.full((3, n), -np.inf)
    for t in range(1, frames):
        candidates[0] = score
        candidates[1, 1:] = score[:-1]
        candidates[2, 2:] = np.where(skip[2:], score[:-2], -np.inf)
        move = candidates.argmax(axis=0)
        moves[t] = move
        score = candidates[move, np.arange(n)] + emit[t]
    last = n - 1 if score[n - 1] >= score[n - 2] else n - 2
    if not np.isfinite(score[last]):
        return None
    path = np.empty(frames, dtype=np.intp)
    s = last
    for t in range(frames - 1, -1, -1):
        path[t] = s
        s -= int(moves[t, s])
    spans = []
    for k, token in enumerate(labels):
        at = np.flatnonzero(path == 2 * k + 1)
        start, end = int(at[0]), int(at[-1])
        peak = start + int(np.argmax(lp[start : end + 1, token]))
        spans.append(TokenSpan(token, start, end, peak))
    return spans
