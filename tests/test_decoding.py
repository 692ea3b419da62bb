"""Decoder selection and word timing (lipread.decoding.decoders) on top of the CTC decoders."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lipread.data.grid import WORDS, is_grid_sentence
from lipread.decoding import Hypothesis, greedy_decode
from lipread.decoding.decoders import DECODERS, make_decoder, sentence_confidence, timed_words
from lipread.errors import DecodingError
from lipread.vocab import LIPNET_VOCABULARY as VOCAB


def _random_logprobs(batch: int, steps: int, seed: int, sharp: float = 3.0) -> np.ndarray:
    z = np.random.default_rng(seed).standard_normal((batch, steps, VOCAB.size)) * sharp
    z[..., 0] += 1.0
    return (z - np.log(np.exp(z).sum(axis=-1, keepdims=True))).astype(np.float32)


def _peaked(text: str, frames_per_char: int = 2, steps: int | None = None) -> np.ndarray:
    """Log-probabilities that spell ``text``: each character on its own frame, blanks between."""
    ids = VOCAB.encode(text)
    steps = steps or len(ids) * frames_per_char + 2
    lp = np.full((steps, VOCAB.size), math.log(0.01 / (VOCAB.size - 1)))
    lp[:, 0] = math.log(0.99)
    for i, tok in enumerate(ids):
        t = 1 + i * frames_per_char
        lp[t, :] = math.log(0.02 / (VOCAB.size - 1))
        lp[t, tok] = math.log(0.98)
    return lp.astype(np.float32)


def test_every_name_builds_and_unknown_names_fail() -> None:
    for name in DECODERS:
        d = make_decoder(name, VOCAB, beam_width=4)
        assert d.name == name
        assert (d.constraint is None) == (name in ("greedy", "beam"))
    with pytest.raises(DecodingError, match="unknown decoder"):
        make_decoder("viterbi", VOCAB)
    with pytest.raises(DecodingError, match="beam width"):
        make_decoder("beam", VOCAB, beam_width=0)


def test_greedy_matches_ctc_greedy() -> None:
    lp = _random_logprobs(3, 30, seed=1)
    lengths = np.array([30, 20, 11])
    got = make_decoder("greedy", VOCAB).decode_batch(lp, lengths)
    for b in range(3):
        assert got[b] == greedy_decode(lp[b], VOCAB, int(lengths[b]))


def test_beam_finds_a_clear_sentence() -> None:
    lp = _peaked("bin blue at f two now")[None]
    for name in DECODERS:
        hyp = make_decoder(name, VOCAB, beam_width=8).decode_batch(lp, [lp.shape[1]])[0]
        assert hyp.text == "bin blue at f two now", name


@pytest.mark.parametrize("seed", range(6))
def test_grammar_output_is_always_grid_sentences(seed: int) -> None:
    lp = _random_logprobs(2, 75, seed=seed)
    for hyp in make_decoder("grammar", VOCAB, beam_width=8).decode_batch(lp, [75, 60]):
        words = hyp.text.split(" ")
        assert words and len(words) % 6 == 0, hyp.text  # one or more whole sentences
        assert all(is_grid_sentence(" ".join(words[i : i + 6])) for i in range(0, len(words), 6)), hyp.text


@pytest.mark.parametrize("seed", range(3))
def test_lexicon_output_uses_only_lexicon_words(seed: int) -> None:
    lp = _random_logprobs(1, 75, seed=seed)
    hyp = make_decoder("lexicon", VOCAB, beam_width=8).decode_batch(lp, [75])[0]
    assert hyp.words and set(hyp.words) <= WORDS
    own = make_decoder("lexicon", VOCAB, beam_width=8, lexicon=["cat", "dog", " "]).decode_batch(lp, [75])[0]
    assert own.words and set(own.words) <= {"cat", "dog"}


def test_lexicon_the_vocabulary_cannot_spell() -> None:
    with pytest.raises(DecodingError):
        make_decoder("lexicon", VOCAB, lexicon=["naïve"])


def test_constrained_search_without_solution_gives_empty_hypothesis() -> None:
    lp = _random_logprobs(1, 5, seed=0)  # five frames cannot hold a six-word sentence
    hyp = make_decoder("grammar", VOCAB, beam_width=4).decode_batch(lp, [5])[0]
    assert hyp.text == "" and hyp.score == -math.inf
    assert sentence_confidence(hyp, 5) == 0.0


def test_timed_words_take_first_and_last_emission_frames() -> None:
    lp = _peaked("at f", frames_per_char=3)
    hyp = greedy_decode(lp, VOCAB)
    assert hyp.timesteps == (1, 4, 7, 10)
    words = timed_words(hyp, lp, VOCAB)
    assert [(w.word, w.first_frame, w.last_frame) for w in words] == [("at", 1, 4), ("f", 10, 10)]
    assert all(w.confidence == pytest.approx(0.98, abs=1e-4) for w in words)


def test_timed_words_do_not_depend_on_where_the_decoder_emitted() -> None:
    # "at": 'a' rises over frames 1-2 (0.5 then 0.95), 't' sits on frame 4 (0.98); whether a decoder
    # emitted 'a' at frame 1 or 2, the words are the same.
    lp = _peaked("at", frames_per_char=3)
    a, t = VOCAB.encode("at")
    lp[1, a], lp[1, 0] = math.log(0.5), math.log(0.49)
    lp[2, :] = math.log(0.05 / (VOCAB.size - 1))
    lp[2, a] = math.log(0.95)
    early = Hypothesis((a, t), (1, 4), 0.0)
    late = Hypothesis((a, t), (2, 4), 0.0)
    words = timed_words(early, lp, VOCAB)
    assert words == timed_words(late, lp, VOCAB)
    assert [(w.word, w.first_frame, w.last_frame) for w in words] == [("at", 1, 4)]
    assert words[0].confidence == pytest.approx((0.95 + 0.98) / 2)  # each character at its surest frame


def test_timed_words_of_an_empty_hypothesis() -> None:
    assert timed_words(Hypothesis((), (), 0.0), np.zeros((3, VOCAB.size)), VOCAB) == []


def test_sentence_confidence_is_a_per_frame_geometric_mean() -> None:
    lp = _peaked("bin", frames_per_char=2)
    hyp = greedy_decode(lp, VOCAB)
    frames = lp.shape[0]
    assert sentence_confidence(hyp, frames) == pytest.approx(math.exp(hyp.score / frames))
    assert 0.9 < sentence_confidence(hyp, frames) <= 1.0
    assert sentence_confidence(hyp, 0) == 0.0
