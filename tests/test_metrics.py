"""CER, WER, sentence accuracy: hand-computed cases and edit-distance properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lipread.data.metrics import cer, edit_distance, missed_words, sentence_accuracy, summarise, wer


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3), ("flaw", "lawn", 2), ("abc", "abc", 0)],
)
def test_edit_distance_cases(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance
    assert edit_distance(list(a), list(b)) == distance


def test_error_rates_by_hand() -> None:
    ref = "bin blue at f two now"
    assert cer(ref, ref) == 0.0 and wer(ref, ref) == 0.0
    assert cer(ref, "bin blue at f two soon") == pytest.approx(3 / 21)  # n->s, +o, w->n
    assert wer(ref, "bin blue at f two soon") == pytest.approx(1 / 6)
    assert wer(ref, "bin blue at two now") == pytest.approx(1 / 6)  # one deletion
    assert wer(ref, "a bin blue at f two now please") == pytest.approx(2 / 6)  # two insertions
    assert wer("bin blue", "  bin   blue ") == 0.0  # words split on any whitespace
    assert wer("a b", "c d e f g") == pytest.approx(5 / 2)  # can exceed 1
    assert cer("", "") == 0.0 and cer("", "x") == 1.0
    assert wer("", "") == 0.0 and wer("", "x") == 1.0


def test_sentence_accuracy_and_summary() -> None:
    refs = ["bin blue at f two now", "set red by a one soon"]
    hyps = ["bin blue at f two now", "set red by a one  please"]
    assert sentence_accuracy(refs, hyps) == 0.5
    assert sentence_accuracy([], []) == 0.0
    s = summarise(refs, hyps)
    chars = len(refs[0]) + len(refs[1])
    assert s["cer"] == pytest.approx(edit_distance(refs[1], hyps[1]) / chars)  # corpus level, not a mean
    assert s["wer"] == pytest.approx(1 / 12)
    assert s["sentence_accuracy"] == 0.5
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        summarise(refs, hyps[:1])


_text = st.text(alphabet="abc ", max_size=12)


@given(a=_text, b=_text)
def test_zero_iff_equal_and_symmetric(a: str, b: str) -> None:
    d = edit_distance(a, b)
    assert (d == 0) == (a == b)
    assert d == edit_distance(b, a)
    assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))
    assert (cer(a, b) == 0) == (a == b)
    assert (wer(a, b) == 0) == (a.split() == b.split())


@given(a=_text, b=_text, c=_text)
def test_triangle_inequality(a: str, b: str, c: str) -> None:
    assert edit_distance(a, c) <= edit_distance(a, b) + edit_distance(b, c)


@given(a=_text, b=_text)
def test_missed_words_account_for_every_edit(a: str, b: str) -> None:
    ref, hyp = a.split(), b.split()
    missed, inserted = missed_words(ref, hyp)
    assert len(missed) == len(ref)
    assert sum(missed) + inserted == edit_distance(ref, hyp)
    assert inserted >= len(hyp) - len(ref)
    # a word missed nowhere in the hypothesis was surely missed
    assert all(m for w, m in zip(ref, missed) if w not in hyp)


@given(a=st.lists(st.sampled_from("ab"), max_size=8), b=st.lists(st.sampled_from("ab"), max_size=8))
def test_missed_words_by_position_when_that_is_optimal(a: list[str], b: list[str]) -> None:
    """When pairing words by position costs no more than the best alignment, those pairs are the ones blamed."""
    b = (b + a)[: len(a)]
    if edit_distance(a, b) == sum(x != y for x, y in zip(a, b)):
        assert missed_words(a, b) == ([x != y for x, y in zip(a, b)], 0)


def test_missed_words_cases() -> None:
    assert missed_words(["bin", "blue", "at", "f", "two", "now"], ["bin", "blue", "at", "f", "two", "now"]) == (
        [False] * 6,
        0,
    )
    assert missed_words(["bin", "blue", "at", "f", "two", "now"], ["bin", "at", "f", "two", "now"]) == (
        [False, True, False, False, False, False],
        0,
    )
    assert missed_words(["bin", "blue"], ["bin", "red", "blue"]) == ([False, False], 1)
    assert missed_words(["bin", "blue"], []) == ([True, True], 0)
    assert missed_words([], ["bin"]) == ([], 1)
