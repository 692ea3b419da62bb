"""Brute-force CTC references for tests: every alignment enumerated."""

from __future__ import annotations

import itertools
import math

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
