"""Knowledge of the GRID corpus (Cooke et al., 2006): its grammar, file names and speakers.

A GRID sentence is six words: command colour preposition letter digit adverb, e.g. "bin blue at f two now".
Its file name spells it with one letter per word (``bbaf2n``).
"""

from __future__ import annotations

__all__ = [
    "ADVERBS",
    "COLOURS",
    "COMMANDS",
    "DIGITS",
    "GRAMMAR",
    "LETTERS",
    "PREPOSITIONS",
    "SLOT_NAMES",
    "SPEAKERS",
    "UNSEEN_SPEAKERS",
    "WORDS",
    "is_grid_sentence",
    "sentence_from_name",
]

COMMANDS = ("bin", "lay", "place", "set")
COLOURS = ("blue", "green", "red", "white")
PREPOSITIONS = ("at", "by", "in", "with")
LETTERS = tuple(c for c in "abcdefghijklmnopqrstuvxyz")  # every letter but w
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ADVERBS = ("again", "now", "please", "soon")

GRAMMAR: tuple[tuple[str, ...], ...] = (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)
"""The six word slots of a GRID sentence, in order."""

SLOT_NAMES = ("command", "colour", "preposition", "letter", "digit", "adverb")
"""The names of :data:`GRAMMAR`'s six word slots, in order."""

WORDS: frozenset[str] = frozenset(w for slot in GRAMMAR for w in slot)
"""Every word GRID sentences use (51 words)."""

SPEAKERS = tuple(s for s in range(1, 35) if s != 21)
"""GRID's 33 speakers with video (speaker 21's video was never published)."""

UNSEEN_SPEAKERS = (1, 2, 20, 22)
"""Speakers held out in LipNet's "unseen speakers" split (Assael et al., 2016)."""

_DIGIT_BY_CODE = {"z": "zero", **{str(i): DIGITS[i] for i in range(1, 10)}}


def _by_initial(words: tuple[str, ...]) -> dict[str, str]:
    return {w[0]: w for w in words}


_SLOTS_BY_CODE = (
    _by_initial(COMMANDS),
    _by_initial(COLOURS),
    _by_initial(PREPOSITIONS),
    {c: c for c in LETTERS},
    _DIGIT_BY_CODE,
    _by_initial(ADVERBS),
)


def sentence_from_name(name: str) -> str:
    """The sentence a GRID file name spells, e.g. ``"bbaf2n"`` -> ``"bin blue at f two now"``.

    ``name`` may be a stem or a file name / path (the extension and folders are ignored).

    Raises:
        ValueError: the name is not six GRID codes.
    """
    stem = name.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0].lower()
    if len(stem) != 6:
        raise ValueError(f"{name!r} is not a GRID clip name (expected six letters such as 'bbaf2n')")
    words = []
    for i, (code, slot) in enumerate(zip(stem, _SLOTS_BY_CODE)):
        try:
            words.append(slot[code])
        except KeyError:
            raise ValueError(f"{name!r} is not a GRID clip name: {code!r} is not valid in position {i + 1}") from None
    return " ".join(words)


def is_grid_sentence(text: str) -> bool:
    """Whether ``text`` is a sentence of the GRID grammar (six words, one from each slot)."""
    words = text.split()
    return len(words) == len(GRAMMAR) and all(w in slot for w, slot in zip(words, GRAMMAR))
