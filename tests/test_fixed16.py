"""16-bit fixed point: within half a step of the weights, exactly read back, and found again after a transpose."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lipread.fixed16 import Q_MAX, exact_fixed16, from_fixed16, to_fixed16

FINITE = st.floats(-1e6, 1e6, allow_nan=False, width=32)
MATRICES = arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 7)), elements=FINITE)


@settings(max_examples=200, deadline=None)
@given(MATRICES, st.integers(0, 1))
def test_within_half_a_step_with_the_smallest_power_of_two_scale(w: np.ndarray, axis: int) -> None:
    q, scale = to_fixed16(w, axis)
    assert q.dtype == np.int16 and q.shape == w.shape and scale.shape == (w.shape[axis],)
    assert np.all(np.abs(q.astype(np.int32)) <= Q_MAX)
    mantissa, _ = np.frexp(scale)
    assert np.all(mantissa == 0.5)  # powers of two
    step = np.expand_dims(scale, 1 - axis).astype(np.float64)
    assert np.all(np.abs(w - from_fixed16(q, scale, axis).astype(np.float64)) <= step / 2)
    peak = np.abs(w).max(axis=1 - axis).astype(np.float64)
    assert np.all(peak <= Q_MAX * scale)
    assert np.all((peak == 0) | (peak > Q_MAX * scale / 2) | (scale == np.float32(2.0**-126)))


@settings(max_examples=200, deadline=None)
@given(MATRICES)
def test_reading_back_is_exact_and_found_again_transposed_and_reordered(w: np.ndarray) -> None:
    q, scale = to_fixed16(w)
    values = from_fixed16(q, scale)
    assert np.array_equal(values, q.astype(np.float64) * scale[:, None])  # no rounding in float32
    again_q, again_scale = to_fixed16(values)
    np.testing.assert_array_equal(again_q, q)
    np.testing.assert_array_equal(again_scale, scale)
    moved = values.T[:, ::-1]  # rows become columns, in another order
    found = exact_fixed16(np.ascontiguousarray(moved))
    assert found is not None
    fq, fscale, faxis = found
    np.testing.assert_array_equal(from_fixed16(fq, fscale, faxis), moved)


def test_ordinary_weights_are_not_fixed_point() -> None:
    w = np.random.default_rng(0).standard_normal((32, 40)).astype(np.float32)
    assert exact_fixed16(w) is None
    assert exact_fixed16(w.astype(np.float16).astype(np.float32)) is None
    assert exact_fixed16(np.array(1.5, np.float32)) is None


def test_closer_to_trained_weights_than_float16() -> None:
    """On weights shaped like a trained layer's (rows of various sizes), the largest and the typical error
    are both several times smaller than float16's."""
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((64, 300)) * rng.uniform(0.02, 0.2, (64, 1))).astype(np.float32)
    fixed = np.abs(from_fixed16(*to_fixed16(w)) - w)
    half = np.abs(w.astype(np.float16).astype(np.float32) - w)
    assert fixed.max() * 4 < half.max()
    assert np.sqrt((fixed**2).mean()) * 2 < np.sqrt((half**2).mean())
