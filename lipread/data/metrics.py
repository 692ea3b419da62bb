"""Recognition metrics: character and word error rates, sentence accuracy."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["cer", "edit_distance", "edit_table", "missed_words", "sentence_accuracy", "summarise", "wer"]


def edit_distance(reference: Sequence[object], hypothesis: Sequence[object]) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning one into the other."""
    if len(reference) < len(hypothesis):
        reference, hypothesis = hypothesis, reference
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i]
        for j, h in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def edit_table(reference: Sequence[object], hypothesis: Sequence[object]) -> list[list[int]]:
    """The Levenshtein table: ``table[i][j]`` is the edit distance of ``reference[:i]`` and ``hypothesis[:j]``,
    ``(len(reference) + 1) x (len(hypothesis) + 1)``; tracing it back from the end gives an alignment."""
    n, m = len(reference), len(hypothesis)
    table = [[i + j if i == 0 or j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            same = reference[i - 1] == hypothesis[j - 1]
            table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + (not same))
    return table


def missed_words(reference: Sequence[object], hypothesis: Sequence[object]) -> tuple[list[bool], int]:
    """Which reference words a hypothesis gets wrong, by an optimal word alignment.

    Returns:
        ``(missed, inserted)``: ``missed[i]`` is True when reference word ``i`` is substituted or deleted,
        and ``inserted`` counts the hypothesis words aligned to no reference word, so that
        ``sum(missed) + inserted == edit_distance(reference, hypothesis)``. Among equally short alignments,
        the one kept prefers substitutions, then deletions, while tracing back from the end.
    """
    n, m = len(reference), len(hypothesis)
    table = edit_table(reference, hypothesis)
    missed = [False] * n
    inserted = 0
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and table[i][j] == table[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            missed[i - 1] = reference[i - 1] != hypothesis[j - 1]
            i, j = i - 1, j - 1
        elif i > 0 and table[i][j] == table[i - 1][j] + 1:
            missed[i - 1] = True
            i -= 1
        else:
            inserted += 1
            j -= 1
    return missed, inserted


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: character edit distance / reference length (spaces count as characters).

    An empty reference gives 0.0 for an empty hypothesis and 1.0 otherwise.
    """
    if not reference:
        return 0.0 if not hypothesis else 1.0
    return edit_distance(reference, hypothesis) / len(reference)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word edit distance (words split on whitespace) / number of reference words."""
    ref, hyp = reference.split(), hypothesis.split()
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def sentence_accuracy(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Fraction of sentences recognised exactly (compared word by word, ignoring extra whitespace)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        return 0.0
    return sum(r.split() == h.split() for r, h in zip(references, hypotheses)) / len(references)


def summarise(references: Sequence[str], hypotheses: Sequence[str]) -> dict[str, float]:
    """Corpus-level ``{"cer", "wer", "sentence_accuracy"}``.

    CER and WER are total edits over total reference characters / words (not a mean of per-clip rates).
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    chars = sum(len(r) for r in references)
    words = sum(len(r.split()) for r in references)
    char_edits = sum(edit_distance(r, h) for r, h in zip(references, hypotheses))
    word_edits = sum(edit_distance(r.split(), h.split()) for r, h in zip(references, hypotheses))
    return {
        "cer": char_edits / chars if chars else 0.0,
        "wer": word_edits / words if words else 0.0,
        "sentence_accuracy": sentence_accuracy(references, hypotheses),
    }
