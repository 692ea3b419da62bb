"""CTC decoding of one clip's (or a batch's) log-probabilities, in pure NumPy.

Every decoder takes log-probabilities (log-softmax already applied) of shape ``(T, V)`` for one clip or
``(B, T, V)`` for a batch, any floating dtype (``float32`` in practice; computed internally in
``float64``). Class id ``0`` is the CTC blank.

* :func:`greedy_decode` / :func:`greedy_decode_batch`: best path (arg-max per frame), then collapse
  repeats and drop blanks.
* :func:`beam_search` / :func:`beam_search_batch`: CTC prefix beam search (Graves 2012; Hannun et al.
  2014). Every prefix keeps ``log p_blank`` and ``log p_nonblank``; identical prefixes are merged, so a
  hypothesis' score is the log of the summed probability of all its alignments that survived pruning.
  With ``beam_width`` at least the number of possible prefixes the search is exact. The per-frame
  extension is vectorised over the whole beam (``(beam, V)`` arrays); prefixes are identified by a 64-bit
  rolling hash and reconstructed at the end from per-frame back-pointers.
* Constraints (:class:`Constraint`) restrict the beam search to a language: :class:`LexiconConstraint`
  (one or more words from a list, separated by single spaces) and :class:`GrammarConstraint` (one word
  from each of a sequence of slots, e.g. the GRID grammar), both :class:`TokenAutomaton` instances.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

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
# Rolling hash of a prefix (64-bit, wrapping): h(p + c) = mix(h(p), c). Two distinct prefixes compared in
# the same frame collide with probability ~2**-64, i.e. never in practice.
_ROOT_HASH = np.uint64(0x9E3779B97F4A7C15)
_HASH_MUL = np.uint64(0xBF58476D1CE4E5B9)
_HASH_SHIFT = np.uint64(31)
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

    def initial(self) -> object:
        """The state of the empty text."""
        ...

    def allowed(self, state: object) -> object:
        """The label ids that may follow ``state``: a set/iterable of ids or a boolean mask of shape ``(V,)``."""
        ...

    def advance(self, state: object, token: int) -> object | None:
        """The state after appending ``token``, or None when ``token`` is not allowed there."""
        ...

    def is_final(self, state: object) -> bool:
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
            raise DecodingError(
                f"automaton tables have shapes {trans.shape} and {fin.shape}; expected (S, V) and (S,)"
            )
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
    (command colour preposition letter digit adverb), see :data:`lipread.grid.GRAMMAR`.

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

    def __init__(self, constraint: Constraint, num_tokens: int) -> None:
        self.num_tokens = num_tokens
        if isinstance(constraint, TokenAutomaton):
            if constraint.num_tokens != num_tokens:
                raise DecodingError(
                    f"constraint is defined over {constraint.num_tokens} classes but logprobs have {num_tokens}"
                )
            self.lazy = False
            self.trans: np.ndarray = constraint.transitions
            self.distance: np.ndarray = constraint.distance
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


def _check_length(length: object, num_frames: int, name: str = "length") -> int:
    if isinstance(length, bool):
        raise DecodingError(f"{name} must be an integer; got {length!r}")
    try:
        n = operator.index(length)  # type: ignore[arg-type]
    except TypeError:
        raise DecodingError(f"{name} must be an integer; got {length!r}") from None
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


def _prepare_batch(
    logprobs: object, lengths: object, vocabulary: Vocabulary | None
) -> tuple[np.ndarray, list[int]]:
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
        if lens_arr.size and not np.issubdtype(lens_arr.dtype, np.integer):
            if not np.issubdtype(lens_arr.dtype, np.floating) or np.any(lens_arr != np.round(lens_arr)):
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


def greedy_decode(
    logprobs: np.ndarray, vocabulary: Vocabulary | None = None, length: int | None = None
) -> Hypothesis:
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


def _check_beam_args(beam_width: object, prune: float | None) -> int:
    if isinstance(beam_width, bool):
        raise DecodingError(f"beam_width must be a positive integer; got {beam_width!r}")
    try:
        width = operator.index(beam_width)  # type: ignore[arg-type]
    except TypeError:
        raise DecodingError(f"beam_width must be a positive integer; got {beam_width!r}") from None
    if width < 1:
        raise DecodingError(f"beam_width must be a positive integer; got {width}")
    if prune is not None and not (prune <= 0.0):  # also rejects NaN
        raise DecodingError(f"prune is a log-probability threshold and must be <= 0; got {prune!r}")
    return width


def _beam(
    lp: np.ndarray,
    width: int,
    vocabulary: Vocabulary | None,
    cc: _CompiledConstraint | None,
    prune: float | None,
) -> list[Hypothesis]:
    """Prefix beam search over ``lp`` float64 ``(T, V)`` (validated)."""
    num_frames, num_classes = lp.shape
    neg = _NEG_INF
    # Beam of K prefixes: log p(ends in blank), log p(ends in a label), hash, parent's hash, last label
    # (0 for the empty prefix), constraint state.
    pb = np.zeros(1)
    pnb = np.full(1, neg)
    h = np.full(1, _ROOT_HASH, dtype=np.uint64)
    ph = np.zeros(1, dtype=np.uint64)
    last = np.zeros(1, dtype=np.int64)
    state = np.full(1, cc.start if cc is not None else 0, dtype=np.int64)
    back: list[np.ndarray] = []  # per frame: index into the previous beam
    emitted: list[np.ndarray] = []  # per frame: label appended at this frame (0: none)
    if prune is not None:
        pruned_cols = lp < prune  # (T, V)
        pruned_cols[:, BLANK] = False
        any_pruned = pruned_cols.any(axis=1)
    aranges = np.arange(width * num_classes + width + 1)

    for t in range(num_frames):
        row = lp[t]
        k_beam = pb.shape[0]
        ar = aranges[:k_beam]
        ptot = np.logaddexp(pb, pnb)
        row_last = row[last]
        # Extensions by every label c: from both endings, except a repeat of the last label needs a blank.
        ext = ptot[:, None] + row
        ext[ar, last] = pb + row_last
        ext[:, BLANK] = neg
        # Staying on the same prefix: blank, or repeat of the last label (root has pnb = -inf).
        stay_b = ptot + row[BLANK]
        stay_nb = pnb + row_last
        if cc is not None:
            cc.ensure(state)
            nxt = cc.trans[state]  # (K, V)
            np.putmask(ext, nxt < 0, neg)
        if prune is not None and any_pruned[t]:
            ext[:, pruned_cols[t]] = neg
        # Merge extensions that produce a prefix already on the beam into that prefix.
        if k_beam > 1:
            order = np.argsort(h)
            hs = h[order]
            pos = np.searchsorted(hs, ph)
            np.minimum(pos, k_beam - 1, out=pos)
            hit = np.flatnonzero((hs[pos] == ph) & (last != BLANK))
            if hit.size:
                src = order[pos[hit]]
                lab = last[hit]
                stay_nb[hit] = np.logaddexp(stay_nb[hit], ext[src, lab])
                ext[src, lab] = neg
        stay = np.logaddexp(stay_b, stay_nb)
        if cc is not None:
            # Drop prefixes that cannot reach a final state in the frames left.
            left = num_frames - 1 - t
            dist = cc.distance
            stay[dist[state] > left] = neg
            np.putmask(ext, dist[nxt] > left, neg)
        flat = ext.ravel()
        cand = np.concatenate((stay, flat))
        n_cand = cand.shape[0]
        if n_cand > width:
            sel = np.argpartition(cand, n_cand - width)[n_cand - width :]
        else:
            sel = aranges[:n_cand]
        sel = sel[cand[sel] > neg]
        if sel.shape[0] == 0:
            return []  # only possible under a constraint / pruning: nothing allowed is reachable
        is_ext = sel >= k_beam
        e = sel - k_beam
        src = np.where(is_ext, e // num_classes, sel)
        lab = np.where(is_ext, e % num_classes, 0)
        h_src = h[src]
        mixed = (h_src ^ lab.astype(np.uint64)) * _HASH_MUL
        mixed ^= mixed >> _HASH_SHIFT
        pb = np.where(is_ext, neg, stay_b[src])
        pnb = np.where(is_ext, cand[sel], stay_nb[src])
        h = np.where(is_ext, mixed, h_src)
        ph = np.where(is_ext, h_src, ph[src])
        last = np.where(is_ext, lab, last[src])
        if cc is not None:
            state = np.where(is_ext, nxt[src, lab], state[src])
        back.append(src)
        emitted.append(lab)

    total = np.logaddexp(pb, pnb)
    keep = np.flatnonzero(total > neg)
    if cc is not None:
        keep = keep[cc.distance[state[keep]] == 0]
    order = keep[np.argsort(-total[keep], kind="stable")][:width]
    # Back-track the lineages of the kept prefixes: (n, T) labels emitted per frame.
    n = order.shape[0]
    labels = np.zeros((n, num_frames), dtype=np.int64)
    idx = order
    for t in range(num_frames - 1, -1, -1):
        labels[:, t] = emitted[t][idx]
        idx = back[t][idx]
    rows, cols = np.nonzero(labels)
    counts = np.bincount(rows, minlength=n).tolist()
    toks = labels[rows, cols].tolist()
    steps = cols.tolist()
    scores = total[order].tolist()
    out = []
    pos = 0
    for i in range(n):
        end = pos + counts[i]
        out.append(_make(toks[pos:end], steps[pos:end], scores[i], vocabulary))
        pos = end
    return out


def beam_search(
    logprobs: np.ndarray,
    beam_width: int = 16,
    vocabulary: Vocabulary | None = None,
    length: int | None = None,
    constraint: Constraint | None = None,
    prune: float | None = None,
) -> list[Hypothesis]:
    """CTC prefix beam search over one clip.

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

    Returns:
        At most ``beam_width`` hypotheses, best (highest ``score``) first, all distinct label sequences.
        Without a constraint the list is never empty (``T = 0`` gives the empty hypothesis, score 0).
        With a constraint it is empty when no allowed text survived the beam (e.g. the clip is too short
        for any allowed text); non-final hypotheses are never returned.

    Raises:
        DecodingError: not 2-D, NaN/+inf or an all ``-inf`` frame, ``V`` mismatch, bad ``length``,
        ``beam_width`` or ``prune``, or a constraint over a different ``V``.
    """
    width = _check_beam_args(beam_width, prune)
    lp = _prepare(logprobs, vocabulary, length)
    cc = _CompiledConstraint(constraint, lp.shape[1]) if constraint is not None else None
    return _beam(lp, width, vocabulary, cc, prune)


def beam_search_batch(
    logprobs: np.ndarray,
    lengths: Sequence[int] | np.ndarray | None = None,
    beam_width: int = 16,
    vocabulary: Vocabulary | None = None,
    constraint: Constraint | None = None,
    prune: float | None = None,
) -> list[list[Hypothesis]]:
    """:func:`beam_search` for each clip of ``float (B, T, V)`` log-probabilities.

    Args:
        lengths: ``int (B,)``: valid frames per clip (frames past it are ignored, not even validated);
            default ``T`` for all.

    Returns:
        ``B`` lists, ``result[b] == beam_search(logprobs[b], beam_width, vocabulary, lengths[b], constraint, prune)``.
    """
    width = _check_beam_args(beam_width, prune)
    arr, lens = _prepare_batch(logprobs, lengths, vocabulary)
    cc = _CompiledConstraint(constraint, arr.shape[2]) if constraint is not None else None
    return [_beam(arr[b, :n], width, vocabulary, cc, prune) for b, n in enumerate(lens)]
