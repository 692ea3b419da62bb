"""A model's alphabet from its data: the characters of a data set's texts, a vocabulary file, the characters a
vocabulary cannot write, the vocabulary a training run trains, and the word list it leaves in its run folder.

**From the texts.** A model trained on a manifest or an LRS-style folder (:mod:`lipread.data.manifest`) writes
the characters its training data uses (:func:`vocabulary_from_texts`): the texts normalised as training reads
them (:func:`lipread.data.manifest.normalise_text`: Unicode NFC, white space made single spaces, lower case),
then class 0 the CTC blank, class 1 the space, and every other character in the order of its Unicode code
point. The same texts therefore always give the same classes, whatever order the clips are listed in.

**A vocabulary file** (``lipread train --vocabulary FILE``, :func:`read_vocabulary`) fixes the alphabet
instead: a UTF-8 text file whose characters, in the file's order, are classes 1, 2, ... (class 0 is the
blank). Line breaks only separate lines, so the alphabet may be written on one line (``" abcdefg"``, a space
first) or one character per line (a line holding one space for the space). The text is NFC-normalised; a
character may appear only once; tabs and other control characters are refused. An alphabet with upper-case
letters keeps the texts' case (one without lowers them).

**Which one a run trains** (:func:`training_vocabulary`): the file's when ``--vocabulary`` names one; the
checkpoint's when fine-tuning (``--init``, ``lipread adapt``), whose network has its classes; the preset's for
a GRID layout, so that GRID checkpoints stay compatible with the shipped model; else, for a manifest or an
LRS-style folder, the texts' own. A fixed alphabet (a file's or a checkpoint's) that lacks characters of the
texts stops the run before anything is decoded, naming every missing character.

**The word list** (:func:`run_words`): the words of a run's training texts, and, when it fine-tunes a model
(``--init``, ``lipread adapt``), the words that model's lexicon decoder already read, so that a model adapted to
a few clips does not forget the rest of its language. The run stores it in its checkpoints
(:attr:`lipread.config.ModelConfig.words`, kept by the ONNX export), where ``lipread transcribe --decoder
lexicon`` finds it, and writes it into its folder as :data:`WORDS_FILE` (:func:`write_word_list`) to read,
edit, or give to another model with ``--lexicon``.
"""

from __future__ import annotations

import dataclasses
import os
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from ..config import LIMITS
from ..errors import DataError
from ..vocab import Vocabulary
from ..weights import atomic_write, read_metadata
from .dataset import find_clips
from .grid import WORDS as GRID_WORDS
from .manifest import normalise_text
from .text_file import read_text_file
from .training import TrainOptions

__all__ = [
    "WORDS_FILE",
    "accepting_all",
    "format_vocabulary",
    "missing_characters",
    "parse_vocabulary",
    "read_vocabulary",
    "run_words",
    "training_vocabulary",
    "vocabulary_from_texts",
    "with_training_vocabulary",
    "word_list",
    "write_word_list",
]

WORDS_FILE = "words.txt"
"""The run folder's word list (:func:`run_words`), one word per line, in code point order
(:func:`write_word_list`)."""


def vocabulary_from_texts(texts: Iterable[str], name: str = "custom") -> Vocabulary:
    """The alphabet of ``texts`` as training reads them: the space, then every other character they use,
    in code point order (blank 0, space 1, then the others). The space is always there, so that any word
    list can be decoded.

    Raises:
        ValueError: more characters than a model may have classes (``LIMITS["classes"]``).
    """
    used = {c for text in texts for c in normalise_text(text)}
    used.discard(" ")
    characters = [" ", *sorted(used)]
    if len(characters) + 1 > LIMITS["classes"]:
        raise ValueError(f"the texts use {len(characters)} characters; a model has at most {LIMITS['classes'] - 1}")
    return Vocabulary(characters, name=name)


def parse_vocabulary(text: str, name: str = "custom") -> Vocabulary:
    """The vocabulary a vocabulary file's ``text`` describes (the format is in the module's description).

    Raises:
        ValueError: no characters, a character twice, a control character, or more characters than a model
            may have classes; the message says which.
    """
    text = unicodedata.normalize("NFC", text.removeprefix("\ufeff"))  # a byte order mark is no class
    characters: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        for c in line:
            if unicodedata.category(c) in ("Cc", "Zl", "Zp"):
                raise ValueError(f"line {number}: the control character {c!r} cannot be a class")
            if c in seen:
                raise ValueError(f"line {number}: {c!r} is already a class (line {seen[c]})")
            seen[c] = number
            characters.append(c)
    if not characters:
        raise ValueError("no characters (write the alphabet on one line, e.g. ' abc', or one character per line)")
    if len(characters) + 1 > LIMITS["classes"]:
        raise ValueError(f"{len(characters)} characters; a model has at most {LIMITS['classes'] - 1}")
    return Vocabulary(characters, name=name)


def read_vocabulary(path: str | os.PathLike[str]) -> Vocabulary:
    """The vocabulary of a vocabulary file (:func:`parse_vocabulary`), named ``"custom"``.

    Raises:
        DataError: the file cannot be read, is not UTF-8 text or is not a valid vocabulary; one line naming it.
    """
    path = Path(path)
    text = read_text_file(path, "vocabulary")
    try:
        return parse_vocabulary(text)
    except ValueError as e:
        raise DataError(f"{path}: not a vocabulary: {e}") from None


def format_vocabulary(vocabulary: Vocabulary) -> str:
    """``vocabulary`` as a vocabulary file's text (its characters on one line), which :func:`parse_vocabulary`
    reads back as the same classes.

    Raises:
        ValueError: the vocabulary has an out-of-vocabulary slot, or a byte order mark (U+FEFF) as its first
            character, which a file cannot describe.
    """
    if vocabulary.oov_id is not None:
        raise ValueError(f"the {vocabulary.name!r} vocabulary has an out-of-vocabulary slot; a file cannot hold it")
    if vocabulary.characters[:1] == ("\ufeff",):
        raise ValueError("a vocabulary file cannot start with U+FEFF, which is read as a byte order mark")
    return "".join(vocabulary.characters) + "\n"


def accepting_all(vocabulary: Vocabulary) -> Vocabulary:
    """``vocabulary`` with an out-of-vocabulary slot in front, to read a data set with: texts are normalised as
    ``vocabulary`` reads them (cased or not), and no clip is left out for a character it lacks, so that
    :func:`missing_characters` can name them all."""
    return Vocabulary(("", *(c for c in vocabulary.characters if c)), name=vocabulary.name)


def missing_characters(texts: Iterable[str], vocabulary: Vocabulary) -> list[str]:
    """The characters of ``texts`` (normalised for ``vocabulary`` as training reads them) that it cannot write,
    in order of first appearance; ``[]`` when it writes them all. An out-of-vocabulary slot writes none of
    them: it only keeps the text encodable, each such character becoming one class that decodes to nothing."""
    known = {c for c in vocabulary.characters if c}
    missing: dict[str, None] = {}
    for text in texts:
        for c in normalise_text(text, vocabulary):
            if c not in known:
                missing.setdefault(c)
    return list(missing)


def word_list(texts: Iterable[str]) -> list[str]:
    """The distinct words of ``texts`` (runs of characters between spaces), in code point order: the word
    list of the ``lexicon`` decoder for a model trained on these texts. The texts are taken as they are
    (training's :class:`~lipread.data.dataset.Clip` texts are already normalised)."""
    return sorted({word for text in texts for word in text.split()})


def training_vocabulary(options: TrainOptions) -> Vocabulary:
    """The vocabulary a run of ``options`` trains (the rule of the module's description and of
    :attr:`lipread.data.training.TrainOptions.vocabulary`), checked against the texts of the clips it reads (the
    first ``max_clips``).

    Raises:
        DataError: no clips; a vocabulary file that cannot be read; texts with characters a fixed vocabulary
            lacks (all of them named, in order of first appearance).
        CheckpointError: ``init`` is not a readable checkpoint.
    """
    config = options.model_config
    fixed = options.vocabulary
    source = f"the vocabulary of {fixed}"
    if isinstance(fixed, Path):
        fixed = read_vocabulary(fixed)
    elif fixed is None and options.init is not None:  # the classes the fine-tuned network has
        fixed, source = read_metadata(options.init)["config"].vocabulary, f"the alphabet of {options.init}"
    elif fixed is not None:
        source = f"the vocabulary {fixed.name!r}"
    reading = None if fixed is None else accepting_all(fixed)
    clips = find_clips(options.data, warn=False, vocabulary=reading)[: options.max_clips]
    if fixed is None:
        if all(clip.id is None for clip in clips):  # a GRID layout (manifests and LRS folders name their clips)
            return config.vocabulary
        try:
            return vocabulary_from_texts(clip.text for clip in clips)
        except ValueError as e:
            raise DataError(f"{options.data}: {e}") from None
    missing = missing_characters((clip.text for clip in clips), fixed)
    if missing:
        raise DataError(
            f"{options.data}: the texts use {len(missing)} character(s) that {source} lacks: "
            f"{' '.join(repr(c) for c in missing)}"
        )
    return fixed


def with_training_vocabulary(options: TrainOptions) -> TrainOptions:
    """``options`` with the vocabulary they train (:func:`training_vocabulary`) in their model config and
    their ``vocabulary``; the trainers call it first.

    Raises:
        DataError: as :func:`training_vocabulary`.
    """
    vocabulary = training_vocabulary(options)
    config = options.model_config
    if config.vocabulary != vocabulary:
        config = config.with_(vocabulary=vocabulary)
    return dataclasses.replace(options, config=config, vocabulary=vocabulary)


def run_words(texts: Iterable[str], init: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """The word list a run stores in its model (:attr:`lipread.config.ModelConfig.words`), in code point order:
    the words of its training ``texts`` (:func:`word_list`) and, when it starts from the checkpoint ``init``,
    the words that model's lexicon decoder reads: those it stores, or for a model that stores none (such as
    one trained before models stored their words), the GRID words when its alphabet can write them.

    Raises:
        CheckpointError: ``init`` is not a readable checkpoint.
    """
    words = set(word_list(texts))
    if init is not None:
        config = read_metadata(init)["config"]
        if config.words is not None:
            words.update(config.words)
        elif not missing_characters(GRID_WORDS, config.vocabulary):
            words.update(GRID_WORDS)
    return tuple(sorted(words))


def write_word_list(folder: str | os.PathLike[str], words: Iterable[str]) -> Path:
    """Write :data:`WORDS_FILE` into ``folder``: ``words`` (:func:`run_words`), one per line. Returns its
    path."""
    path = Path(folder) / WORDS_FILE
    atomic_write(path, "".join(f"{word}\n" for word in words).encode("utf-8"))
    return path
