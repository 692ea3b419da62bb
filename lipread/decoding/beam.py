"""CTC decoding of one clip's (or a batch's) log-probabilities, in NumPy.

Every decoder takes log-probabilities (log-softmax already applied) of shape ``(T, V)`` for one clip or
``(B, T, V)`` for a batch, any floating dtype (``float32`` in practice; computed internally in
``float64``). Class id ``0`` is the CTC blank.

* :func:`greedy_decode` / :func:`greedy_decode_batch`: best path (arg-max per frame), then collapse
  repeats and drop blanks.
* :func:`beam_search` / :func:`beam_search_batch`: CTC prefix beam search (Graves 2012; Hannun et al.
  2014). Every prefix keeps ``log p_blank`` and ``log p_nonblank``; identical prefixes are merged, so a
  hypothesis' score is the log of the summed probability of all its alignments that survived pruning.
  With ``beam_width`` at least the number of possible prefixes the search is exact. The per-frame
  extension is vectorised over the whole beam (``(beam, V)`` arrays); prefixes are integer ids in a trie
  (an array of child ids), so merging is an array lookup; label sequences are rebuilt at the end from
  per-frame back-pointers. :func:`beam_search_batch` advances all clips of a batch together (one set of
  NumPy calls per frame for the whole batch) and returns exactly what :func:`beam_search` returns per clip.
  With ``like_tensorflow=True`` both drop the prefixes ``tf.nn.ctc_beam_search_decoder`` drops, to
  reproduce its results. Where numba is installed (``lipread[fast]``), a search without constraint,
  ``prune`` or ``like_tensorflow`` runs the same algorithm compiled (:mod:`lipread.decoding.beam_numba`): 2-3x faster
  at width 100 and about 10x at width 10, with the same results (exact ties at the beam's cut-off aside);
  ``LIPREAD_NUMBA=0`` in the environment keeps it in NumPy.
* Constraints (:class:`Constraint`) restrict the beam search to a language: :class:`LexiconConstraint`
  (one or more words from a list, separated by single spaces) and :class:`GrammarConstraint` (one word
  from each of a sequence of slots, e.g. the GRID grammar), both :class:`TokenAutomaton` instances.
"""

from __future__ import annotations

import operator
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from lipread.errors import DecodingError

if TYPE_CHECKING:
    from lipread.vocab import Vocabulary

__all__ = [
    "BLANK",
    "Constraint",
    "GrammarConstraint",
    "Hypothesis",
    "LexiconConstraint",
    "TokenAutomaton",
    "beam_search",
    "beam_search_batch",
    "greedy_decode",
    "greedy_decode_batch",
]

BLANK = 0
"""The CTC blank's class id."""

_NEG_INF = -np.inf
_UNREACHABLE = np.iinfo(np.int64).max // 4
"""Distance-to-final of a constraint state from which no final state can be reached."""


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


# --------------------------------------------------------------------------------------------------
# Constraints
# --------------------------------------------------------------------------------------------------


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
    """Texts ``w0 + " " + w1 + ... + " " + w{n-1}`` with each ``wi`` taken from ``slots[i]``.

    A word-slot automaton: one character trie per slot; a word end of slot ``i`` moves to slot ``i+1``'s
    trie on a space and is final for the last slot. E.g. the GRID grammar is six slots
    (command colour preposition letter digit adverb), see :data:`lipread.data.grid.GRAMMAR`.

    Args:
        slots: one or more word lists (each non-empty; words non-empty, no whitespace).
        vocabulary: maps characters to ids; must have a ``" "`` token when there are two or more slots.

    Raises:
        DecodingError: no slots, an empty slot, a bad word, or no space in the vocabulary.
    """

    def __init__(self, slots: Sequence[Sequence[str]], vocabulary: Vocabulary) -> None:
        slots = [list(slot) for slot in slots]
        if not slots:
            raise DecodingError("a grammar constraint needs at least one word slot")
        b = _AutomatonBuilder(vocabulary)
        start = b.new_state()
        root = start
        for i, slot in enumerate(slots):
            ends = b.add_words(root, slot, f"grammar slot {i}")
            if i == len(slots) - 1:
                for e in ends:
                    b.final[e] = True
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


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Greedy
# --------------------------------------------------------------------------------------------------


def _greedy(lp: np.ndarray, vocabulary: Vocabulary | None) -> Hypothesis:
    if lp.shape[0] == 0:
        return _make([], [], 0.0, vocabulary)
    best = lp.argmax(axis=1)
    score = float(lp[np.arange(lp.shape[0]), best].sum())
    start = best != BLANK
    start[1:] &= best[1:] != best[:-1]
    steps = np.flatnonzero(start)
    return _make(best[steps].tolist(), steps.tolist(), score, vocabulary)


def greedy_decode(logprobs: np.ndarray, vocabulary: Vocabulary | None = None, length: int | None = None) -> Hypothesis:
    """Best-path CTC decoding of one clip.

    Args:
        logprobs: ``float (T, V)`` log-probabilities (log-softmax applied), blank = id 0.
        vocabulary: optional; when given, ``V`` must equal ``len(vocabulary.tokens)`` and the result has text.
        length: use only the first ``length`` frames (``0 <= length <= T``); default all.

    Returns:
        The arg-max path collapsed (repeats merged, blanks dropped); ``score`` is that path's
        log-probability, ``timesteps`` the first frame of each token's run. Ties pick the lower id.

    Raises:
        DecodingError: not 2-D, NaN/+inf or an all ``-inf`` frame, ``V`` mismatch, bad ``length``.
    """
    return _greedy(_prepare(logprobs, vocabulary, length), vocabulary)


def greedy_decode_batch(
    logprobs: np.ndarray, lengths: Sequence[int] | np.ndarray | None = None, vocabulary: Vocabulary | None = None
) -> list[Hypothesis]:
    """:func:`greedy_decode` for each clip of ``float (B, T, V)`` log-probabilities.

    Args:
        lengths: ``int (B,)``: valid frames per clip (frames past it are ignored, not even validated);
            default ``T`` for all.

    Returns:
        ``B`` hypotheses, ``result[b] == greedy_decode(logprobs[b], vocabulary, lengths[b])``.
    """
    arr, lens = _prepare_batch(logprobs, lengths, vocabulary)
    return [_greedy(arr[b, :n], vocabulary) for b, n in enumerate(lens)]


# --------------------------------------------------------------------------------------------------
# Prefix beam search
# --------------------------------------------------------------------------------------------------


def _check_beam_args(
    beam_width: object, prune: float | None, constraint: object = None, like_tensorflow: bool = False
) -> int:
    width = _as_int(beam_width, f"beam_width must be a positive integer; got {beam_width!r}")
    if width < 1:
        raise DecodingError(f"beam_width must be a positive integer; got {width}")
    if prune is not None and not (prune <= 0.0):  # also rejects NaN
        raise DecodingError(f"prune is a log-probability threshold and must be <= 0; got {prune!r}")
    if like_tensorflow and (constraint is not None or prune is not None):
        raise DecodingError(
            "like_tensorflow reproduces tf.nn.ctc_beam_search_decoder, which has no constraint or prune; "
            "use one or the other"
        )
    return width


_TRIE_BYTES = 8 << 20
"""Memory the prefix trie is given up front (more is allocated only when needed); also bounds how many
clips :func:`beam_search_batch` decodes in lockstep."""


def _trie_capacity(fixed: int, most_new: int, stride: int) -> int:
    """Initial node capacity: room for every node that can be created (``fixed + most_new``) if that fits
    in :data:`_TRIE_BYTES`, else what fits (at least ``fixed`` plus some)."""
    fits = _TRIE_BYTES // (stride * np.dtype(np.intp).itemsize)
    return fixed + min(most_new, max(fits - fixed, 1024))


class _Trie:
    """Flat storage of the beam search's prefix trie: ``capacity`` nodes of ``stride`` int slots each.

    Every slot is ``-1`` until set (see :func:`_beam`); ``keys[i]`` is node ``i``'s offset.
    """

    def __init__(self, stride: int, capacity: int) -> None:
        self.stride = stride
        self.capacity = 0
        self.flat = np.empty(0, dtype=np.intp)
        self.keys = np.empty(0, dtype=np.intp)
        self.grow(capacity)

    def grow(self, needed: int) -> None:
        """Make room for at least ``needed`` nodes (keeping the existing ones)."""
        capacity = max(needed, 2 * self.capacity)
        flat = np.full(capacity * self.stride, -1, dtype=np.intp)
        self.keys = np.arange(capacity, dtype=np.intp) * self.stride
        flat[: self.flat.shape[0]] = self.flat
        self.flat = flat
        self.capacity = capacity


_TRIE_POOL: dict[int, list[_Trie]] = {}
"""Clean tries kept between calls, by stride: a fresh multi-megabyte array costs page faults on every call."""


def _take_trie(stride: int, capacity: int) -> _Trie:
    """A trie with every slot ``-1`` and room for ``capacity`` nodes: a pooled one if there is one, else a new one."""
    pool = _TRIE_POOL.get(stride)
    if pool:
        try:
            trie = pool.pop()
        except IndexError:  # pragma: no cover - emptied by another thread meanwhile
            pass
        else:
            if trie.capacity < capacity:  # pooled by a smaller search
                trie.grow(capacity)
            return trie
    return _Trie(stride, capacity)


def _give_back_trie(trie: _Trie, links: list[np.ndarray], keys: np.ndarray) -> None:
    """Reset the slots a search wrote (child links and the beam positions of ``keys``) and pool ``trie``.

    Every other slot is still ``-1``: positions of prefixes that left the beam were reset on the way.
    """
    if links:
        trie.flat[np.concatenate(links)] = -1
    trie.flat[keys] = -1
    pool = _TRIE_POOL.setdefault(trie.stride, [])
    if len(pool) < 2 and trie.flat.nbytes <= 2 * _TRIE_BYTES:
        pool.append(trie)


def _hypotheses(labels: np.ndarray, scores: list[float], vocabulary: Vocabulary | None) -> list[Hypothesis]:
    """Hypotheses from ``labels`` ``int (n, T)`` (the label emitted at each frame, 0: none) and ``n`` scores."""
    n = labels.shape[0]
    rows, cols = np.nonzero(labels)
    tokens = labels[rows, cols]
    bounds = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n)))).tolist()
    toks = tuple(tokens.tolist())  # (slices of a tuple are tuples)
    steps = tuple(cols.tolist())
    if vocabulary is None:
        return [Hypothesis(toks[a:b], steps[a:b], score, "", ()) for a, b, score in zip(bounds, bounds[1:], scores)]
    texts = _fast_texts(vocabulary, tokens, rows, n)
    if texts is None:
        texts = [vocabulary.decode(list(toks[a:b])) for a, b in pairwise(bounds)]
    return [
        Hypothesis(toks[a:b], steps[a:b], score, text, tuple(text.split()))
        for a, b, score, text in zip(bounds, bounds[1:], scores, texts)
    ]


def _fast_texts(vocabulary: Vocabulary, tokens: np.ndarray, rows: np.ndarray, n: int) -> list[str] | None:
    """``vocabulary.decode`` of each of ``n`` token runs (``tokens`` grouped by ``rows``) in a few NumPy
    calls, for a :class:`lipread.vocab.Vocabulary` whose ``decode`` is the stock one (one character or
    nothing per id); None for any other vocabulary."""
    try:
        from lipread.vocab import Vocabulary as StockVocabulary
    except ImportError:  # pragma: no cover
        return None
    if getattr(type(vocabulary), "decode", None) is not StockVocabulary.decode:
        return None
    table = vocabulary.tokens
    if any(len(tok) > 1 for tok in table):
        return None
    codes = np.array([ord(tok) if tok else 0 for tok in table], dtype="<u4")[tokens]
    kept = codes != 0  # tokens that decode to nothing (the OOV slot)
    if not kept.all():
        codes = codes[kept]
        rows = rows[kept]
    text = codes.tobytes().decode("utf-32-le")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n)))).tolist()
    return [text[a:b] for a, b in pairwise(bounds)]


def _advance_keys(
    trie: _Trie, keys: np.ndarray, sel: np.ndarray, nc: int, next_node: int, links: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Trie keys of the next beam, creating nodes for extensions seen for the first time.

    ``sel`` indexes the flattened ``(beam, nc)`` candidate scores; a candidate either stays on its prefix
    (label 0) or extends it by one label. Returns ``(src, lab, is_stay, src_keys, new_keys, next_node)``:
    the source beam row and label of each candidate, whether it stays, its source prefix key, its new key,
    and the next free trie node. New parent links are appended to ``links`` (given back after the search).
    """
    src = sel // nc
    lab = sel - src * nc
    is_stay = lab == 0
    child = trie.flat
    src_keys = keys[src]
    new_keys = np.where(is_stay, src_keys, child[src_keys + lab])
    fresh = (new_keys < 0).nonzero()[0]
    if fresh.shape[0]:
        end = next_node + fresh.shape[0]
        if end > trie.capacity:
            trie.grow(end)
            child = trie.flat
        made = trie.keys[next_node:end]
        link = src_keys[fresh] + lab[fresh]
        child[link] = made
        links.append(link)
        new_keys[fresh] = made
        next_node = end
    return src, lab, is_stay, src_keys, new_keys, next_node


def _drop_like_tensorflow(ext: np.ndarray, ptot: np.ndarray, ppos: np.ndarray, last: np.ndarray, width: int) -> None:
    """Set to ``-inf`` (in place) the rows of one clip's candidates that TensorFlow's beam search drops.

    ``tf.nn.ctc_beam_search_decoder`` builds the next beam in one pass over the previous one, most probable
    prefix first, pushing each prefix's updated score and then its extensions into a bounded heap, where a
    new candidate pushes the worst one out. When a prefix ``p`` reaches its extension by label ``l`` and
    that extension ``c`` was on the previous beam but has been pushed out meanwhile, TensorFlow deactivates
    ``c`` together with its previous-frame probability (``c.oldp.Reset()``), so ``c``'s own extensions,
    tried later in the pass, are never tried. Here ``c`` is pushed out by then exactly when at least
    ``width`` of the candidates seen so far beat ``c``'s updated score: every updated prefix, the
    extensions of the prefixes before ``p`` in the pass and ``p``'s extensions by labels below ``l``.
    Prefixes are taken in pass order, so a dropped prefix's extensions no longer count for later ones.

    Args:
        ext: ``(K, V)`` candidate scores: column 0 each prefix's updated score, column ``l`` its extension
            by ``l`` (``-inf`` where that extension is a prefix on the beam, whose score column 0 holds).
        ptot: ``(K,)`` the prefixes' previous-frame scores (the pass goes in descending order).
        ppos: ``(K,)`` each prefix's parent's row, ``-1`` when the parent is not on the beam.
        last: ``(K,)`` each prefix's last label.
        width: the beam width.
    """
    k = ptot.shape[0]
    rows = np.arange(k)
    parent = np.maximum(ppos, 0)
    earlier = (ppos >= 0) & ((ptot[parent] > ptot) | ((ptot[parent] == ptot) & (parent < rows)))
    n = ext.size
    if n <= width or not earlier.any():
        return
    stays = ext[:, 0].copy()
    tau = np.partition(ext.ravel(), n - width)[n - width]
    victims = (earlier & (stays < tau)).nonzero()[0]  # at or above tau, fewer than `width` candidates beat it
    if not victims.shape[0]:
        return
    order = np.argsort(-ptot, kind="stable")
    rank = np.empty(k, dtype=np.intp)
    rank[order] = rows
    ranked = ext[order, 1:]  # extensions in pass order
    victims = victims[np.lexsort((last[victims], rank[parent[victims]]))]
    stays_sorted = np.sort(stays)
    dropped = np.zeros(k, dtype=bool)
    for c in victims.tolist():
        p = int(ppos[c])
        if dropped[p]:  # p's extensions are never tried, so c is never deactivated
            continue
        s = stays[c]
        beaten = k - int(np.searchsorted(stays_sorted, s, side="right"))
        beaten += int(np.count_nonzero(ranked[: rank[p]] > s))
        beaten += int(np.count_nonzero(ext[p, 1 : last[c]] > s))
        if beaten >= width:
            dropped[c] = True
            ext[c] = _NEG_INF
            ranked[rank[c]] = _NEG_INF


_Kernel = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]
_KERNEL: list[_Kernel | None] = []
"""The compiled beam search once looked up (empty: not yet)."""


def _compiled_beam() -> _Kernel | None:
    """:func:`lipread.decoding.beam_numba.beam_kernel` where numba is installed and ``LIPREAD_NUMBA`` is not ``0``,
    else None (looked up once per process)."""
    if not _KERNEL:
        kernel: _Kernel | None = None
        if os.environ.get("LIPREAD_NUMBA", "1").strip() != "0":
            try:
                from lipread.decoding.beam_numba import beam_kernel as kernel
            except ImportError:  # numba is not installed
                kernel = None
            except Exception as exc:  # installed but unusable, e.g. no writable folder for its cache
                warnings.warn(
                    f"the compiled beam search could not be loaded ({exc}); decoding in NumPy", RuntimeWarning, 2
                )
                kernel = None
        _KERNEL.append(kernel)
    return _KERNEL[0]


def _kernel_for(constraint: Constraint | None, prune: float | None, like_tensorflow: bool) -> _Kernel | None:
    """The compiled beam search if it can run this search (no constraint, ``prune`` or ``like_tensorflow``)."""
    if constraint is not None or prune is not None or like_tensorflow:
        return None
    return _compiled_beam()


def _beam_compiled(kernel: _Kernel, lp: np.ndarray, width: int, vocabulary: Vocabulary | None) -> list[Hypothesis]:
    """:func:`_beam` (plain search) by the compiled ``kernel``: the same hypotheses with the same scores (where
    no candidates tie at the beam's cut-off)."""
    labels, scores = kernel(np.ascontiguousarray(lp, dtype=np.float64), width)
    return _hypotheses(labels, scores.tolist(), vocabulary)


def _beam(
    lp: np.ndarray,
    width: int,
    vocabulary: Vocabulary | None,
    cc: _CompiledConstraint | None,
    prune: float | None,
    like_tensorflow: bool = False,
) -> list[Hypothesis]:
    """Prefix beam search over ``lp`` float64 ``(T, V)`` (validated, ``V >= 1``); ``like_tensorflow``: drop
    what TensorFlow's search drops (:func:`_drop_like_tensorflow`).

    Prefixes are nodes of a trie stored in one flat int array ``child`` with ``V`` slots per node; a node
    is named by its *key*, the offset of its first slot. ``child[key]`` is the prefix's position on the
    current beam (``-1``: not on it) and ``child[key + c]`` (``c >= 1``) the key of the prefix extended
    by label ``c`` (``-1``: not created yet). Node 0 is a sentinel "no prefix" (the empty prefix's
    parent), node 1 the empty prefix. Merging identical prefixes is thus an array lookup. Label sequences
    and timesteps are rebuilt at the end from per-frame back-pointers.
    """
    num_frames, num_classes = lp.shape
    nc = num_classes
    neg = _NEG_INF
    trie = _take_trie(nc, _trie_capacity(2, num_frames * width, nc))
    child = trie.flat
    links: list[np.ndarray] = []  # trie slots written with a child's key (reset at the end)
    next_node = 2
    # The beam, K prefixes: log p(prefix, alignment ends in blank), log p(..., ends in a label), their
    # logaddexp, key, parent's key, last label (0 for the empty prefix), constraint state.
    pb = np.zeros(1)
    pnb = np.full(1, neg)
    ptot = np.zeros(1)
    keys = np.full(1, nc, dtype=np.intp)
    parents = np.zeros(1, dtype=np.intp)
    child[nc] = 0
    last = np.zeros(1, dtype=np.intp)
    state = np.full(1, cc.start if cc is not None else 0, dtype=np.intp)
    back: list[np.ndarray] = []  # per frame: index into the previous beam
    emitted: list[np.ndarray] = []  # per frame: label appended at this frame (0: none)
    # Labels too unlikely to extend prefixes at each frame (``prune``): ``bool (T, V)``, and which frames have any.
    pruned_cols = np.asarray(lp < (prune if prune is not None else _NEG_INF))
    pruned_cols[:, BLANK] = False
    any_pruned = np.asarray(pruned_cols.any(axis=1))
    do_prune = prune is not None
    blank_lp = lp[:, BLANK].tolist()
    aranges = np.arange(width + 1)
    row_offsets = aranges * nc
    # Candidate matrix: row k < K holds prefix k's candidates, row K is an all -inf dummy that lookups
    # of prefixes not on the beam (index -1) land in.
    buf = np.empty((width + 1, nc))
    # Columns whose values form the subset used to bound the top-k threshold: the stays (column 0, see
    # below) and the extensions by the (up to) two most likely labels of each frame. ``int (T, <=3)``.
    n_top = min(2, nc - 1)
    if n_top > 0 and num_frames > 0:
        top = np.argpartition(lp[:, 1:], nc - 1 - n_top, axis=1)[:, nc - 1 - n_top :] + 1
        sub_cols = np.concatenate((np.zeros((num_frames, 1), dtype=np.intp), top), axis=1)
    else:
        sub_cols = np.zeros((num_frames, 1), dtype=np.intp)

    prev_k = -1
    for t in range(num_frames):
        row = lp[t]
        k_beam = pb.shape[0]
        row_last = row[last]
        # ext[k, c]: extend prefix k by label c, from both endings, except that repeating the last label
        # needs a blank in between. Column 0 receives the "stay" candidates below.
        ext = buf[: k_beam + 1]
        np.add(ptot[:, None], row, out=ext[:k_beam])
        if k_beam != prev_k:
            ext[k_beam] = neg  # (it stays -inf while K does not change)
            prev_k = k_beam
        flat = ext.ravel()
        flat[row_offsets[:k_beam] + last] = pb + row_last
        # Staying on the same prefix: by a blank, or by repeating the last label (root has pnb = -inf).
        stay_b = ptot + blank_lp[t]
        stay_nb = pnb + row_last
        if cc is not None:
            cc.ensure(state)
            nxt = cc.trans[state]  # (K, V), column 0 is -1
            # Not allowed, or no final state reachable in the frames left.
            bad = nxt < 0
            bad |= cc.distance[nxt] > num_frames - 1 - t
            np.putmask(ext[:k_beam], bad, neg)
        if do_prune and any_pruned[t]:
            ext[:k_beam, pruned_cols[t]] = neg
        # Merge the extension that yields a prefix already on the beam into that prefix (its stay); a
        # prefix whose parent is not on the beam looks up the dummy row (-inf).
        merge = row_offsets[: k_beam + 1][child[parents]] + last
        stay_nb = np.logaddexp(stay_nb, flat[merge])
        flat[merge] = neg
        stay = ext[:k_beam, 0]
        np.logaddexp(stay_b, stay_nb, out=stay)
        if cc is not None:
            stay[cc.distance[state] > num_frames - 1 - t] = neg
        if like_tensorflow and k_beam > 1:
            _drop_like_tensorflow(ext[:k_beam], ptot, child[parents], last, width)
        sel = None
        if k_beam * nc > width:
            # Top-`width` candidates. A full argpartition of K * V values is slow, so first take the
            # width-th best of a subset (stays, extensions by the frame's two best labels): at least
            # `width` candidates are >= it and usually not many more, so only those are partitioned.
            sub = ext[:k_beam].take(sub_cols[t], axis=1).ravel()
            kth = sub.shape[0] - width
            if kth >= 0:
                sub.partition(kth)
                tau = sub[kth]
                if tau > neg:
                    sel = (flat >= tau).nonzero()[0]
        if sel is None:
            sel = (flat > neg).nonzero()[0]
        n_sel = sel.shape[0]
        if n_sel > width:
            kept = flat[sel].argpartition(n_sel - width)[n_sel - width :]
            kept.sort()  # (kept in ascending order, as the batched search does)
            sel = sel[kept]
        elif n_sel == 0:
            _give_back_trie(trie, links, keys)
            return []  # only possible under a constraint / pruning: nothing allowed is reachable
        src, lab, is_stay, src_keys, new_keys, next_node = _advance_keys(trie, keys, sel, nc, next_node, links)
        child = trie.flat
        child[keys] = -1
        child[new_keys] = aranges[: new_keys.shape[0]]
        keys = new_keys
        parents = np.where(is_stay, parents[src], src_keys)
        ptot = flat[sel]
        pb = np.where(is_stay, stay_b[src], neg)
        pnb = np.where(is_stay, stay_nb[src], ptot)
        last = np.where(is_stay, last[src], lab)
        if cc is not None:
            state = np.where(is_stay, state[src], nxt[src, lab])
        back.append(src)
        emitted.append(lab)

    _give_back_trie(trie, links, keys)
    total = np.logaddexp(pb, pnb)
    keep = np.flatnonzero(total > neg)
    if cc is not None:
        keep = keep[cc.distance[state[keep]] == 0]
    order = keep[np.argsort(-total[keep], kind="stable")][:width]
    # Back-track the lineages of the kept prefixes: (n, T) labels emitted per frame.
    n = order.shape[0]
    labels = np.zeros((n, num_frames), dtype=np.intp)
    idx = order
    for t in range(num_frames - 1, -1, -1):
        labels[:, t] = emitted[t][idx]
        idx = back[t][idx]
    return _hypotheses(labels, total[order].tolist(), vocabulary)


def _beam_lockstep(
    lp: np.ndarray,
    lengths: list[int],
    width: int,
    vocabulary: Vocabulary | None,
    cc: _CompiledConstraint | None,
    prune: float | None,
    like_tensorflow: bool = False,
) -> list[list[Hypothesis]]:
    """:func:`_beam` for a batch ``lp`` float64 ``(B, T, V)``, all clips advancing frame by frame together.

    Every clip has ``K`` beam entries (the most any clip has; missing ones are padding with probability
    0 and a dummy trie node), stored clip after clip in arrays of ``B * K``, so each NumPy call serves the
    whole batch; only the top-k selection is per clip (a row of the ``(B, K * V)`` candidate matrix).
    Frames past a clip's length are replaced by "blank with probability 1", which leaves its beam as is.
    The trie is shared (each clip has its own root), so prefix keys are unique across the batch. Results
    equal :func:`_beam` on each clip.
    """
    n_clips, _, nc = lp.shape
    if n_clips == 0:
        return []
    neg = _NEG_INF
    frames = max(lengths)
    # (T, B, V), frames past each clip's length set to "blank with probability 1".
    lpt = np.ascontiguousarray(lp[:, :frames].transpose(1, 0, 2))
    for b, n in enumerate(lengths):
        lpt[n:, b] = neg
        lpt[n:, b, BLANK] = 0.0
    lengths_arr = np.asarray(lengths, dtype=np.intp)
    pruned = np.asarray(lpt < (prune if prune is not None else _NEG_INF))  # (T, B, V)
    pruned[:, :, BLANK] = False
    any_pruned = np.asarray(pruned.any(axis=(1, 2)))
    do_prune = prune is not None
    n_top = min(2, nc - 1)
    if n_top > 0 and frames > 0:
        top = np.argpartition(lpt[:, :, 1:], nc - 1 - n_top, axis=2)[:, :, nc - 1 - n_top :] + 1
        sub_cols = np.concatenate((np.zeros((frames, n_clips, 1), dtype=np.intp), top), axis=2)
    else:
        sub_cols = np.zeros((frames, n_clips, 1), dtype=np.intp)
    # Trie: node 0 "no prefix", nodes 1..B the clips' empty prefixes, node B+1 the padding's dummy.
    trie = _take_trie(nc, _trie_capacity(n_clips + 2, frames * width * n_clips, nc))
    child = trie.flat
    links: list[np.ndarray] = []
    next_node = n_clips + 2
    dummy_key = (n_clips + 1) * nc
    clips = np.arange(n_clips)
    k_beam = 1
    keys = (clips + 1) * nc
    child[keys] = clips
    parents = np.zeros(n_clips, dtype=np.intp)
    pb = np.zeros(n_clips)
    pnb = np.full(n_clips, neg)
    ptot = np.zeros(n_clips)
    last = np.zeros(n_clips, dtype=np.intp)
    start = cc.start if cc is not None else 0
    state = np.full(n_clips, start, dtype=np.intp)
    back: list[np.ndarray] = []
    emitted: list[np.ndarray] = []
    aranges = np.arange(n_clips * width + 1)
    row_offsets = aranges * nc
    buf = np.empty((n_clips * width + 1, nc))
    min_tau = np.full(n_clips, -np.finfo(np.float64).max)
    per_k: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    prev_e = -1

    for t in range(frames):
        row = lpt[t]  # (B, V)
        n_ent = n_clips * k_beam
        if k_beam not in per_k:
            clip_of = np.repeat(clips, k_beam)
            per_k[k_beam] = (clip_of * nc, clip_of)
        clip_offsets, clip_of = per_k[k_beam]
        row_last = row.ravel()[clip_offsets + last]
        ext = buf[: n_ent + 1]
        ext3 = ext[:n_ent].reshape(n_clips, k_beam, nc)
        np.add(ptot.reshape(n_clips, k_beam, 1), row[:, None, :], out=ext3)
        if n_ent != prev_e:
            ext[n_ent] = neg
            prev_e = n_ent
        flat = ext.ravel()
        flat[row_offsets[:n_ent] + last] = pb + row_last
        stay_b = (ptot.reshape(n_clips, k_beam) + row[:, :1]).ravel()
        stay_nb = pnb + row_last
        if cc is not None:
            left = np.maximum(lengths_arr - 1 - t, 0)[clip_of]
            cc.ensure(state)
            nxt = cc.trans[state]
            bad = nxt < 0
            bad |= cc.distance[nxt] > left[:, None]
            np.putmask(ext[:n_ent], bad, neg)
        if do_prune and any_pruned[t]:
            np.copyto(ext3, neg, where=pruned[t][:, None, :])
        merge = row_offsets[: n_ent + 1][child[parents]] + last
        stay_nb = np.logaddexp(stay_nb, flat[merge])
        flat[merge] = neg
        stay = ext[:n_ent, 0]
        np.logaddexp(stay_b, stay_nb, out=stay)
        if cc is not None:
            stay[cc.distance[state] > left] = neg
        if like_tensorflow and k_beam > 1:
            ppos = child[parents]
            for b in np.unique(ppos[ppos >= 0] // k_beam).tolist():
                lo, hi = b * k_beam, (b + 1) * k_beam
                local = np.where(ppos[lo:hi] >= 0, ppos[lo:hi] - lo, -1)
                _drop_like_tensorflow(ext[lo:hi], ptot[lo:hi], local, last[lo:hi], width)
        # Per clip: the top `width` of its K * V candidates (see _beam for the threshold).
        cand = ext[:n_ent].reshape(n_clips, k_beam * nc)
        tau = min_tau
        if k_beam * nc > width:
            sub = flat[(row_offsets[:n_ent].reshape(n_clips, k_beam, 1) + sub_cols[t][:, None, :]).reshape(n_clips, -1)]
            kth = sub.shape[1] - width
            if kth >= 0:
                sub.partition(kth, axis=1)
                tau = np.maximum(sub[:, kth], min_tau)
        per_clip = k_beam * nc
        gsel = (cand >= tau[:, None]).ravel().nonzero()[0]  # index into flat (clip-major)
        rows = gsel // per_clip
        counts = np.bincount(rows, minlength=n_clips)
        over = (counts > width).nonzero()[0]
        if over.shape[0]:
            starts = np.cumsum(counts) - counts
            keep = np.ones(rows.shape[0], dtype=bool)
            for b in over.tolist():
                lo, n_b = int(starts[b]), int(counts[b])
                drop = flat[gsel[lo : lo + n_b]].argpartition(n_b - width)[: n_b - width]
                keep[lo + drop] = False
            gsel = gsel[keep]
            rows = rows[keep]
            counts[over] = width
        new_k = int(counts.max())
        if new_k == 0:
            _give_back_trie(trie, links, keys)
            return [[] for _ in range(n_clips)]  # every clip's beam is empty (constraint / pruning)
        src, lab, is_stay, src_keys, new_keys, next_node = _advance_keys(trie, keys, gsel, nc, next_node, links)
        child = trie.flat
        new_parents = np.where(is_stay, parents[src], src_keys)
        new_ptot = flat[gsel]
        new_pb = np.where(is_stay, stay_b[src], neg)
        new_pnb = np.where(is_stay, stay_nb[src], new_ptot)
        new_last = np.where(is_stay, last[src], lab)
        new_state = np.where(is_stay, state[src], nxt[src, lab]) if cc is not None else state
        child[keys] = -1
        if bool((counts == new_k).all()):
            keys, parents, ptot, pb, pnb, last = new_keys, new_parents, new_ptot, new_pb, new_pnb, new_last
            if cc is not None:
                state = new_state
        else:
            # Uneven beams: entry j of clip b goes to b * new_k + j; the rest is padding.
            size = n_clips * new_k
            dest = rows * new_k + (np.arange(rows.shape[0]) - (np.cumsum(counts) - counts)[rows])
            keys = np.full(size, dummy_key, dtype=np.intp)
            keys[dest] = new_keys
            parents = np.zeros(size, dtype=np.intp)
            parents[dest] = new_parents
            ptot = np.full(size, neg)
            ptot[dest] = new_ptot
            pb = np.full(size, neg)
            pb[dest] = new_pb
            pnb = np.full(size, neg)
            pnb[dest] = new_pnb
            last = np.zeros(size, dtype=np.intp)
            last[dest] = new_last
            if cc is not None:
                state = np.full(size, start, dtype=np.intp)
                state[dest] = new_state
            padded_src = np.zeros(size, dtype=np.intp)
            padded_src[dest] = src
            padded_lab = np.zeros(size, dtype=np.intp)
            padded_lab[dest] = lab
            src, lab = padded_src, padded_lab
        k_beam = new_k
        child[keys] = aranges[: keys.shape[0]]
        back.append(src)
        emitted.append(lab)

    _give_back_trie(trie, links, keys)
    total = np.logaddexp(pb, pnb)
    ok = total > neg
    if cc is not None:
        ok &= cc.distance[state] == 0
    idx = ok.nonzero()[0]
    clip_of_idx = idx // k_beam
    order = idx[np.lexsort((-total[idx], clip_of_idx))]
    n = order.shape[0]
    labels = np.zeros((n, frames), dtype=np.intp)
    pos_t = order
    for t in range(frames - 1, -1, -1):
        labels[:, t] = emitted[t][pos_t]
        pos_t = back[t][pos_t]
    out: list[list[Hypothesis]] = [[] for _ in range(n_clips)]
    for owner, hyp in zip((order // k_beam).tolist(), _hypotheses(labels, total[order].tolist(), vocabulary)):
        out[owner].append(hyp)
    return out


def beam_search(
    logprobs: np.ndarray,
    beam_width: int = 16,
    vocabulary: Vocabulary | None = None,
    length: int | None = None,
    constraint: Constraint | None = None,
    prune: float | None = None,
    like_tensorflow: bool = False,
) -> list[Hypothesis]:
    """CTC prefix beam search over one clip.

    Without ``constraint``, ``prune`` or ``like_tensorflow``, it runs compiled where numba is installed
    (``pip install "lipread[fast]"``, see :mod:`lipread.decoding.beam_numba`), with the same results.

    Args:
        logprobs: ``float (T, V)`` log-probabilities (log-softmax applied), blank = id 0.
        beam_width: prefixes kept after each frame (>= 1). With ``beam_width`` at least the number of
            distinct label sequences of length ``<= T`` the search is exact.
        vocabulary: optional; when given, ``V`` must equal ``len(vocabulary.tokens)`` and results have text.
        length: use only the first ``length`` frames (``0 <= length <= T``); default all.
        constraint: optional :class:`Constraint`; prefixes leave the language never, prefixes that cannot
            reach a final state within the frames left are dropped, and only hypotheses in a final state
            are returned.
        prune: optional log-probability threshold (<= 0): at each frame, labels whose log-probability is
            below it do not extend prefixes (blank and repeats still keep prefixes alive).
        like_tensorflow: search exactly as ``tf.nn.ctc_beam_search_decoder`` (and so Keras's
            ``ctc_decode(..., greedy=False)``) does, to reproduce results decoded there. TensorFlow's
            search never extends a prefix of the previous beam that a better candidate pushed out of the
            new beam before the prefix's parent was extended (its ``c.oldp.Reset()``); the plain search
            (the default) extends every prefix of the previous beam. The two return the same best
            hypothesis on most inputs and differ mostly where many prefixes have close probabilities;
            neither is more accurate in general. Costs about 1-3 ms more per clip at width 100. Not with
            ``constraint`` or ``prune``.

    Returns:
        At most ``beam_width`` hypotheses, best (highest ``score``) first, all distinct label sequences.
        Without a constraint the list is never empty (``T = 0`` gives the empty hypothesis, score 0).
        With a constraint it is empty when no allowed text survived the beam (e.g. the clip is too short
        for any allowed text); non-final hypotheses are never returned.

    Raises:
        DecodingError: not 2-D, NaN/+inf or an all ``-inf`` frame, ``V`` mismatch, bad ``length``,
            ``beam_width`` or ``prune``, a constraint over a different ``V``, or ``like_tensorflow`` with a
            constraint or ``prune``.
    """
    width = _check_beam_args(beam_width, prune, constraint, like_tensorflow)
    lp = _prepare(logprobs, vocabulary, length)
    kernel = _kernel_for(constraint, prune, like_tensorflow)
    if kernel is not None:
        return _beam_compiled(kernel, lp, width, vocabulary)
    cc = _CompiledConstraint(constraint, lp.shape[1]) if constraint is not None else None
    return _beam(lp, width, vocabulary, cc, prune, like_tensorflow)


def beam_search_batch(
    logprobs: np.ndarray,
    lengths: Sequence[int] | np.ndarray | None = None,
    beam_width: int = 16,
    vocabulary: Vocabulary | None = None,
    constraint: Constraint | None = None,
    prune: float | None = None,
    like_tensorflow: bool = False,
) -> list[list[Hypothesis]]:
    """:func:`beam_search` for each clip of ``float (B, T, V)`` log-probabilities.

    Args:
        lengths: ``int (B,)``: valid frames per clip (frames past it are ignored, not even validated);
            default ``T`` for all.

    Returns:
        ``B`` lists, ``result[b] == beam_search(logprobs[b], beam_width, vocabulary, lengths[b], constraint,
        prune, like_tensorflow)``.
        The clips are decoded in lockstep (groups of clips advance frame by frame together), which is
        several times faster per clip than calling :func:`beam_search` in a loop for small beams.
    """
    width = _check_beam_args(beam_width, prune, constraint, like_tensorflow)
    arr, lens = _prepare_batch(logprobs, lengths, vocabulary)
    kernel = _kernel_for(constraint, prune, like_tensorflow)
    if kernel is not None:
        return [_beam_compiled(kernel, arr[b, :n], width, vocabulary) for b, n in enumerate(lens)]
    cc = _CompiledConstraint(constraint, arr.shape[2]) if constraint is not None else None
    if len(lens) <= 1:
        return [_beam(arr[b, :n], width, vocabulary, cc, prune, like_tensorflow) for b, n in enumerate(lens)]
    # Decode in lockstep groups small enough that each group's trie fits in _TRIE_BYTES.
    per_clip = (max(lens, default=0) * width + 1) * arr.shape[2] * np.dtype(np.intp).itemsize
    group = max(2, _TRIE_BYTES // max(per_clip, 1))
    out: list[list[Hypothesis]] = []
    for lo in range(0, len(lens), group):
        out += _beam_lockstep(
            arr[lo : lo + group], lens[lo : lo + group], width, vocabulary, cc, prune, like_tensorflow
        )
    return out
