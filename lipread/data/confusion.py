"""Confusion counts of one GRID word slot: which word the model read where the speaker said another.

``lipread eval --confusion FILE.png`` draws them for the letter slot, the hardest one to lip-read (``b``,
``p`` and ``m`` look alike, so do ``f`` and ``v``). The pairing of spoken and read words is an optimal word
alignment (fewest substitutions, deletions and insertions), so an inserted or dropped word elsewhere in the
sentence does not shift the slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .metrics import edit_table

__all__ = ["MISSING", "aligned_words", "confusion_matrix", "slot_counts", "slot_pairs"]

MISSING = "(none)"
"""The read word of a spoken word that the transcript left out."""


def aligned_words(reference: Sequence[str], hypothesis: Sequence[str]) -> list[str | None]:
    """For each reference word, the hypothesis word an optimal word alignment pairs it with (None: deleted).

    Among equally short alignments, the one kept prefers substitutions, then deletions, tracing back from the
    end (as :func:`lipread.data.metrics.missed_words`).

    >>> aligned_words("bin blue at f two now".split(), "bin blue f two now".split())
    ['bin', 'blue', None, 'f', 'two', 'now']
    """
    n, m = len(reference), len(hypothesis)
    table = edit_table(reference, hypothesis)
    paired: list[str | None] = [None] * n
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and table[i][j] == table[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            paired[i - 1] = hypothesis[j - 1]
            i, j = i - 1, j - 1
        elif i > 0 and table[i][j] == table[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return paired


def slot_pairs(references: Iterable[str], hypotheses: Iterable[str], slot: int) -> list[tuple[str, str]]:
    """``(spoken, read)`` words of word slot ``slot`` (0-based; 3 is the GRID letter) of each sentence pair.

    A transcript that left the word out reads :data:`MISSING`; a reference without that slot is skipped.
    """
    pairs = []
    for ref, hyp in zip(references, hypotheses):
        words = ref.split()
        if slot < len(words):
            read = aligned_words(words, hyp.split())[slot]
            pairs.append((words[slot], MISSING if read is None else read))
    return pairs


def confusion_matrix(
    pairs: Iterable[tuple[str, str]], labels: Sequence[str]
) -> tuple[list[str], list[str], list[list[int]]]:
    """Count ``(spoken, read)`` pairs into a matrix.

    Args:
        pairs: spoken and read words (see :func:`slot_pairs`).
        labels: the words of the slot, in the order of the rows (e.g. :data:`lipread.data.grid.LETTERS`).

    Returns:
        ``(rows, columns, counts)``: ``rows`` are ``labels``; ``columns`` are ``labels`` then, if any pair
        needs them, ``"other"`` (a read word outside ``labels``) and :data:`MISSING`; ``counts[r][c]`` is how
        often row ``r`` was spoken and column ``c`` read. Pairs whose spoken word is not a label are left out.
    """
    rows = list(labels)
    extra: list[str] = []
    tallies: list[tuple[int, str]] = []
    for spoken, read in pairs:
        if spoken not in rows:
            continue
        column = read if read in rows or read == MISSING else "other"
        if column not in rows and column not in extra:
            extra.append(column)
        tallies.append((rows.index(spoken), column))
    columns = rows + sorted(extra, key=("other", MISSING).index)
    counts = [[0] * len(columns) for _ in rows]
    for r, column in tallies:
        counts[r][columns.index(column)] += 1
    return rows, columns, counts


def slot_counts(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """``{spoken: {read: count}}`` of ``(spoken, read)`` pairs (JSON-ready; only pairs that occur), sorted."""
    counts: dict[str, dict[str, int]] = {}
    for spoken, read in pairs:
        row = counts.setdefault(spoken, {})
        row[read] = row.get(read, 0) + 1
    return {s: dict(sorted(counts[s].items())) for s in sorted(counts)}
