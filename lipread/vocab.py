"""Vocabularies: characters <-> class ids. The CTC blank is id 0 in every vocabulary."""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "BLANK",
    "LIPNET_VOCABULARY",
    "NOTEBOOK_VOCABULARY",
    "Vocabulary",
    "ctc_frames",
    "get_vocabulary",
    "too_short",
]

BLANK = 0
"""The CTC blank's class id, the same in every vocabulary and backend."""


@dataclass(frozen=True)
class Vocabulary:
    """An ordered set of single-character tokens; id 0 is the CTC blank.

    Args:
        characters: the tokens for ids ``1..len(characters)``, one character each after Unicode NFC
            normalisation (``"e\u0301"`` is ``"é"``). The empty string is allowed once, as an
            out-of-vocabulary slot (the LipNet notebook's ``StringLookup`` has one): it decodes to nothing and
            unknown characters encode to it.
        name: a short name stored in checkpoints.
    """

    characters: tuple[str, ...]
    name: str = "custom"
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __init__(self, characters: Iterable[str], name: str = "custom") -> None:
        given = tuple(characters)
        for c in given:
            if not isinstance(c, str):
                raise ValueError(f"vocabulary tokens are strings, not {type(c).__name__} ({c!r})")
        chars = tuple(unicodedata.normalize("NFC", c) for c in given)  # as texts are normalised
        for c in chars:
            if len(c) > 1:
                raise ValueError(f"vocabulary token {c!r} is longer than one character (in Unicode NFC)")
        if len(set(chars)) != len(chars):
            raise ValueError("vocabulary tokens must be unique")
        object.__setattr__(self, "characters", chars)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "_index", {c: i + 1 for i, c in enumerate(chars)})

    @property
    def tokens(self) -> tuple[str, ...]:
        """All tokens by id: ``tokens[0]`` is the blank (shown as ``""``)."""
        return ("", *self.characters)

    @property
    def size(self) -> int:
        """Number of classes V, the blank included."""
        return len(self.characters) + 1

    def __len__(self) -> int:
        return self.size

    @property
    def space_id(self) -> int | None:
        """The id of ``" "``, or None when the vocabulary has no space."""
        return self._index.get(" ")

    @property
    def oov_id(self) -> int | None:
        """The id of the out-of-vocabulary slot, or None."""
        return self._index.get("")

    def encode(self, text: str) -> list[int]:
        """Ids of the characters of ``text`` in Unicode NFC (never the blank).

        Raises:
            ValueError: a character is not in the vocabulary and there is no OOV slot.
        """
        ids = []
        for c in unicodedata.normalize("NFC", text):
            i = self._index.get(c, self.oov_id)
            if i is None:
                raise ValueError(f"character {c!r} is not in the {self.name!r} vocabulary")
            ids.append(i)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``; blanks and the OOV slot produce nothing. No CTC collapsing is done."""
        chars = self.tokens
        return "".join(chars[i] for i in ids if 0 < i < len(chars))

    def to_json(self) -> dict[str, object]:
        """A JSON-serialisable description (stored in checkpoint and ONNX metadata)."""
        return {"name": self.name, "characters": list(self.characters)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Vocabulary:
        """Inverse of :meth:`to_json`."""
        chars = data["characters"]
        if not isinstance(chars, list) or not all(isinstance(c, str) for c in chars):
            raise ValueError("vocabulary 'characters' must be a list of strings")
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"vocabulary 'name' must be a string, not {name!r}")
        return cls(chars, name=name or "custom")


LIPNET_VOCABULARY = Vocabulary(" abcdefghijklmnopqrstuvwxyz", name="lipnet")
"""The LipNet vocabulary: blank, space, a-z (28 classes)."""

NOTEBOOK_VOCABULARY = Vocabulary(["", *"abcdefghijklmnopqrstuvwxyz'?!123456789 "], name="notebook")
"""The LipNet notebook's vocabulary, reordered so blank is 0: blank, its OOV slot, then its 39 characters
``"abcdefghijklmnopqrstuvwxyz'?!123456789 "`` (41 classes). Notebook class ``k`` is our class ``(k + 1) % 41``."""

_BUILTIN = {v.name: v for v in (LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY)}


def get_vocabulary(name: str) -> Vocabulary:
    """A built-in vocabulary by name (``"lipnet"`` or ``"notebook"``)."""
    try:
        return _BUILTIN[name]
    except KeyError:
        raise ValueError(f"unknown vocabulary {name!r}; known: {sorted(_BUILTIN)}") from None


def ctc_frames(labels: Sequence[int]) -> int:
    """The fewest frames a CTC alignment of ``labels`` (class ids) takes: one per label, and a blank between each
    two equal neighbours (``"ll"`` takes three)."""
    return len(labels) + sum(a == b for a, b in itertools.pairwise(labels))


def too_short(frames: int, labels: Sequence[int]) -> str | None:
    """Why a training clip of ``frames`` model frames cannot teach its sentence's ``labels``, or None when it
    can: CTC has no alignment of more labels than frames, and training on it would learn nothing (its loss
    counts as zero rather than infinity)."""
    need = ctc_frames(labels)
    if frames >= need:
        return None
    return (
        f"too short for its text: {frames} frame{'s' if frames != 1 else ''} (at 25 fps) cannot hold its "
        f"{len(labels)} characters, which need at least {need}"
    )
