"""Tests of lipread.decoding: greedy and prefix beam search against brute force, constraints, errors."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from ctc_reference import collapse, exact_scores, tensorflow_beam_search
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lipread.decoding import (
    Constraint,
    GrammarConstraint,
    Hypothesis,
    LexiconConstraint,
    TokenAutomaton,
    beam_search,
    beam_search_batch,
    greedy_decode,
    greedy_decode_batch,
)
from lipread.errors import DecodingError

try:
    from lipread.vocab import LIPNET_VOCABULARY, Vocabulary
except ImportError:  # pragma: no cover - only while lipread.vocab is not written yet

    class Vocabulary:  # type: ignore[no-redef]
        """Minimal stand-in: tokens for ids 1.. are the characters given; id 0 is the blank."""

        def __init__(self, characters: Sequence[str]) -> None:
            self.tokens = ("", *characters)
            self._index = {c: i for i, c in enumerate(self.tokens) if i}

        @property
        def space_id(self) -> int | None:
            return self._index.get(" ")

        def encode(self, text: str) -> list[int]:
            return [self._index[c] for c in text]

        def decode(self, ids: Sequence[int]) -> str:
            return "".join(self.tokens[i] for i in ids if 0 < i < len(self.tokens))

    LIPNET_VOCABULARY = Vocabulary(" abcdefghijklmnopqrstuvwxyz")

try:
    from lipread.data.grid import GRAMMAR as GRID_GRAMMAR
except ImportError:  # pragma: no cover
    GRID_GRAMMAR = (
        ("bin", "lay", "place", "set"),
        ("blue", "green", "red", "white"),
        ("at", "by", "in", "with"),
        tuple("abcdefghijklmnopqrstuvxyz"),
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
        ("again", "now", "please", "soon"),
    )

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TINY = Vocabulary("ab ")  # ids: 0 blank, 1 "a", 2 "b", 3 " "


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def reference_beam(lp: np.ndarray, width: int) -> list[tuple[tuple[int, ...], float, tuple[int, ...]]]:
    """Textbook prefix beam search with dicts: (tokens, score, timesteps), best first."""
    neg = -math.inf
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, neg)}
    steps: dict[tuple[int, ...], tuple[int, ...]] = {(): ()}
    for t in range(lp.shape[0]):
        nxt: dict[tuple[int, ...], list[float]] = {}
        nsteps: dict[tuple[int, ...], tuple[int, ...]] = {}
        for prefix, (pb, pnb) in beams.items():
            tot = np.logaddexp(pb, pnb)
            entry = nxt.setdefault(prefix, [neg, neg])
            nsteps[prefix] = steps[prefix]
            entry[0] = np.logaddexp(entry[0], tot + lp[t, 0])
            last = prefix[-1] if prefix else None
            if last is not None:
                entry[1] = np.logaddexp(entry[1], pnb + lp[t, last])
            for c in range(1, lp.shape[1]):
                ext = (*prefix, c)
                e = nxt.setdefault(ext, [neg, neg])
                if ext not in beams:
                    nsteps[ext] = steps[prefix] + (t,)
                e[1] = np.logaddexp(e[1], (pb if c == last else tot) + lp[t, c])
        ranked = sorted(nxt.items(), key=lambda kv: -np.logaddexp(kv[1][0], kv[1][1]))
        ranked = [kv for kv in ranked if np.logaddexp(kv[1][0], kv[1][1]) > neg][:width]
        beams = {k: (v[0], v[1]) for k, v in ranked}
        steps = {k: nsteps[k] for k in beams}
    out = sorted(((k, float(np.logaddexp(v[0], v[1])), steps[k]) for k, v in beams.items()), key=lambda x: -x[1])
    return out[:width]


def check_hypotheses(hyps: list[Hypothesis], frames: int, classes: int, width: int) -> None:
    assert len(hyps) <= width
    scores = [h.score for h in hyps]
    assert scores == sorted(scores, reverse=True)
    assert len({h.tokens for h in hyps}) == len(hyps)
    for h in hyps:
        assert isinstance(h.score, float) and h.score <= 1e-9
        assert len(h.tokens) == len(h.timesteps) <= frames
        assert all(isinstance(c, int) and 1 <= c < classes for c in h.tokens)
        assert all(0 <= s < frames for s in h.timesteps)
        assert all(a < b for a, b in zip(h.timesteps, h.timesteps[1:]))


@st.composite
def logprob_arrays(draw, max_frames: int = 6, max_classes: int = 4, min_frames: int = 1) -> np.ndarray:
    frames = draw(st.integers(min_frames, max_frames))
    classes = draw(st.integers(2, max_classes))
    logits = draw(
        hnp.arrays(np.float64, (frames, classes), elements=st.floats(-6, 6, allow_nan=False, allow_infinity=False))
    )
    return log_softmax(logits).astype(np.float32)


def random_logprobs(seed: int, frames: int, classes: int, scale: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return log_softmax(rng.normal(size=(frames, classes)) * scale).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# Greedy
# ------------------------------------------------------------------------------------------------


@FAST
@given(logprob_arrays(max_frames=10, max_classes=6))
def test_greedy_is_the_collapsed_argmax_path(lp: np.ndarray) -> None:
    best = [int(np.argmax(r)) for r in lp]
    hyp = greedy_decode(lp)
    assert hyp.tokens == collapse(best)
    assert hyp.score == pytest.approx(float(sum(float(lp[t, c]) for t, c in enumerate(best))), abs=1e-9)
    starts = tuple(t for t, c in enumerate(best) if c != 0 and (t == 0 or best[t - 1] != c))
    assert hyp.timesteps == starts
    assert hyp.text == "" and hyp.words == ()


def test_greedy_text_words_and_timesteps() -> None:
    vocab = LIPNET_VOCABULARY
    space = vocab.space_id
    assert space is not None
    ids = [0, *vocab.encode("hi"), space, *vocab.encode("yo")]
    path = [0, ids[1], ids[1], 0, ids[2], ids[3], 0, ids[4], ids[5], ids[5]]
    lp = np.full((len(path), len(vocab.tokens)), -20.0, dtype=np.float32)
    lp[np.arange(len(path)), path] = -0.01
    hyp = greedy_decode(lp, vocab)
    assert hyp.text == "hi yo" and hyp.words == ("hi", "yo")
    assert hyp.timesteps == (1, 4, 5, 7, 8)
    assert greedy_decode(lp, vocab, length=5).text == "hi"


def test_repeats_need_a_blank_in_between() -> None:
    a = 1
    lp = np.full((3, 3), -30.0)
    lp[[0, 1, 2], [a, 0, a]] = 0.0
    assert greedy_decode(lp).tokens == (a, a)
    assert beam_search(lp, 4)[0].tokens == (a, a)
    assert beam_search(lp, 4)[0].timesteps == (0, 2)
    lp2 = np.full((3, 3), -30.0)
    lp2[[0, 1, 2], [a, a, a]] = 0.0
    assert greedy_decode(lp2).tokens == (a,)
    assert beam_search(lp2, 4)[0].tokens == (a,)


def test_zero_length() -> None:
    lp = random_logprobs(0, 5, 4)
    assert greedy_decode(lp, length=0) == Hypothesis((), (), 0.0, "", ())
    assert beam_search(lp, 3, length=0) == [Hypothesis((), (), 0.0, "", ())]
    assert beam_search(np.zeros((0, 4), np.float32)) == [Hypothesis((), (), 0.0, "", ())]


# ------------------------------------------------------------------------------------------------
# Beam search against brute force and a textbook implementation
# ------------------------------------------------------------------------------------------------


@FAST
@given(logprob_arrays())
def test_wide_beam_is_exact(lp: np.ndarray) -> None:
    exact = exact_scores(lp.astype(np.float64))
    alive = {s: v for s, v in exact.items() if v > -math.inf}
    hyps = beam_search(lp, beam_width=len(alive))
    check_hypotheses(hyps, lp.shape[0], lp.shape[1], len(alive))
    assert len(hyps) == len(alive)
    best = max(alive.values())
    assert hyps[0].score == pytest.approx(best, abs=1e-5)
    assert alive[hyps[0].tokens] == pytest.approx(best, abs=1e-5)
    for h in hyps:
        assert h.score == pytest.approx(alive[h.tokens], abs=1e-5)
    # Top-k of a wider beam than needed is the exact ranking (up to ties).
    k = max(1, len(alive) // 3)
    top = beam_search(lp, beam_width=len(alive))[:k]
    kept = {h.tokens for h in top}
    left_out = [v for s, v in alive.items() if s not in kept]
    if left_out:
        assert min(h.score for h in top) >= max(left_out) - 1e-5
    # The best label sequence is at least as likely as the best single path.
    assert hyps[0].score >= greedy_decode(lp).score - 1e-5


def test_exact_ranking_without_ties() -> None:
    for seed in range(20):
        lp = random_logprobs(seed, 5, 4)
        exact = sorted(exact_scores(lp.astype(np.float64)).items(), key=lambda kv: -kv[1])
        hyps = beam_search(lp, beam_width=len(exact))
        assert [h.tokens for h in hyps] == [s for s, _ in exact]
        np.testing.assert_allclose([h.score for h in hyps], [v for _, v in exact], atol=1e-5)


@FAST
@given(logprob_arrays(), st.integers(1, 5))
def test_narrow_beam_scores_are_lower_bounds(lp: np.ndarray, width: int) -> None:
    exact = exact_scores(lp.astype(np.float64))
    hyps = beam_search(lp, beam_width=width)
    check_hypotheses(hyps, lp.shape[0], lp.shape[1], width)
    assert hyps, "without a constraint there is always a hypothesis"
    for h in hyps:
        assert h.score <= exact[h.tokens] + 1e-5


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 14), st.integers(2, 6), st.integers(1, 12))
def test_matches_textbook_prefix_beam_search(seed: int, frames: int, classes: int, width: int) -> None:
    lp = random_logprobs(seed, frames, classes, scale=2.5).astype(np.float64)
    ref = reference_beam(lp, width)
    hyps = beam_search(lp, beam_width=width)
    assert [h.tokens for h in hyps] == [r[0] for r in ref]
    np.testing.assert_allclose([h.score for h in hyps], [r[1] for r in ref], rtol=0, atol=1e-9)
    assert [h.timesteps for h in hyps] == [r[2] for r in ref]


def test_matches_textbook_on_wide_vocabulary_and_beam() -> None:
    # Exercises the thresholded top-k selection (K * V much larger than the beam).
    for seed, (frames, classes, width, scale) in enumerate([(30, 28, 20, 3.0), (25, 41, 40, 1.0), (20, 12, 64, 0.5)]):
        lp = random_logprobs(seed, frames, classes, scale).astype(np.float64)
        ref = reference_beam(lp, width)
        hyps = beam_search(lp, beam_width=width)
        assert [h.tokens for h in hyps] == [r[0] for r in ref]
        np.testing.assert_allclose([h.score for h in hyps], [r[1] for r in ref], rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 14),
    st.integers(2, 6),
    st.integers(1, 12),
    st.sampled_from([0.5, 1.0, 2.5]),
)
def test_like_tensorflow_matches_tensorflows_search(seed: int, frames: int, classes: int, width: int, scale) -> None:
    lp = random_logprobs(seed, frames, classes, scale).astype(np.float64)
    ref = tensorflow_beam_search(lp, width)
    hyps = beam_search(lp, beam_width=width, like_tensorflow=True)
    assert [h.tokens for h in hyps] == [r[0] for r in ref]
    np.testing.assert_allclose([h.score for h in hyps], [r[1] for r in ref], rtol=0, atol=1e-9)


def test_like_tensorflow_drops_what_tensorflow_drops_on_wide_inputs() -> None:
    # Flat inputs, where TensorFlow's search drops prefixes the plain one extends: the plain search differs
    # from TensorFlow's on some clips, the like_tensorflow one on none (whole final beams compared).
    differs = 0
    for seed in range(12):
        lp = random_logprobs(seed, 40, 12, scale=0.7).astype(np.float64)
        ref = [tokens for tokens, _ in tensorflow_beam_search(lp, 16)]
        assert [h.tokens for h in beam_search(lp, beam_width=16, like_tensorflow=True)] == ref, seed
        differs += [h.tokens for h in beam_search(lp, beam_width=16)] != ref
    assert differs >= 3


@pytest.mark.parametrize("seed", [165, 226, 495, 618, 1364, 1656])
def test_like_tensorflow_in_pass_order(seed: int) -> None:
    # Inputs where the order of TensorFlow's pass shows: a prefix whose parent was dropped is never
    # deactivated (its parent's extensions are never tried), and a dropped prefix's extensions no longer
    # count against the prefixes after it.
    rng = np.random.default_rng(seed)
    frames, classes, width = int(rng.integers(5, 40)), int(rng.integers(3, 12)), int(rng.integers(2, 30))
    scale = float(rng.choice([0.3, 0.6, 1.0, 1.5]))
    lp = log_softmax(rng.normal(size=(frames, classes)) * scale)
    ref = [tokens for tokens, _ in tensorflow_beam_search(lp, width)]
    assert [h.tokens for h in beam_search(lp, beam_width=width, like_tensorflow=True)] == ref


def test_like_tensorflow_batch_equals_per_clip() -> None:
    rng = np.random.default_rng(4)
    lp = log_softmax(rng.normal(size=(6, 30, 9)) * 0.8).astype(np.float32)
    lengths = np.array([30, 11, 0, 30, 1, 24])
    for width in (1, 5, 25):
        got = beam_search_batch(lp, lengths, width, like_tensorflow=True)
        want = [beam_search(lp[b], width, length=int(n), like_tensorflow=True) for b, n in enumerate(lengths)]
        assert got == want, width


@FAST
@given(logprob_arrays(max_frames=12, max_classes=6), st.integers(1, 20))
def test_beam_invariants(lp: np.ndarray, width: int) -> None:
    hyps = beam_search(lp, beam_width=width)
    check_hypotheses(hyps, lp.shape[0], lp.shape[1], width)


def test_beam_finds_the_sentence_with_text() -> None:
    vocab = LIPNET_VOCABULARY
    text = "set red by z seven soon"
    ids = vocab.encode(text)
    rng = np.random.default_rng(3)
    frames = 2 * len(ids) + 4
    logits = rng.normal(size=(frames, len(vocab.tokens)))
    logits[:, 0] += 7.0
    for i, c in enumerate(ids):
        logits[2 + 2 * i, c] += 14.0
    lp = log_softmax(logits).astype(np.float32)
    hyps = beam_search(lp, 10, vocab)
    assert hyps[0].text == text
    assert hyps[0].words == tuple(text.split())
    assert hyps[0].timesteps == tuple(2 + 2 * i for i in range(len(ids)))
    assert greedy_decode(lp, vocab).text == text


def test_impossible_labels_are_never_emitted() -> None:
    lp = random_logprobs(5, 8, 5).astype(np.float64)
    lp[:, 3] = -np.inf  # label 3 has probability 0 everywhere
    lp[2, 1] = -np.inf
    lp = log_softmax(lp)
    exact = {s: v for s, v in exact_scores(lp[:6]).items() if v > -math.inf}
    wide = beam_search(lp[:6], beam_width=len(exact))
    assert sorted(h.tokens for h in wide) == sorted(exact)
    for h in wide:
        assert h.score == pytest.approx(exact[h.tokens], abs=1e-9)
    for width in (1, 4, 50):
        for h in beam_search(lp, width):
            assert 3 not in h.tokens and h.score > -math.inf
            assert all(lp[t, c] > -math.inf for t, c in zip(h.timesteps, h.tokens))
    assert 3 not in greedy_decode(lp).tokens


def test_text_is_the_vocabularys_decode() -> None:
    from lipread.vocab import NOTEBOOK_VOCABULARY

    class Shouting:
        """A duck-typed vocabulary with its own decode."""

        tokens = ("", "a", "b", " ")
        space_id = 3

        def encode(self, text: str) -> list[int]:
            return [self.tokens.index(c) for c in text]

        def decode(self, ids: Sequence[int]) -> str:
            return "".join(self.tokens[i] for i in ids).upper()

    for vocab in (LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY, Shouting()):
        lp = random_logprobs(3, 40, len(vocab.tokens), scale=3.0)
        lp[:, 1] += 2.0  # the notebook's OOV slot (id 1) decodes to nothing
        hyps = beam_search(lp, 12, vocab)  # type: ignore[arg-type]
        batch = beam_search_batch(np.stack([lp, lp]), None, 12, vocab)  # type: ignore[arg-type]
        for h in (*hyps, *batch[1], greedy_decode(lp, vocab)):  # type: ignore[arg-type]
            assert h.text == vocab.decode(h.tokens)
            assert h.words == tuple(h.text.split())


def test_prune() -> None:
    lp = random_logprobs(7, 12, 6)
    assert beam_search(lp, 8, prune=-np.inf) == beam_search(lp, 8)
    pruned = beam_search(lp, 8, prune=-1.0)
    check_hypotheses(pruned, 12, 6, 8)
    for h in pruned:
        assert all(lp[t, c] >= -1.0 for t, c in zip(h.timesteps, h.tokens))


# ------------------------------------------------------------------------------------------------
# Batches
# ------------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(1, 10), st.integers(2, 5))
def test_batch_equals_per_clip(seed: int, batch: int, frames: int, classes: int) -> None:
    rng = np.random.default_rng(seed)
    lp = log_softmax(rng.normal(size=(batch, frames, classes)) * 2).astype(np.float32)
    lengths = rng.integers(0, frames + 1, size=batch)
    padded = lp.copy()
    for b, n in enumerate(lengths):
        padded[b, n:] = rng.normal(size=(frames - n, classes)) * 50  # garbage past the length
    greedy = greedy_decode_batch(padded, lengths)
    beams = beam_search_batch(padded, lengths, beam_width=4)
    for b, n in enumerate(lengths):
        assert greedy[b] == greedy_decode(lp[b], length=int(n))
        assert greedy[b] == greedy_decode(lp[b, :n])
        assert beams[b] == beam_search(lp[b], 4, length=int(n))
    assert greedy_decode_batch(lp) == [greedy_decode(x) for x in lp]
    assert beam_search_batch(lp, beam_width=3) == [beam_search(x, 3) for x in lp]


def test_batch_lockstep_equals_per_clip_on_realistic_sizes() -> None:
    # beam_search_batch advances all clips together; it must give exactly the per-clip results.
    vocab = LIPNET_VOCABULARY
    rng = np.random.default_rng(11)
    batch, frames, classes = 5, 30, len(vocab.tokens)
    logits = rng.normal(size=(batch, frames, classes)) * 2.0
    logits[..., 0] += 1.5
    lp = log_softmax(logits).astype(np.float32)
    lengths = np.array([30, 12, 0, 25, 1])
    lexicon = LexiconConstraint(["bin", "blue", "at", "a", "now", "set", "red"], vocab)
    grammar = GrammarConstraint(GRID_GRAMMAR, vocab)
    for width, constraint, prune in [
        (20, None, None),
        (3, None, None),
        (20, None, -3.0),
        (12, lexicon, None),
        (12, grammar, None),
        (4, grammar, -4.0),
    ]:
        got = beam_search_batch(lp, lengths, width, vocab, constraint, prune)
        want = [beam_search(lp[b], width, vocab, int(n), constraint, prune) for b, n in enumerate(lengths)]
        assert got == want, (width, constraint, prune)


def test_pooled_tries_are_left_clean() -> None:
    # The searches reuse their prefix-trie arrays between calls; each must leave them all -1.
    from lipread.decoding import prefix_trie

    lp = np.stack([random_logprobs(s, 20, 4) for s in range(3)])
    lex = LexiconConstraint(LEXICON, TINY)
    beam_search(lp[0], 7)
    beam_search(lp[0], 7, TINY, constraint=lex)
    beam_search(lp[0, :1], 3, TINY, constraint=LexiconConstraint(["ab"], TINY))  # empty result
    beam_search_batch(lp, [20, 3, 11], 5)
    beam_search_batch(lp, [1, 1, 1], 5, TINY, LexiconConstraint(["ab"], TINY))  # empty results
    assert prefix_trie._TRIE_POOL
    for pool in prefix_trie._TRIE_POOL.values():
        for trie in pool:
            assert (trie.flat == -1).all()
    got = beam_search(lp[1], 9)
    ref = reference_beam(lp[1].astype(np.float64), 9)
    assert [(h.tokens, h.timesteps) for h in got] == [(r[0], r[2]) for r in ref]
    np.testing.assert_allclose([h.score for h in got], [r[1] for r in ref], atol=1e-9)


def test_batch_ignores_nan_padding_and_uses_vocabulary() -> None:
    vocab = TINY
    lp = np.stack([random_logprobs(1, 6, 4), random_logprobs(2, 6, 4)])
    lp[0, 4:] = np.nan
    out = beam_search_batch(lp, [4, 6], beam_width=5, vocabulary=vocab)
    assert out[0] == beam_search(lp[0, :4], 5, vocab)
    assert out[1][0].text == vocab.decode(out[1][0].tokens)
    assert greedy_decode_batch(lp, np.array([4, 6]), vocab)[0] == greedy_decode(lp[0], vocab, 4)


# ------------------------------------------------------------------------------------------------
# Constraints
# ------------------------------------------------------------------------------------------------

LEXICON = ("a", "ab", "ba", "b")
SLOTS = (("a", "ab"), ("b", "ba"))


def in_lexicon_language(text: str, lexicon: Sequence[str]) -> bool:
    return bool(text) and all(w in lexicon for w in text.split(" "))


def in_grammar_language(text: str, slots: Sequence[Sequence[str]]) -> bool:
    words = text.split(" ")
    return len(words) == len(slots) and all(w in slot for w, slot in zip(words, slots))


def in_repeated_grammar_language(text: str, slots: Sequence[Sequence[str]]) -> bool:
    words, n = text.split(" "), len(slots)
    return len(words) % n == 0 and all(
        in_grammar_language(" ".join(words[i : i + n]), slots) for i in range(0, len(words), n)
    )


@pytest.mark.parametrize(
    "make, allowed",
    [
        (lambda v: LexiconConstraint(LEXICON, v), lambda text: in_lexicon_language(text, LEXICON)),
        (lambda v: GrammarConstraint(SLOTS, v), lambda text: in_grammar_language(text, SLOTS)),
        (lambda v: GrammarConstraint(SLOTS, v, repeat=True), lambda text: in_repeated_grammar_language(text, SLOTS)),
        (
            lambda v: GrammarConstraint([["a", "ab"]], v, repeat=True),
            lambda text: in_lexicon_language(text, ["a", "ab"]),
        ),
    ],
    ids=["lexicon", "grammar", "grammar-repeated", "one-slot-repeated"],
)
@settings(max_examples=40, deadline=None)
@given(lp=logprob_arrays(max_frames=6, max_classes=4, min_frames=1), width=st.integers(1, 6))
def test_constrained_search_matches_brute_force(make, allowed, lp: np.ndarray, width: int) -> None:
    lp = np.pad(lp, ((0, 0), (0, 4 - lp.shape[1])), constant_values=-8.0)  # V = 4 for TINY
    lp = log_softmax(lp).astype(np.float32)
    constraint = make(TINY)
    exact = exact_scores(lp.astype(np.float64))
    legal = {s: v for s, v in exact.items() if allowed(TINY.decode(s))}
    for s in exact:
        assert constraint.accepts(s) == (s in legal)
    wide = beam_search(lp, beam_width=len(exact), vocabulary=TINY, constraint=constraint)
    narrow = beam_search(lp, beam_width=width, vocabulary=TINY, constraint=constraint)
    for hyps in (wide, narrow):
        for h in hyps:
            assert allowed(h.text), h.text
            assert h.score <= legal[h.tokens] + 1e-5
        check_hypotheses(hyps, lp.shape[0], 4, len(exact))
    if not legal:
        assert wide == [] and narrow == []
        return
    best = max(legal.values())
    assert wide[0].score == pytest.approx(best, abs=1e-5)
    assert legal[wide[0].tokens] == pytest.approx(best, abs=1e-5)
    assert sorted(h.tokens for h in wide) == sorted(legal)


def test_lexicon_accepts_and_rejects() -> None:
    lex = LexiconConstraint(["bin", "blue", "at"], LIPNET_VOCABULARY)
    enc = LIPNET_VOCABULARY.encode
    for ok in ["bin", "bin blue", "at at at", "blue bin at"]:
        assert lex.accepts(enc(ok)), ok
    for bad in ["", "bi", "bin ", " bin", "bin  blue", "binblue", "red"]:
        assert not lex.accepts(enc(bad)), bad
    assert isinstance(lex, Constraint)
    assert lex.num_tokens == len(LIPNET_VOCABULARY.tokens)


def test_grid_grammar() -> None:
    grid = GrammarConstraint(GRID_GRAMMAR, LIPNET_VOCABULARY)
    enc = LIPNET_VOCABULARY.encode
    assert grid.accepts(enc("bin blue at f two now"))
    assert grid.accepts(enc("place white with z nine soon"))
    for bad in ["bin blue at w two now", "bin blue at f two", "bin blue at f two now again", "blue bin at f two now"]:
        assert not grid.accepts(enc(bad)), bad
    assert not grid.accepts(enc("bin blue at f two now set red by a one soon"))
    # repeated: one or more whole sentences, each with a single space before the next
    several = GrammarConstraint(GRID_GRAMMAR, LIPNET_VOCABULARY, repeat=True)
    for ok in [
        "bin blue at f two now",
        "bin blue at f two now set red by a one soon",
        " ".join(["lay green in z zero please"] * 4),
    ]:
        assert several.accepts(enc(ok)), ok
    for bad in [
        "bin blue at f two now set red",
        "bin blue at f two now ",
        "bin blue at f two now  set red by a one soon",
        "bin blue at f two nowset red by a one soon",
    ]:
        assert not several.accepts(enc(bad)), bad
    # Noisy frames favouring an almost-GRID text: the constrained search returns a GRID sentence.
    rng = np.random.default_rng(0)
    target = enc("bin blue at w two now")
    logits = rng.normal(size=(60, len(LIPNET_VOCABULARY.tokens)))
    logits[:, 0] += 1.0
    for i, c in enumerate(target):
        logits[1 + 2 * i, c] += 6.0
    lp = log_softmax(logits).astype(np.float32)
    hyps = beam_search(lp, 20, LIPNET_VOCABULARY, constraint=grid)
    assert hyps
    for h in hyps:
        assert grid.accepts(h.tokens)
        assert len(h.words) == 6 and all(w in slot for w, slot in zip(h.words, GRID_GRAMMAR))
    assert hyps[0].text.startswith("bin blue at ") and hyps[0].text.endswith(" two now")
    assert beam_search(lp[:5], 20, LIPNET_VOCABULARY, constraint=grid) == []  # too short for any sentence


def test_constraint_drops_prefixes_that_cannot_finish_in_time() -> None:
    # One frame: "a" is likelier but cannot become a word in time, so even a beam of 1 returns "b".
    lp = np.log(np.array([[0.1, 0.6, 0.3, 1e-6]]))
    for constraint in (LexiconConstraint(["ab", "b"], TINY), StringLexicon(["ab", "b"], TINY)):
        hyps = beam_search(lp, 1, TINY, constraint=constraint)
        assert [h.text for h in hyps] == ["b"]
        assert hyps[0].score == pytest.approx(math.log(0.3))
    assert beam_search(lp, 1, TINY, constraint=LexiconConstraint(["ab"], TINY)) == []


class StringLexicon:
    """A Constraint with string states (the text so far), independent of TokenAutomaton."""

    def __init__(self, words: Sequence[str], vocab: Vocabulary) -> None:
        self.words = set(words)
        self.vocab = vocab

    def initial(self) -> object:
        return ""

    def _ok(self, text: str) -> bool:
        *done, cur = text.split(" ")
        return all(w in self.words for w in done) and any(w.startswith(cur) for w in self.words)

    def allowed(self, state: object) -> set[int]:
        return {i for i in range(1, len(self.vocab.tokens)) if self._ok(str(state) + self.vocab.tokens[i])}

    def advance(self, state: object, token: int) -> object | None:
        text = str(state) + self.vocab.tokens[token]
        return text if self._ok(text) else None

    def is_final(self, state: object) -> bool:
        return in_lexicon_language(str(state), sorted(self.words))


def test_generic_protocol_constraint_equals_automaton() -> None:
    generic = StringLexicon(LEXICON, TINY)
    automaton = LexiconConstraint(LEXICON, TINY)
    for seed in range(15):
        lp = random_logprobs(seed, 7, 4, scale=1.5)
        for width in (1, 3, 12):
            a = beam_search(lp, width, TINY, constraint=generic)
            b = beam_search(lp, width, TINY, constraint=automaton)
            assert [h.tokens for h in a] == [h.tokens for h in b]
            np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-12)
    batch = np.stack([random_logprobs(s, 7, 4) for s in range(3)])
    assert beam_search_batch(batch, [7, 5, 3], 6, TINY, generic) == [
        beam_search(batch[i], 6, TINY, length=n, constraint=automaton) for i, n in enumerate([7, 5, 3])
    ]


def test_token_automaton_validation() -> None:
    with pytest.raises(DecodingError):
        TokenAutomaton(np.array([[0, -1]]), np.array([True]))  # transition on the blank
    with pytest.raises(DecodingError):
        TokenAutomaton(np.array([[-1, 5]]), np.array([True]))  # unknown state
    with pytest.raises(DecodingError):
        LexiconConstraint([], TINY)
    with pytest.raises(DecodingError):
        LexiconConstraint(["a c"], TINY)
    with pytest.raises(DecodingError):
        LexiconConstraint(["abc"], TINY)  # "c" is not in the vocabulary
    with pytest.raises(DecodingError):
        GrammarConstraint([], TINY)
    with pytest.raises(DecodingError):
        GrammarConstraint([["a"], []], TINY)
    with pytest.raises(DecodingError):
        LexiconConstraint(["ab"], Vocabulary("ab"))  # no space
    GrammarConstraint([["ab", "b"]], Vocabulary("ab"))  # one slot needs no space
    lex = LexiconConstraint(LEXICON, TINY)
    with pytest.raises(DecodingError):
        beam_search(random_logprobs(0, 4, 5), constraint=lex)  # V = 5, automaton over 4


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("decode", [greedy_decode, beam_search])
def test_errors_single(decode) -> None:
    lp = random_logprobs(0, 5, 4)
    bad = lp.copy()
    bad[2, 1] = np.nan
    with pytest.raises(DecodingError):
        decode(bad)
    bad[2, 1] = np.inf
    with pytest.raises(DecodingError):
        decode(bad)
    bad[2] = -np.inf
    with pytest.raises(DecodingError):
        decode(bad)
    for wrong in (lp[0], lp[None], np.float32(1.0)):
        with pytest.raises(DecodingError):
            decode(wrong)
    with pytest.raises(DecodingError):
        decode(lp, vocabulary=LIPNET_VOCABULARY)  # V = 4 but 28 classes
    for length in (-1, 6, 2.5, True):
        with pytest.raises(DecodingError):
            decode(lp, length=length)
    with pytest.raises(ValueError):  # DecodingError is a ValueError
        decode(np.array([["x"]]))
    decode(lp, length=np.int64(3))
    decode(lp, vocabulary=TINY)


def test_errors_beam_arguments_and_batch() -> None:
    lp = random_logprobs(0, 5, 4)
    for width in (0, -3, 2.0):
        with pytest.raises(DecodingError):
            beam_search(lp, beam_width=width)  # type: ignore[arg-type]
    with pytest.raises(DecodingError):
        beam_search(lp, prune=0.5)
    with pytest.raises(DecodingError):
        beam_search(lp, prune=float("nan"))
    grammar = GrammarConstraint(GRID_GRAMMAR, LIPNET_VOCABULARY)
    with pytest.raises(DecodingError, match="like_tensorflow"):
        beam_search(lp, prune=-2.0, like_tensorflow=True)
    with pytest.raises(DecodingError, match="like_tensorflow"):
        beam_search_batch(random_logprobs(0, 5, 28)[None], constraint=grammar, like_tensorflow=True)
    batch = np.stack([lp, lp])
    for decode in (greedy_decode_batch, beam_search_batch):
        with pytest.raises(DecodingError):
            decode(lp)
        with pytest.raises(DecodingError):
            decode(batch, [5])
        with pytest.raises(DecodingError):
            decode(batch, [5, 6])
        with pytest.raises(DecodingError):
            decode(batch, [1.5, 2])  # type: ignore[list-item]
        nan = batch.copy()
        nan[1, 0, 0] = np.nan
        with pytest.raises(DecodingError):
            decode(nan)
        with pytest.raises(DecodingError):
            decode(batch, vocabulary=LIPNET_VOCABULARY)
    assert len(beam_search_batch(np.zeros((0, 5, 4)))) == 0
