"""CTC references for tests: brute force (every alignment enumerated), and TensorFlow's beam search one
candidate at a time."""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from collections.abc import Sequence

import numpy as np


def allowed_paths_nll(lp: np.ndarray, target: list[int], allowed: np.ndarray) -> float:
    """-log of the summed probability of every alignment of ``target`` that emits only allowed labels, by
    enumerating all ``V ** T`` paths of ``(T, V)`` log-probabilities (blank 0); ``inf`` when there is none."""
    t_len, v = lp.shape
    total = -math.inf
    for path in itertools.product(range(v), repeat=t_len):
        if not all(allowed[t, k] for t, k in enumerate(path)):
            continue
        labels = [k for i, k in enumerate(path) if k != 0 and (i == 0 or path[i - 1] != k)]
        if labels == target:
            total = float(np.logaddexp(total, sum(lp[t, k] for t, k in enumerate(path))))
    return -total


class _Prefix:
    """A node of :func:`tensorflow_beam_search`'s prefix trie: log-probabilities (blank-ending, label-ending,
    total) at the previous frame (``old_*``) and at the current one (``new_*``); ``new_total`` is ``-inf`` when
    the prefix is not on the beam."""

    def __init__(self, parent: _Prefix | None, label: int) -> None:
        self.parent, self.label = parent, label
        self.children: dict[int, _Prefix] = {}
        self.old_blank = self.old_total = -math.inf
        self.new_blank = self.new_label = self.new_total = -math.inf

    def labels(self) -> tuple[int, ...]:
        out, node = [], self
        while node.parent is not None:
            out.append(node.label)
            node = node.parent
        return tuple(reversed(out))


def _beats_worst(score: float, heap: list[tuple[float, int, _Prefix]], width: int) -> bool:
    """Whether a candidate of log-probability ``score`` gets into the heap (pushing its worst entry out when full)."""
    return score > -math.inf and (len(heap) < width or score > heap[0][0])


def tensorflow_beam_search(lp: np.ndarray, width: int) -> list[tuple[tuple[int, ...], float]]:
    """``tf.nn.ctc_beam_search_decoder``'s search, one candidate at a time, for ``(T, V)`` log-probabilities
    with blank 0: the final beam as ``(labels, log-probability)``, best first.

    Each frame: every prefix of the beam, best first, gets its new probability and goes back into a heap of at
    most ``width`` entries; then, in the same order, each one's extensions by every label that is not already
    on the heap are pushed when they beat the heap's worst entry, which they push out. An extension that does
    not get in is deactivated, its previous-frame probability included: when it is a prefix of the previous
    beam pushed out meanwhile, its own extensions are then not tried.
    """
    lse = np.logaddexp
    root = _Prefix(None, 0)
    root.new_blank = root.new_total = 0.0
    heap: list[tuple[float, int, _Prefix]] = [(0.0, 0, root)]
    pushes = 1  # tie-breaker for the heap
    for frame in lp:
        beam = [node for _, _, node in sorted(heap, key=lambda item: -item[0])]
        for node in beam:
            node.old_blank, node.old_total = node.new_blank, node.new_total
        heap = []
        for node in beam:
            if node.parent is not None:
                parent = node.parent
                if parent.new_total > -math.inf:  # the parent is on the beam
                    previous = parent.old_blank if node.label == parent.label else parent.old_total
                    node.new_label = lse(node.new_label, previous)
                node.new_label += frame[node.label]
            node.new_blank = node.old_total + frame[0]
            node.new_total = lse(node.new_blank, node.new_label)
            heapq.heappush(heap, (node.new_total, pushes, node))
            pushes += 1

        for node in beam:
            if not _beats_worst(node.old_total, heap, width):
                continue
            for label in range(1, lp.shape[1]):
                child = node.children.setdefault(label, _Prefix(node, label))
                if child.new_total > -math.inf:  # on the heap already
                    continue
                child.new_blank = -math.inf
                previous = node.old_blank if label == node.label else node.old_total
                child.new_label = child.new_total = frame[label] + previous
                if _beats_worst(child.new_total, heap, width):
                    if len(heap) == width:
                        worst = heapq.heappop(heap)[2]
                        worst.new_blank = worst.new_label = worst.new_total = -math.inf
                    heapq.heappush(heap, (child.new_total, pushes, child))
                    pushes += 1
                else:
                    child.new_blank = child.new_label = child.new_total = -math.inf
                    child.old_blank = child.old_total = -math.inf
    return [(node.labels(), float(score)) for score, _, node in sorted(heap, key=lambda item: -item[0])]


def collapse(path: Sequence[int]) -> tuple[int, ...]:
    out = []
    prev = 0
    for c in path:
        if c != 0 and c != prev:
            out.append(int(c))
        prev = c
    return tuple(out)


@functools.cache
def _all_paths(frames: int, classes: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, ...]]]:
    """Every path (V**T, T), the label sequence id of each, and the label sequences."""
    paths = np.array(list(itertools.product(range(classes), repeat=frames)), dtype=np.intp).reshape(-1, frames)
    seqs: dict[tuple[int, ...], int] = {}
    seq_id = np.array([seqs.setdefault(collapse(p), len(seqs)) for p in paths.tolist()], dtype=np.intp)
    return paths, seq_id, list(seqs)


def exact_scores(lp: np.ndarray) -> dict[tuple[int, ...], float]:
    """log P(label sequence) for every label sequence, by enumerating all V**T alignments."""
    frames, classes = lp.shape
    paths, seq_id, seqs = _all_paths(frames, classes)
    path_scores = lp[np.arange(frames), paths].sum(axis=1)
    top = path_scores.max()
    acc = np.zeros(len(seqs))
    np.add.at(acc, seq_id, np.exp(path_scores - top))
    with np.errstate(divide="ignore"):
        return {s: float(top + np.log(acc[i])) for i, s in enumerate(seqs)}
