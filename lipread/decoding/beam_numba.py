"""The plain CTC prefix beam search compiled with numba (the optional ``lipread[fast]`` extra).

:func:`lipread.decoding.beam.beam_search` and :func:`lipread.decoding.beam_batch.beam_search_batch` use
:func:`beam_kernel` when numba is installed, for a search without ``constraint``, ``prune`` or ``like_tensorflow``
(set ``LIPREAD_NUMBA=0`` to keep the NumPy search). It is the same algorithm as the NumPy one
(``lipread.decoding.beam._beam``), step by step in the same order and with the same floating-point operations,
so both return the same hypotheses with the same scores (the tests compare them bit for bit). Only where
candidates tie exactly at the beam's cut-off may the two keep different ones of them: the NumPy search takes
whichever ``argpartition`` puts first, this one the first in beam order. Loading the compiled code costs about
0.4 s once per process (compiling it, the first time after installation, several seconds; numba caches it on
disk).

This module imports numba: import it only where numba is installed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_NEG_INF = -np.inf
_LOG2 = float(np.log(2.0))


@njit(cache=True, inline="always")
def _logaddexp(x: float, y: float) -> float:  # pragma: no cover - compiled
    """``log(exp(x) + exp(y))`` computed as NumPy's ``np.logaddexp`` does (same results, bit for bit)."""
    if x == y:
        return x + _LOG2
    d = x - y
    if d > 0:
        return x + np.log1p(np.exp(-d))
    if d <= 0:
        return y + np.log1p(np.exp(d))
    return d  # NaN


@njit(cache=True)
def _kth_largest(values: np.ndarray, n: int, k: int, scratch: np.ndarray) -> float:  # pragma: no cover - compiled
    """The ``k``-th largest (``1 <= k <= n``) of ``values[:n]``, by quickselect in ``scratch``."""
    a = scratch
    a[:n] = values[:n]
    lo = 0
    hi = n - 1
    target = k - 1  # position in descending order
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while a[i] > pivot:
                i += 1
            while a[j] < pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if target <= j:
            hi = j
        elif target >= i:
            lo = i
        else:
            return a[target]
    return a[lo]


@njit(cache=True)
def beam_kernel(lp: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Prefix beam search over one clip.

    Args:
        lp: ``float64 (T, V)`` log-probabilities, C-contiguous, validated (no NaN or ``+inf``); blank = 0.
        width: prefixes kept after each frame, >= 1.

    Returns:
        ``(labels, scores)``: ``int64 (n, T)`` the label each of the ``n <= width`` final prefixes emitted at
        each frame (0: none), best first (ties in beam order), and their ``float64 (n,)`` scores;
        ``n == 0`` when a frame leaves no candidate with a finite score (every log-probability ``-inf``).

    The beam: ``K`` prefixes with ``log p(prefix, alignment ends in blank)`` (``pb``), ``... ends in a
    label`` (``pnb``), their sum (``ptot``), trie node, parent's node and last label. The trie is one int
    array with ``V`` slots per node: slot 0 the node's position on the beam (-1: not on it), slot ``c`` the
    node of the prefix extended by label ``c`` (-1: not created yet). Node 0 is "no prefix" (the empty
    prefix's parent), node 1 the empty prefix. Each frame fills the ``(K, V)`` candidate matrix (column 0:
    stay on the prefix, column ``c``: extend it by ``c``), merges every extension that is already a prefix
    on the beam into that prefix's stay, keeps the ``width`` best candidates in row-major order and records
    back-pointers, from which the label sequences are rebuilt at the end.
    """
    num_frames, nc = lp.shape
    w = 1  # the most prefixes the beam can hold: min(width, V ** T), so a huge width allocates no more
    for _ in range(num_frames):
        w = min(width, w * nc)
        if w == width:
            break
    neg = _NEG_INF
    capacity = 1024
    child = np.empty(capacity * nc, np.int64)
    child[: 2 * nc] = -1
    n_nodes = 2
    key = np.empty(w, np.int64)
    parent = np.empty(w, np.int64)
    last = np.empty(w, np.int64)
    pb = np.empty(w)
    pnb = np.empty(w)
    ptot = np.empty(w)
    new_key = np.empty(w, np.int64)
    new_parent = np.empty(w, np.int64)
    new_last = np.empty(w, np.int64)
    new_pb = np.empty(w)
    new_pnb = np.empty(w)
    stay_b = np.empty(w)
    stay_nb = np.empty(w)
    cand = np.empty(w * nc)
    sel = np.empty(w * nc, np.int64)
    sel_val = np.empty(w * nc)
    scratch = np.empty(w * nc)
    sub = np.empty(3 * w)
    back = np.zeros((num_frames, w), np.int64)
    emitted = np.zeros((num_frames, w), np.int64)
    k_beam = 1
    key[0] = 1
    parent[0] = 0
    last[0] = 0
    pb[0] = 0.0
    pnb[0] = neg
    ptot[0] = 0.0
    child[nc] = 0
    for t in range(num_frames):
        row = lp[t]
        # The frame's two most likely labels: with the stays, they bound the top-`width` threshold.
        best1 = 0
        best2 = 0
        for c in range(1, nc):
            if best1 == 0 or row[c] > row[best1]:
                best2 = best1
                best1 = c
            elif best2 == 0 or row[c] > row[best2]:
                best2 = c
        for k in range(k_beam):
            o = k * nc
            for c in range(1, nc):
                cand[o + c] = ptot[k] + row[c]
            lk = last[k]
            if lk > 0:  # repeating the last label needs a blank in between
                cand[o + lk] = pb[k] + row[lk]
            stay_b[k] = ptot[k] + row[0]
            stay_nb[k] = pnb[k] + row[lk]
        for k in range(k_beam):  # merge the extension that is prefix k into k's stay
            p = child[parent[k] * nc]
            if p >= 0:
                j = p * nc + last[k]
                stay_nb[k] = _logaddexp(stay_nb[k], cand[j])
                cand[j] = neg
        for k in range(k_beam):
            cand[k * nc] = _logaddexp(stay_b[k], stay_nb[k])
        n = k_beam * nc
        tau = neg  # a lower bound of the width-th best candidate: the width-th best of a subset
        if n > w:
            ns = 0
            for k in range(k_beam):
                o = k * nc
                sub[ns] = cand[o]
                ns += 1
                if best1 > 0:
                    sub[ns] = cand[o + best1]
                    ns += 1
                if best2 > 0:
                    sub[ns] = cand[o + best2]
                    ns += 1
            if ns >= w:
                tau = _kth_largest(sub, ns, w, scratch)
        m = 0
        for i in range(n):
            x = cand[i]
            if x >= tau and x > neg:
                sel[m] = i
                sel_val[m] = x
                m += 1
        if m == 0:
            return np.zeros((0, num_frames), np.int64), np.zeros(0)
        if m > w:  # keep the width best, in row-major order (ties at the threshold: the first ones)
            v = _kth_largest(sel_val, m, w, scratch)
            ties = w
            for q in range(m):
                if sel_val[q] > v:
                    ties -= 1
            kept = 0
            for q in range(m):
                x = sel_val[q]
                if x > v or (x == v and ties > 0):
                    if x == v:
                        ties -= 1
                    sel[kept] = sel[q]
                    sel_val[kept] = x
                    kept += 1
            m = kept
        for q in range(m):
            i = sel[q]
            s = i // nc
            c = i - s * nc
            back[t, q] = s
            emitted[t, q] = c
            if c == 0:
                new_key[q] = key[s]
                new_parent[q] = parent[s]
                new_last[q] = last[s]
                new_pb[q] = stay_b[s]
                new_pnb[q] = stay_nb[s]
            else:
                slot = key[s] * nc + c
                node = child[slot]
                if node < 0:
                    if n_nodes == capacity:
                        grown = np.empty(2 * capacity * nc, np.int64)
                        grown[: capacity * nc] = child[: capacity * nc]
                        child = grown
                        capacity *= 2
                    node = n_nodes
                    n_nodes += 1
                    child[node * nc : (node + 1) * nc] = -1
                    child[slot] = node
                new_key[q] = node
                new_parent[q] = key[s]
                new_last[q] = c
                new_pb[q] = neg
                new_pnb[q] = sel_val[q]
        for k in range(k_beam):
            child[key[k] * nc] = -1
        for q in range(m):
            child[new_key[q] * nc] = q
            key[q] = new_key[q]
            parent[q] = new_parent[q]
            last[q] = new_last[q]
            pb[q] = new_pb[q]
            pnb[q] = new_pnb[q]
            ptot[q] = sel_val[q]
        k_beam = m
    total = np.empty(k_beam)
    for k in range(k_beam):
        total[k] = _logaddexp(pb[k], pnb[k])
    order = np.argsort(-total, kind="mergesort")  # (every kept candidate's score is finite)
    labels = np.zeros((k_beam, num_frames), np.int64)
    scores = np.empty(k_beam)
    for q in range(k_beam):
        k = order[q]
        scores[q] = total[k]
        for t in range(num_frames - 1, -1, -1):
            labels[q, t] = emitted[t, k]
            k = back[t, k]
    return labels, scores
