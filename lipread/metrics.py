"""Recognition metrics: character and word error rates, sentence accuracy."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["cer", "edit_distance", "sentence_accuracy", "summarise", "wer"]


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
