"""Constraints: the languages a beam search may be restricted to, as deterministic automata over label ids.

A :class:`Constraint` is any automaton with ``initial``/``allowed``/``advance``/``is_final``; a
:class:`TokenAutomaton` is one given as tables, which the search indexes with arrays. Two are built from word
lists, each a character trie over label ids: :class:`LexiconConstraint` (one or more words from a list,
separated by single spaces) and :class:`GrammarConstraint` (one word from each of a sequence of slots, e.g.
the GRID grammar). The blank never reaches a constraint: it only sees the collapsed label sequence.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..errors import DecodingError
from .hypothesis import BLANK

if TYPE_CHECKING:
    from ..vocab import Vocabulary

__all__ = ["Constraint", "GrammarConstraint", "LexiconConstraint", "TokenAutomaton"]

_UNREACHABLE = np.iinfo(np.int64).max // 4
"""Distance-to-final of a constraint state from which no final state can be reached."""


@runtime_checkable
class Constraint(Protocol):
    """A language the beam search may output, as a deterministic automaton over label ids.

    States may be any *hashable* objects (the search interns them). The blank never reaches a
    constraint: it only sees the collapsed label sequence.
    """

    def initial(self) -> Any:
        """The state of the empty text."""
        ...

    def allowed(self, state: Any) -> Any:
        """The label ids that may follow ``state``: a set/iterable of ids or a boolean mask of shape ``(V,)``."""
        ...

    def advance(self, state: Any, token: int) -> Any:
        """The state after appending ``token``, or None when ``token`` is not allowed there."""
        ...

    def is_final(self, state: Any) -> bool:
        """Whether the text may end in ``state``."""
        ...


class TokenAutomaton:
    """A deterministic finite automaton over label ids, usable as a :class:`Constraint`.

    States are ints ``0..S-1``. The beam search uses the tables directly (no Python per state).

    Args:
        transitions: ``int (S, V)``: next state per (state, token), ``-1`` where not allowed. Column 0 (the
            blank) must be ``-1``.
        final: ``bool (S,)``: states where the text may end.
        start: the initial state.

    Attributes:
        transitions, final, start: as given (``transitions`` as ``int64``, read-only).
        distance: ``int64 (S,)``: fewest labels needed to reach a final state (a huge number when none
            can be reached); the search drops prefixes that cannot reach a final state in the frames left.
    """

    def __init__(self, transitions: np.ndarray, final: np.ndarray, start: int = 0) -> None:
        trans = np.array(transitions, dtype=np.int64)
        fin = np.array(final, dtype=bool)
        if trans.ndim != 2 or trans.shape[1] < 1 or fin.shape != (trans.shape[0],):
            raise DecodingError(f"automaton tables have shapes {trans.shape} and {fin.shape}; expected (S, V) and (S,)")
        n_states = trans.shape[0]
        if not 0 <= start < n_states:
            raise DecodingError(f"automaton start state {start} is not in 0..{n_states - 1}")
        if np.any(trans < -1) or np.any(trans >= n_states):
            raise DecodingError("automaton transitions must be -1 or a state id")
        if np.any(trans[:, BLANK] != -1):
            raise DecodingError("automaton transitions on the blank (column 0) must be -1")
        trans.setflags(write=False)
        fin.setflags(write=False)
        self.transitions: np.ndarray = trans
        self.final: np.ndarray = fin
        self.start: int = int(start)
        self.distance: np.ndarray = _distance_to_final(trans, fin)
        self.distance.setflags(write=False)

    @property
    def num_states(self) -> int:
        """Number of states S."""
        return int(self.transitions.shape[0])

    @property
    def num_tokens(self) -> int:
        """Number of classes V (blank included) the automaton is defined over."""
        return int(self.transitions.shape[1])

    # Constraint protocol ---------------------------------------------------------------------------
    def initial(self) -> int:
        """The start state."""
        return self.start

    def allowed(self, state: int) -> np.ndarray:
        """``bool (V,)``: the label ids allowed after ``state``."""
        return self.transitions[state] >= 0

    def advance(self, state: int, token: int) -> int | None:
        """The next state, or None when ``token`` is not allowed after ``state``."""
        if not 0 <= token < self.num_tokens:
            return None
        nxt = int(self.transitions[state, token])
        return None if nxt < 0 else nxt

    def is_final(self, state: int) -> bool:
        """Whether the text may end in ``state``."""
        return bool(self.final[state])

    # Helpers -------------------------------------------------------------------------------------
    def accepts(self, tokens: Iterable[int]) -> bool:
        """Whether the label sequence ``tokens`` (no blanks) is in the language."""
        state: int | None = self.start
        for tok in tokens:
            state = self.advance(state, int(tok))  # type: ignore[arg-type]
            if state is None:
                return False
        return self.is_final(state)  # type: ignore[arg-type]


def _distance_to_final(trans: np.ndarray, final: np.ndarray) -> np.ndarray:
    """``int64 (S,)``: fewest transitions from each state to a final state (reverse BFS)."""
    n_states = trans.shape[0]
    dist = np.full(n_states, _UNREACHABLE, dtype=np.int64)
    preds: list[list[int]] = [[] for _ in range(n_states)]
    src, _tok = np.nonzero(trans >= 0)
    for s, d in zip(src.tolist(), trans[trans >= 0].tolist()):
        preds[d].append(s)
    queue = deque(int(s) for s in np.flatnonzero(final))
    for s in queue:
        dist[s] = 0
    while queue:
        s = queue.popleft()
        for p in preds[s]:
            if dist[p] == _UNREACHABLE:
                dist[p] = dist[s] + 1
                queue.append(p)
    return dist


def _char_ids(vocabulary: Vocabulary) -> dict[str, int]:
    """Map each single-character token of ``vocabulary`` to its id (blank and empty tokens excluded)."""
    return {tok: i for i, tok in enumerate(vocabulary.tokens) if i != BLANK and len(tok) == 1}


class _AutomatonBuilder:
    """Grows a DFA over label ids made of character tries (one per word list)."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.size = len(vocabulary.tokens)
        self.char_ids = _char_ids(vocabulary)
        self.space_id = self.char_ids.get(" ")
        self.edges: list[dict[int, int]] = []
        self.final: list[bool] = []

    def new_state(self) -> int:
        self.edges.append({})
        self.final.append(False)
        return len(self.edges) - 1

    def add_words(self, root: int, words: Iterable[str], what: str) -> list[int]:
        """Add a trie of ``words`` below ``root``; return the states where a word ends."""
        ends: list[int] = []
        count = 0
        for word in words:
            count += 1
            if not isinstance(word, str) or not word:
                raise DecodingError(f"{what} holds {word!r}; words must be non-empty strings")
            if any(ch.isspace() for ch in word):
                raise DecodingError(f"{what} holds {word!r}; words must not contain whitespace")
            state = root
            for ch in word:
                tok = self.char_ids.get(ch)
                if tok is None:
                    raise DecodingError(f"{what}: character {ch!r} of {word!r} is not in the vocabulary")
                nxt = self.edges[state].get(tok)
                if nxt is None:
                    nxt = self.new_state()
                    self.edges[state][tok] = nxt
                state = nxt
            ends.append(state)
        if count == 0:
            raise DecodingError(f"{what} is empty")
        return ends

    def need_space(self, what: str) -> int:
        if self.space_id is None:
            raise DecodingError(f"{what} needs a space token but the vocabulary has none")
        return self.space_id

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        trans = np.full((len(self.edges), self.size), -1, dtype=np.int64)
        for s, out in enumerate(self.edges):
            for tok, nxt in out.items():
                trans[s, tok] = nxt
        return trans, np.array(self.final, dtype=bool)


class LexiconConstraint(TokenAutomaton):
    """Texts made of one or more words from ``words``, separated by single spaces.

    Built as a character trie over label ids whose word ends are final and loop back to the root on a
    space. No leading, trailing or double spaces are allowed.

    Args:
        words: the lexicon (non-empty strings of vocabulary characters without whitespace).
        vocabulary: maps characters to ids; must have a ``" "`` token.

    Raises:
        DecodingError: empty lexicon, a bad word, or no space in the vocabulary.
    """

    def __init__(self, words: Iterable[str], vocabulary: Vocabulary) -> None:
        words = list(words)
        b = _AutomatonBuilder(vocabulary)
        root = b.new_state()
        ends = b.add_words(root, words, "lexicon")
        space = b.need_space("a lexicon constraint")
        for e in ends:
            b.final[e] = True
            b.edges[e][space] = root
        trans, final = b.tables()
        super().__init__(trans, final, root)
        self.words: frozenset[str] = frozenset(words)
        self.vocabulary = vocabulary


class GrammarConstraint(TokenAutomaton):
    """Texts ``w0 + " " + w1 + ... + " " + w{n-1}`` with each ``wi`` taken from ``slots[i]`` (a sentence), or
    with ``repeat`` one or more such sentences separated by spaces.

    A word-slot automaton: one character trie per slot; a word end of slot ``i`` moves to slot ``i+1``'s
    trie on a space and is final for the last slot (and, with ``repeat``, moves back to the first slot's trie
    on a space). E.g. the GRID grammar is six slots (command colour preposition letter digit adverb), see
    :data:`lipread.data.grid.GRAMMAR`.

    Args:
        slots: one or more word lists (each non-empty; words non-empty, no whitespace).
        vocabulary: maps characters to ids; must have a ``" "`` token when there are two or more slots, or
            ``repeat``.
        repeat: allow a sentence to follow a sentence (a clip in which several are said).

    Raises:
        DecodingError: no slots, an empty slot, a bad word, or no space in the vocabulary.
    """

    def __init__(self, slots: Sequence[Sequence[str]], vocabulary: Vocabulary, repeat: bool = False) -> None:
        slots = [list(slot) for slot in slots]
        if not slots:
            raise DecodingError("a grammar constraint needs at least one word slot")
        b = _AutomatonBuilder(vocabulary)
        start = b.new_state()
        root = start
        for i, slot in enumerate(slots):
            ends = b.add_words(root, slot, f"grammar slot {i}")
            if i == len(slots) - 1:
                space = b.need_space("a grammar constraint that repeats") if repeat else None
                for e in ends:
                    b.final[e] = True
                    if space is not None:
                        b.edges[e][space] = start
            else:
                space = b.need_space("a grammar constraint with several slots")
                root = b.new_state()
                for e in ends:
                    b.edges[e][space] = root
        trans, final = b.tables()
        super().__init__(trans, final, start)
        self.slots: tuple[tuple[str, ...], ...] = tuple(tuple(s) for s in slots)
        self.vocabulary = vocabulary


class _CompiledConstraint:
    """A constraint as integer tables the beam search can index with arrays.

    A :class:`TokenAutomaton` is used as is. Any other :class:`Constraint` is explored lazily: its states
    are interned to ints the first time they appear, and a state's row of the transition table is filled
    the first time a prefix in that state is on the beam.
    """

    lazy: bool
    start: int
    trans: np.ndarray
    distance: np.ndarray

    def __init__(self, constraint: Constraint, num_tokens: int) -> None:
        self.num_tokens = num_tokens
        if isinstance(constraint, TokenAutomaton):
            if constraint.num_tokens != num_tokens:
                raise DecodingError(
                    f"constraint is defined over {constraint.num_tokens} classes but logprobs have {num_tokens}"
                )
            self.lazy = False
            self.trans = constraint.transitions
            self.distance = constraint.distance
            self.start = constraint.start
            return
        if not isinstance(constraint, Constraint):
            raise DecodingError(f"{constraint!r} is not a Constraint (needs initial/allowed/advance/is_final)")
        self.lazy = True
        self.constraint = constraint
        self.objects: list[object] = []
        self.ids: dict[object, int] = {}
        self.trans = np.full((16, num_tokens), -1, dtype=np.int64)
        self.distance = np.ones(16, dtype=np.int64)
        self.expanded = np.zeros(16, dtype=bool)
        self.start = self._intern(constraint.initial())

    def _intern(self, obj: object) -> int:
        try:
            sid = self.ids.get(obj)
        except TypeError:
            raise DecodingError(f"constraint state {obj!r} is not hashable") from None
        if sid is not None:
            return sid
        sid = len(self.objects)
        if sid >= self.trans.shape[0]:
            cap = 2 * self.trans.shape[0]
            trans = np.full((cap, self.num_tokens), -1, dtype=np.int64)
            trans[:sid] = self.trans
            dist = np.ones(cap, dtype=np.int64)
            dist[:sid] = self.distance[:sid]
            exp = np.zeros(cap, dtype=bool)
            exp[:sid] = self.expanded[:sid]
            self.trans, self.distance, self.expanded = trans, dist, exp
        self.objects.append(obj)
        self.ids[obj] = sid
        # A lower bound on the labels still needed: 0 when final, else at least one.
        self.distance[sid] = 0 if self.constraint.is_final(obj) else 1
        return sid

    def ensure(self, states: np.ndarray) -> None:
        """Fill the transition rows of ``states`` (ids) not explored yet."""
        if not self.lazy or self.expanded[states].all():
            return
        for sid in np.unique(states[~self.expanded[states]]).tolist():
            obj = self.objects[sid]
            allowed = self.constraint.allowed(obj)
            if isinstance(allowed, np.ndarray) and allowed.dtype == bool:
                if allowed.shape != (self.num_tokens,):
                    raise DecodingError(
                        f"constraint allowed() mask has shape {allowed.shape}; expected ({self.num_tokens},)"
                    )
                candidates = np.flatnonzero(allowed).tolist()
            else:
                candidates = [int(t) for t in allowed]  # type: ignore[attr-defined]
            row = np.full(self.num_tokens, -1, dtype=np.int64)
            for tok in candidates:
                if tok == BLANK or not 0 < tok < self.num_tokens:
                    continue
                nxt = self.constraint.advance(obj, tok)
                if nxt is not None:
                    row[tok] = self._intern(nxt)
            self.trans[sid] = row
            self.expanded[sid] = True
