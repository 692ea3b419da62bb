"""The beam search as TensorFlow does it (``like_tensorflow=True``): which prefixes
``tf.nn.ctc_beam_search_decoder`` (and so Keras's ``ctc_decode(..., greedy=False)``) drops that the plain
prefix beam search keeps, so that lipread reproduces results decoded there."""

from __future__ import annotations

import numpy as np

from .hypothesis import _NEG_INF


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
