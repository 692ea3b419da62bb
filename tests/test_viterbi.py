"""The most likely CTC alignment of a labelling (:mod:`lipread.decoding.viterbi`), against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipread.decoding.viterbi import TokenSpan, best_path_spans
from lipread.errors import DecodingError


def _collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(k for i, k in enumerate(path) if k != 0 and (i == 0 or path[i - 1] != k))


def _path_of(spans: list[TokenSpan], frames: int) -> tuple[int, ...]:
    """The frame-by-frame path the spans describe (blank outside them)."""
    path = [0] * frames
    for s in spans:
        path[s.start : s.end + 1] = [s.token] * (s.end - s.start + 1)
    return tuple(path)


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, ...]]:
    frames = draw(st.integers(1, 5))
    classes = draw(st.integers(2, 3))
    values = draw(st.lists(st.floats(-6, 0), min_size=frames * classes, max_size=frames * classes))
    lp = np.array(values).reshape(frames, classes)
    labels = tuple(draw(st.lists(st.integers(1, classes - 1), max_size=3)))
    return lp, labels


@settings(max_examples=300, deadline=None)
@given(cases())
def test_the_best_path_of_the_labelling(case: tuple[np.ndarray, tuple[int, ...]]) -> None:
    lp, labels = case
    frames, classes = lp.shape
    paths = [p for p in itertools.product(range(classes), repeat=frames) if _collapse(p) == labels]
    spans = best_path_spans(lp, labels)
    if not labels:
        assert spans == []
        return
    if not paths:
        assert spans is None
        return
    assert spans is not None and [s.token for s in spans] == list(labels)
    path = _path_of(spans, frames)
    assert _collapse(path) == labels  # the spans spell the labelling, each token in one run of frames
    best = max(sum(lp[t, k] for t, k in enumerate(p)) for p in paths)
    assert sum(lp[t, k] for t, k in enumerate(path)) == pytest.approx(best, abs=1e-9)
    for s in spans:
        assert s.start <= s.peak <= s.end
        assert lp[s.peak, s.token] == lp[s.start : s.end + 1, s.token].max()


def test_spans_of_a_peaked_clip() -> None:
    lp = np.full((8, 3), math.log(0.05))
    lp[:, 0] = math.log(0.9)
    lp[1:3, 1] = [math.log(0.6), math.log(0.9)]  # token 1 on frames 1-2, surest on 2
    lp[1:3, 0] = math.log(0.05)
    lp[5, 2] = math.log(0.9)  # token 2 on frame 5
    lp[5, 0] = math.log(0.05)
    assert best_path_spans(lp, [1, 2]) == [TokenSpan(1, 1, 2, 2), TokenSpan(2, 5, 5, 5)]


def test_repeated_tokens_need_a_blank_between() -> None:
    lp = np.log(np.full((2, 2), 0.5))
    assert best_path_spans(lp, [1, 1]) is None  # "1 1" needs at least three frames
    spans = best_path_spans(np.log(np.full((3, 2), 0.5)), [1, 1])
    assert spans == [TokenSpan(1, 0, 0, 0), TokenSpan(1, 2, 2, 2)]


def test_a_token_the_model_rules_out_has_no_alignment() -> None:
    lp = np.array([[math.log(0.5), math.log(0.5), -math.inf]] * 2)
    assert best_path_spans(lp, [2]) is None
    assert best_path_spans(np.zeros((0, 3)), [1]) is None


@pytest.mark.parametrize(
    ("lp", "tokens", "message"),
    [
        (np.zeros((2, 3, 4)), [1], "must be"),
        (np.zeros((4, 3)), [0], "0 is the blank"),
        (np.zeros((4, 3)), [3], "class ids 1..2"),
    ],
)
def test_bad_input(lp: np.ndarray, tokens: list[int], message: str) -> None:
    with pytest.raises(DecodingError, match=message):
        best_path_spans(lp, tokens)
