"""CTC decoding: log-probabilities ``(T, V)`` in, text out. Greedy (best path) and prefix beam search,
optionally constrained to a lexicon or a grammar, a variant that reproduces TensorFlow's beam search, a
compiled beam search where numba is installed, the best-path alignment that times the words, and the
choice of decoder by name (:func:`make_decoder`).

It needs only NumPy and the contracts below it (:mod:`lipread.errors`, :mod:`lipread.vocab`, the decoder
names of :mod:`lipread.config`), plus the GRID grammar of :mod:`lipread.data.grid` as the default language
of the ``lexicon`` and ``grammar`` decoders. It never imports video, a backend, the front door or the CLI:
any log-probabilities, from any framework, decode the same way. numba is imported only where the compiled
search is first used (:mod:`~lipread.decoding.beam_numba`), never by importing this package.
"""

from __future__ import annotations

from .beam import beam_search
from .beam_batch import beam_search_batch
from .constraints import Constraint, GrammarConstraint, LexiconConstraint, TokenAutomaton
from .decoders import DECODERS, DEFAULT_BEAM_WIDTH, Decoder, TimedWord, make_decoder, sentence_confidence, timed_words
from .greedy import greedy_decode, greedy_decode_batch
from .hypothesis import BLANK, Hypothesis
from .viterbi import TokenSpan, best_path_spans

__all__ = [
    "BLANK",
    "DECODERS",
    "DEFAULT_BEAM_WIDTH",
    "Constraint",
    "Decoder",
    "GrammarConstraint",
    "Hypothesis",
    "LexiconConstraint",
    "TimedWord",
    "TokenAutomaton",
    "TokenSpan",
    "beam_search",
    "beam_search_batch",
    "best_path_spans",
    "greedy_decode",
    "greedy_decode_batch",
    "make_decoder",
    "sentence_confidence",
    "timed_words",
]
