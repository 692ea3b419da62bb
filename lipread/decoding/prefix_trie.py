"""The beam search's prefix trie: flat integer storage in which merging two identical prefixes is an array
lookup, kept in a small pool between searches (a fresh multi-megabyte array costs page faults on every call).

Prefixes are nodes of a trie stored in one flat int array with ``V`` slots per node; a node is named by its
*key*, the offset of its first slot. Slot 0 of a node holds the prefix's position on the current beam
(``-1``: not on it) and slot ``c >= 1`` the key of the prefix extended by label ``c`` (``-1``: not created
yet); see :func:`lipread.decoding.beam._beam`.
"""

from __future__ import annotations

import numpy as np

_TRIE_BYTES = 8 << 20
"""Memory the prefix trie is given up front (more is allocated only when needed); also bounds how many
clips :func:`~lipread.decoding.beam_batch.beam_search_batch` decodes in lockstep."""


def _trie_capacity(fixed: int, most_new: int, stride: int) -> int:
    """Initial node capacity: room for every node that can be created (``fixed + most_new``) if that fits
    in :data:`_TRIE_BYTES`, else what fits (at least ``fixed`` plus some)."""
    fits = _TRIE_BYTES // (stride * np.dtype(np.intp).itemsize)
    return fixed + min(most_new, max(fits - fixed, 1024))


class _Trie:
    """Flat storage of the beam search's prefix trie: ``capacity`` nodes of ``stride`` int slots each.

    Every slot is ``-1`` until set (see :func:`lipread.decoding.beam._beam`); ``keys[i]`` is node ``i``'s offset.
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
