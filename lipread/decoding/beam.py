"""CTC prefix beam search over one clip (Graves 2012; Hannun et al. 2014), in NumPy.

Every prefix keeps ``log p_blank`` and ``log p_nonblank``; identical prefixes are merged, so a hypothesis'
score is the log of the summed probability of all its alignments that survived pruning. With ``beam_width`` at
least the number of possible prefixes the search is exact. The per-frame extension is vectorised over the whole
beam (``(beam, V)`` arrays); prefixes are integer ids in a trie (:mod:`~lipread.decoding.prefix_trie`), so
merging is an array lookup; label sequences are rebuilt at the end from per-frame back-pointers. A
:class:`~lipread.decoding.constraints.Constraint` restricts the output to a language;
``like_tensorflow=True`` drops the prefixes ``tf.nn.ctc_beam_search_decoder`` drops
(:mod:`~lipread.decoding.like_tensorflow`), to reproduce its results; a batch is decoded in lockstep by
:func:`~lipread.decoding.beam_batch.beam_search_batch`.

Where numba is installed (``lipread[fast]``), a search without constraint, ``prune`` or ``like_tensorflow``
runs the same algorithm compiled (:mod:`lipread.decoding.beam_numba`): 2-3x faster at width 100 and about 10x
at width 10, with the same results (exact ties at the beam's cut-off aside); ``LIPREAD_NUMBA=0`` in the
environment keeps it in NumPy.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DecodingError
from .constraints import Constraint, _CompiledConstraint
from .hypothesis import _NEG_INF, BLANK, Hypothesis, _as_int, _prepare
from .like_tensorflow import _drop_like_tensorflow
from .prefix_trie import _advance_keys, _give_back_trie, _take_trie, _trie_capacity

if TYPE_CHECKING:
    from ..vocab import Vocabulary

__all__ = ["beam_search"]


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


def _usable_width(width: int, frames: int, num_classes: int) -> int:
    """The most prefixes a beam over ``frames`` frames of ``num_classes`` classes can hold: ``min(width, V ** T)``
    (at least 1), so that a huge ``beam_width`` allocates no more than the search can use, with the same results."""
    usable = 1
    for _ in range(frames):
        usable = min(width, usable * max(num_classes, 1))
        if usable == width:
            break
    return max(1, min(width, usable))


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
    width = _usable_width(width, num_frames, nc)
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
    # Candidate matrix: row k < K holds prefix k's candidates, row K is an all -inf dummy that lookups
    # of prefixes not on the beam (index -1) land in. Sized by what the beam holds, grown as it grows (never
    # by ``width`` alone: a huge width on a short clip allocates no more than the search uses).
    aranges = np.arange(0)
    row_offsets = aranges
    buf = np.empty((0, nc))
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
        need = min(width, k_beam * nc) + 1  # rows of this frame's candidates, positions on the next beam
        if aranges.shape[0] < need:
            aranges = np.arange(min(width + 1, max(need, 2 * aranges.shape[0])))
            row_offsets = aranges * nc
            buf = np.empty((aranges.shape[0], nc))
            prev_k = -1
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
