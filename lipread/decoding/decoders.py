"""Choosing a CTC decoder by name, and turning a decoded hypothesis into timed, scored words.

Decoders (all in :mod:`lipread.decoding`):

- ``"greedy"``: best path (arg-max per frame).
- ``"beam"``: prefix beam search, unconstrained.
- ``"lexicon"``: beam search whose output is one or more words of a word list (default: the 51 GRID words;
  a training run writes its training texts' words into its folder: :data:`lipread.data.alphabet.WORDS_FILE`).
- ``"grammar"``: beam search whose output is one or more sentences of the GRID grammar
  (command colour preposition letter digit adverb), as many as the clip says.

A constrained search can find no allowed text (a clip too short for any sentence of the grammar); the
decoder then returns the empty hypothesis with score ``-inf``.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..config import DECODERS, MAX_BEAM_WIDTH
from ..data.grid import GRAMMAR, WORDS
from ..data.manifest import normalise_text
from ..data.text_file import read_word_list
from ..errors import DecodingError
from ..vocab import Vocabulary
from .beam_batch import beam_search_batch
from .constraints import GrammarConstraint, LexiconConstraint, TokenAutomaton
from .greedy import greedy_decode_batch
from .hypothesis import Hypothesis
from .viterbi import TokenSpan, best_path_spans

__all__ = ["DECODERS", "Decoder", "TimedWord", "make_decoder", "sentence_confidence", "timed_words"]

DEFAULT_BEAM_WIDTH = 16


@dataclass(frozen=True)
class Decoder:
    """A configured CTC decoder for one vocabulary.

    Attributes:
        name: one of :data:`DECODERS`.
        vocabulary: the model's output classes.
        beam_width: prefixes kept per frame (unused by ``"greedy"``).
        constraint: the language ``"lexicon"`` and ``"grammar"`` restrict the search to, else None.
    """

    name: str
    vocabulary: Vocabulary
    beam_width: int = DEFAULT_BEAM_WIDTH
    constraint: TokenAutomaton | None = None

    def decode_batch(self, logprobs: np.ndarray, lengths: Sequence[int] | np.ndarray) -> list[Hypothesis]:
        """The best hypothesis of each clip of ``float32 (B, T, V)`` log-probabilities with ``lengths`` ``int (B,)``.

        Raises:
            DecodingError: the log-probabilities have the wrong shape or hold NaN.
        """
        if self.name == "greedy":
            return greedy_decode_batch(logprobs, lengths, self.vocabulary)
        results = beam_search_batch(logprobs, lengths, self.beam_width, self.vocabulary, self.constraint)
        return [best[0] if best else Hypothesis((), (), -math.inf) for best in results]


def make_decoder(
    name: str,
    vocabulary: Vocabulary,
    beam_width: int = DEFAULT_BEAM_WIDTH,
    lexicon: Iterable[str] | os.PathLike[str] | None = None,
) -> Decoder:
    """A decoder by name.

    Args:
        name: ``"greedy"``, ``"beam"``, ``"lexicon"`` or ``"grammar"``.
        vocabulary: the model's vocabulary (the constraints are built over its ids).
        beam_width: for the beam decoders, >= 1.
        lexicon: the word list of ``"lexicon"`` (default the GRID words), or a word-list file's ``Path`` (one
            word per line), checked and read whatever the decoder, used by ``"lexicon"`` only. Its words
            are normalised as training normalises texts (:func:`lipread.data.manifest.normalise_text`: NFC,
            lower case unless the vocabulary has upper-case letters).

    Raises:
        DecodingError: unknown name, bad beam width, or a lexicon/grammar the vocabulary cannot spell (for the
            GRID defaults, a model with another alphabet: the message says so).
    """
    if isinstance(name, str):
        name = name.strip().lower()  # as backend names are read
    if name not in DECODERS:
        raise DecodingError(f"unknown decoder {name!r}; use one of {', '.join(DECODERS)}")
    if name != "greedy" and (
        isinstance(beam_width, bool) or not isinstance(beam_width, numbers.Integral) or beam_width < 1
    ):
        raise DecodingError(f"beam width must be a positive integer, not {beam_width!r}")
    beam_width = int(beam_width)  # a NumPy integer too
    if isinstance(lexicon, (str, bytes)):  # its letters would each become a word; a path, or a word?
        raise DecodingError(
            f"the lexicon is a list of words, not one string: {lexicon[:40]!r} (a word list file: give a Path)"
        )
    if isinstance(lexicon, os.PathLike):
        lexicon = read_word_list(lexicon, error=DecodingError)
    if lexicon is not None:
        lexicon = list(lexicon)
        odd = next((w for w in lexicon if not isinstance(w, str)), None)
        if odd is not None:
            raise DecodingError(f"the lexicon's words must be strings, not {type(odd).__name__} ({odd!r})")
    if name != "greedy" and beam_width > MAX_BEAM_WIDTH:
        raise DecodingError(f"beam width {beam_width} is more than {MAX_BEAM_WIDTH}, the widest lipread searches")
    constraint: TokenAutomaton | None = None
    if name in ("lexicon", "grammar") and (name == "grammar" or lexicon is None):
        lacking = sorted({c for word in WORDS for c in word} - set(vocabulary.characters))
        if lacking:  # a model of another alphabet, trained on its own data
            what = "grammar" if name == "grammar" else "word list (the default lexicon)"
            raise DecodingError(
                f"the {name} decoder reads GRID sentences, but the model's alphabet lacks {''.join(lacking)!r} of "
                f"the GRID {what}; give a word list of its language to the lexicon decoder (a training run writes "
                "words.txt), or read with the beam decoder"
            )
    if name == "lexicon":
        words = sorted(WORDS) if lexicon is None else [normalise_text(w, vocabulary) for w in lexicon if w.strip()]
        constraint = LexiconConstraint(words, vocabulary)
    elif name == "grammar":
        constraint = GrammarConstraint(GRAMMAR, vocabulary, repeat=True)
    return Decoder(name, vocabulary, beam_width, constraint)


@dataclass(frozen=True)
class TimedWord:
    """A decoded word: its text, its first and last frame, and its confidence in [0, 1]."""

    word: str
    first_frame: int
    last_frame: int
    confidence: float


def timed_words(hypothesis: Hypothesis, logprobs: np.ndarray, vocabulary: Vocabulary) -> list[TimedWord]:
    """Split a hypothesis into words, each with the frames its characters occupy.

    Words are the runs of tokens between space tokens. Frames come from the most likely CTC alignment of
    the hypothesis' tokens (:func:`lipread.decoding.viterbi.best_path_spans`), so the same text gets the same times
    from every decoder: a word runs from its first character's first frame to its last character's last
    frame. Its confidence is the mean, over its characters, of the model's highest posterior probability of
    that character within its frames. (Should the tokens have no alignment, which a decoder never returns,
    the hypothesis' own emission frames are used.)

    Args:
        hypothesis: a decoded clip (its ``tokens``; ``timesteps`` only as the fallback above).
        logprobs: that clip's ``float (T, V)`` log-probabilities.
        vocabulary: the model's vocabulary.
    """
    spans = best_path_spans(logprobs, hypothesis.tokens)
    if spans is None:
        spans = [TokenSpan(tok, t, t, t) for tok, t in zip(hypothesis.tokens, hypothesis.timesteps)]
    space = vocabulary.space_id
    words: list[TimedWord] = []
    run: list[TokenSpan] = []

    def flush() -> None:
        text = vocabulary.decode([span.token for span in run])
        if text:
            probs = [math.exp(float(logprobs[span.peak, span.token])) for span in run]
            words.append(TimedWord(text, run[0].start, run[-1].end, sum(probs) / len(probs)))
        run.clear()

    for span in spans:
        if span.token == space:
            flush()
        else:
            run.append(span)
    if run:
        flush()
    return words


def sentence_confidence(hypothesis: Hypothesis, frames: int) -> float:
    """Confidence of a decoded clip in [0, 1]: ``exp(score / frames)``.

    That is the per-frame geometric mean of the probability the model gives the decoded text (greedy: of
    its best path). 0 for an impossible hypothesis or an empty clip.
    """
    if frames <= 0 or not math.isfinite(hypothesis.score):
        return 0.0
    return min(1.0, math.exp(hypothesis.score / frames))
