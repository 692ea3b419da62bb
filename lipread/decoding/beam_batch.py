"""The prefix beam search over a batch: :func:`beam_search_batch` decodes groups of clips in lockstep, all
advancing frame by frame together, so each NumPy call serves the whole group. Several times faster per clip
than :func:`~lipread.decoding.beam.beam_search` in a loop for small beams, with exactly its results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .beam import _beam, _beam_compiled, _check_beam_args, _hypotheses, _kernel_for, _usable_width
from .constraints import Constraint, _CompiledConstraint
from .hypothesis import _NEG_INF, BLANK, Hypothesis, _prepare_batch
from .like_tensorflow import _drop_like_tensorflow
from .prefix_trie import _TRIE_BYTES, _advance_keys, _give_back_trie, _take_trie, _trie_capacity

if TYPE_CHECKING:
    from ..vocab import Vocabulary

__all__ = ["beam_search_batch"]


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
    width = _usable_width(width, frames, nc)
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
    # Sized by what the beams hold, grown as they grow (see _beam).
    aranges = np.arange(0)
    row_offsets = aranges
    buf = np.empty((0, nc))
    min_tau = np.full(n_clips, -np.finfo(np.float64).max)
    per_k: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    prev_e = -1

    for t in range(frames):
        row = lpt[t]  # (B, V)
        n_ent = n_clips * k_beam
        need = n_clips * min(width, k_beam * nc) + 1
        if aranges.shape[0] < need:
            aranges = np.arange(min(n_clips * width + 1, max(need, 2 * aranges.shape[0])))
            row_offsets = aranges * nc
            buf = np.empty((aranges.shape[0], nc))
            prev_e = -1
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


def beam_search_batch(
    logprobs: np.ndarray,
    lengths: Sequence[int] | np.ndarray | None = None,
    beam_width: int = 16,
    vocabulary: Vocabulary | None = None,
    constraint: Constraint | None = None,
    prune: float | None = None,
    like_tensorflow: bool = False,
) -> list[list[Hypothesis]]:
    """:func:`~lipread.decoding.beam.beam_search` for each clip of ``float (B, T, V)`` log-probabilities.

    Args:
        lengths: ``int (B,)``: valid frames per clip (frames past it are ignored, not even validated);
            default ``T`` for all.

    Returns:
        ``B`` lists, ``result[b] == beam_search(logprobs[b], beam_width, vocabulary, lengths[b], constraint,
        prune, like_tensorflow)``.
        The clips are decoded in lockstep (groups of clips advance frame by frame together), which is
        several times faster per clip than calling :func:`~lipread.decoding.beam.beam_search` in a loop for small beams.
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
    longest = max(lens, default=0)
    per_clip = (longest * _usable_width(width, longest, arr.shape[2]) + 1) * arr.shape[2] * np.dtype(np.intp).itemsize
    group = max(2, _TRIE_BYTES // max(per_clip, 1))
    out: list[list[Hypothesis]] = []
    for lo in range(0, len(lens), group):
        out += _beam_lockstep(
            arr[lo : lo + group], lens[lo : lo + group], width, vocabulary, cc, prune, like_tensorflow
        )
    return out
