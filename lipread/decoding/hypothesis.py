"""What every CTC decoder shares: the blank's id, the :class:`Hypothesis` it returns, and the checks of the
log-probabilities it is given (shape, values, lengths), each failure a :class:`~lipread.errors.DecodingError`.

Every decoder takes log-probabilities (log-softmax already applied) of shape ``(T, V)`` for one clip or
``(B, T, V)`` for a batch, any floating dtype (``float32`` in practice; computed internally in ``float64``).
Class id :data:`BLANK` (``0``) is the CTC blank.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DecodingError

if TYPE_CHECKING:
    from ..vocab import Vocabulary

__all__ = ["BLANK", "Hypothesis"]

BLANK = 0
"""The CTC blank's class id."""

_NEG_INF = -np.inf


@dataclass(frozen=True)
class Hypothesis:
    """One decoded label sequence.

    Attributes:
        tokens: label ids (each in ``1..V-1``), blanks removed and repeats collapsed.
        timesteps: same length as ``tokens``: the frame index at which each token was first emitted
            (greedy: first frame of its run in the best path; beam search: the frame at which the prefix
            was extended by that token in the surviving lineage). Strictly increasing, each ``< T``.
        score: natural-log probability. Beam search: of this label sequence, summed (log-sum-exp) over
            all its CTC alignments kept by the beam (exact when the beam is wide enough). Greedy: of the
            single best path.
        text: ``vocabulary.decode(tokens)`` when a vocabulary was given, else ``""``.
        words: ``tuple(text.split())``.
    """

    tokens: tuple[int, ...]
    timesteps: tuple[int, ...]
    score: float
    text: str = ""
    words: tuple[str, ...] = ()


def _as_float_array(logprobs: object, ndim: int, name: str = "logprobs") -> np.ndarray:
    """``logprobs`` as a float64 array of ``ndim`` dims (values not checked yet)."""
    try:
        arr = np.asarray(logprobs)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise DecodingError(f"{name} cannot be converted to an array: {exc}") from None
    if arr.ndim != ndim:
        shape = "(T, V)" if ndim == 2 else "(B, T, V)"
        raise DecodingError(f"{name} must be {ndim}-D {shape}; got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DecodingError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    if arr.shape[-1] < 1:
        raise DecodingError(f"{name} has V = 0 classes; need at least the blank")
    return arr.astype(np.float64, copy=False)


def _check_vocabulary(num_classes: int, vocabulary: Vocabulary | None) -> None:
    if vocabulary is not None and len(vocabulary.tokens) != num_classes:
        raise DecodingError(
            f"logprobs have V = {num_classes} classes but the vocabulary has {len(vocabulary.tokens)} (blank included)"
        )


def _check_values(lp: np.ndarray, name: str = "logprobs") -> None:
    """Raise unless ``lp`` (T, V) has no NaN / +inf and every frame a finite entry."""
    if lp.size == 0:
        return
    if np.isnan(lp).any():
        raise DecodingError(f"{name} contain NaN")
    if np.isposinf(lp).any():
        raise DecodingError(f"{name} contain +inf")
    dead = ~np.isfinite(lp).any(axis=1)
    if dead.any():
        raise DecodingError(f"{name} frame {int(np.flatnonzero(dead)[0])} has no finite log-probability")


def _as_int(value: object, message: str) -> int:
    """``value`` as an int (bools refused); DecodingError ``message`` otherwise."""
    if isinstance(value, bool):
        raise DecodingError(message)
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise DecodingError(message) from None


def _check_length(length: object, num_frames: int, name: str = "length") -> int:
    n = _as_int(length, f"{name} must be an integer; got {length!r}")
    if not 0 <= n <= num_frames:
        raise DecodingError(f"{name} {n} is out of range 0..{num_frames}")
    return n


def _prepare(logprobs: object, vocabulary: Vocabulary | None, length: int | None) -> np.ndarray:
    """Validate one clip; return its first ``length`` frames as float64 ``(length, V)``."""
    arr = _as_float_array(logprobs, 2)
    _check_vocabulary(arr.shape[1], vocabulary)
    if length is not None:
        arr = arr[: _check_length(length, arr.shape[0])]
    _check_values(arr)
    return arr


def _prepare_batch(logprobs: object, lengths: object, vocabulary: Vocabulary | None) -> tuple[np.ndarray, list[int]]:
    """Validate a batch; return float64 ``(B, T, V)`` and the per-clip lengths (frames past them unchecked)."""
    arr = _as_float_array(logprobs, 3)
    _check_vocabulary(arr.shape[2], vocabulary)
    batch, frames = arr.shape[0], arr.shape[1]
    if lengths is None:
        lens = [frames] * batch
    else:
        lens_arr = np.asarray(lengths)
        if lens_arr.shape != (batch,):
            raise DecodingError(f"lengths must have shape ({batch},); got {lens_arr.shape}")
        integral = np.issubdtype(lens_arr.dtype, np.integer) or (
            np.issubdtype(lens_arr.dtype, np.floating) and bool(np.all(lens_arr == np.round(lens_arr)))
        )
        if lens_arr.size and not integral:
            raise DecodingError(f"lengths must be integers; got {lens_arr!r}")
        lens = [_check_length(int(n), frames, f"lengths[{i}]") for i, n in enumerate(lens_arr.tolist())]
    for b, n in enumerate(lens):
        _check_values(arr[b, :n], f"logprobs[{b}]")
    return arr, lens


def _make(tokens: list[int], timesteps: list[int], score: float, vocabulary: Vocabulary | None) -> Hypothesis:
    text = vocabulary.decode(tokens) if vocabulary is not None else ""
    return Hypothesis(tuple(tokens), tuple(timesteps), float(score), text, tuple(text.split()))
