"""The compiled beam search (lipread.decoding.beam_numba, the ``lipread[fast]`` extra) against the NumPy one."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from ctc_reference import exact_scores
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

from lipread.decoding import LexiconConstraint, beam_search, beam_search_batch
from lipread.decoding import beam as ctc
from lipread.vocab import LIPNET_VOCABULARY


def random_logprobs(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    z = scale * rng.standard_normal(shape)
    return z - np.logaddexp.reduce(z, axis=-1, keepdims=True)


def as_tuples(hyps: list[ctc.Hypothesis]) -> list[tuple]:
    return [(h.tokens, h.timesteps, h.score, h.text, h.words) for h in hyps]


@pytest.fixture(autouse=True)
def compiled(monkeypatch: pytest.MonkeyPatch):
    """Every test here sees the compiled search on, whatever ``LIPREAD_NUMBA`` says outside."""
    monkeypatch.delenv("LIPREAD_NUMBA", raising=False)
    monkeypatch.setattr(ctc, "_KERNEL", [])
    kernel = ctc._compiled_beam()
    assert kernel is not None
    return kernel


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 90),
    st.integers(1, 41),
    st.integers(1, 130),
    st.sampled_from([0.3, 1.0, 3.0, 10.0]),
)
def test_same_hypotheses_and_scores_as_numpy(seed: int, frames: int, classes: int, width: int, scale: float) -> None:
    lp = random_logprobs(np.random.default_rng(seed), (frames, classes), scale)
    numpy_search = ctc._beam(lp, width, None, None, None)
    # Bit for bit: the same floating-point operations in the same order.
    assert as_tuples(beam_search(lp, width)) == as_tuples(numpy_search)


def test_realistic_sizes_with_text() -> None:
    """V = 28 (the lipnet vocabulary), 75 frames, width 100: thousands of trie nodes (the trie grows)."""
    rng = np.random.default_rng(7)
    for _ in range(5):
        lp = random_logprobs(rng, (75, 28), 3.0).astype(np.float32)
        got = beam_search(lp, 100, LIPNET_VOCABULARY)
        assert len(got) == 100
        assert as_tuples(got) == as_tuples(ctc._beam(lp.astype(np.float64), 100, LIPNET_VOCABULARY, None, None))
        assert got[0].text == LIPNET_VOCABULARY.decode(list(got[0].tokens))


@pytest.mark.parametrize("classes", [2, 3, 4])
@pytest.mark.parametrize("width", [1, 3, 10, 100])
def test_ties_at_the_cut(classes: int, width: int) -> None:
    """Uniform inputs tie everywhere. Which tied candidate is kept may differ from NumPy's choice (so the
    results may differ), but the beam still keeps exactly ``width`` distinct prefixes with true scores."""
    lp = np.full((6, classes), -np.log(classes))
    got = beam_search(lp, width)
    exact = exact_scores(lp)
    assert len(got) == min(width, len(exact)) == len(ctc._beam(lp, width, None, None, None))
    assert len({h.tokens for h in got}) == len(got)
    assert [h.score for h in got] == sorted((h.score for h in got), reverse=True)
    assert all(h.score <= exact[h.tokens] + 1e-9 for h in got)
    if width >= len(exact):  # the search is exact
        assert {h.tokens: h.score for h in got} == pytest.approx(exact, abs=1e-9)


def test_batch_equals_numpy_lockstep(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    lp = random_logprobs(rng, (6, 40, 28), 2.0)
    lp[2, 25:] = np.nan  # padding past the clip's length is never read
    lengths = [40, 1, 25, 0, 33, 40]
    got = beam_search_batch(lp, lengths, 20, LIPNET_VOCABULARY)
    monkeypatch.setattr(ctc, "_KERNEL", [None])
    want = beam_search_batch(lp, lengths, 20, LIPNET_VOCABULARY)
    assert [as_tuples(h) for h in got] == [as_tuples(h) for h in want]
    assert got[3] == [ctc.Hypothesis((), (), 0.0, "", ())]


def test_length_and_float32_input() -> None:
    lp = random_logprobs(np.random.default_rng(1), (30, 6), 2.0).astype(np.float32)
    assert as_tuples(beam_search(lp, 8, length=17)) == as_tuples(
        ctc._beam(lp[:17].astype(np.float64), 8, None, None, None)
    )


def test_only_the_plain_search_is_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Constraints, ``prune`` and ``like_tensorflow`` stay in NumPy; the plain search never does."""
    calls: list[int] = []

    def spy(lp: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        calls.append(width)
        return ctc_kernel(lp, width)

    ctc_kernel = ctc._compiled_beam()
    monkeypatch.setattr(ctc, "_KERNEL", [spy])
    lp = random_logprobs(np.random.default_rng(2), (12, 28), 2.0)
    beam_search(lp, 5, LIPNET_VOCABULARY, constraint=LexiconConstraint(["bin", "blue"], LIPNET_VOCABULARY))
    beam_search(lp, 5, prune=-3.0)
    beam_search(lp, 5, like_tensorflow=True)
    beam_search_batch(lp[None], None, 5, like_tensorflow=True)
    assert calls == []
    beam_search(lp, 5)
    beam_search_batch(np.stack([lp, lp]), None, 4)
    assert calls == [5, 4, 4]


def test_environment_variable_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIPREAD_NUMBA", "0")
    monkeypatch.setattr(ctc, "_KERNEL", [])
    assert ctc._compiled_beam() is None
    lp = random_logprobs(np.random.default_rng(4), (20, 5), 2.0)
    assert as_tuples(beam_search(lp, 6)) == as_tuples(ctc._beam(lp, 6, None, None, None))


def test_falls_back_to_numpy_when_numba_cannot_load(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(types.ModuleType):
        def __getattr__(self, name: str) -> object:
            raise RuntimeError("no writable cache folder")

    monkeypatch.setitem(sys.modules, "lipread.decoding.beam_numba", Broken("lipread.decoding.beam_numba"))
    monkeypatch.setattr(ctc, "_KERNEL", [])
    with pytest.warns(RuntimeWarning, match="no writable cache folder"):
        assert ctc._compiled_beam() is None
    lp = random_logprobs(np.random.default_rng(5), (20, 5), 2.0)
    assert as_tuples(beam_search(lp, 6)) == as_tuples(ctc._beam(lp, 6, None, None, None))


def test_huge_width_allocates_only_what_the_beam_can_hold() -> None:
    """A width far above the number of possible prefixes (an exact search): no ``width * V`` arrays."""
    lp = random_logprobs(np.random.default_rng(6), (4, 3), 1.0)
    got = beam_search(lp, 10**10)
    exact = exact_scores(lp)
    assert {h.tokens: h.score for h in got} == pytest.approx(exact, abs=1e-9)
