"""Vocabularies: blank 0, the two presets, encode/decode round trip."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lipread.vocab import (
    BLANK,
    LIPNET_VOCABULARY,
    NOTEBOOK_VOCABULARY,
    Vocabulary,
    ctc_frames,
    get_vocabulary,
    too_short,
)

NOTEBOOK_CHARS = "abcdefghijklmnopqrstuvwxyz'?!123456789 "


def test_preset_sizes_and_blank() -> None:
    assert BLANK == 0
    assert LIPNET_VOCABULARY.size == len(LIPNET_VOCABULARY) == 28
    assert LIPNET_VOCABULARY.tokens[:3] == ("", " ", "a")
    assert LIPNET_VOCABULARY.tokens[-1] == "z"
    assert LIPNET_VOCABULARY.space_id == 1
    assert LIPNET_VOCABULARY.oov_id is None
    assert NOTEBOOK_VOCABULARY.size == 41
    assert NOTEBOOK_VOCABULARY.oov_id == 1
    for vocab in (LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY):
        assert BLANK not in vocab.encode("bin blue at f two now")


def test_notebook_class_mapping() -> None:
    """The notebook's StringLookup puts OOV at 0 and its 39 characters at 1..39; Keras CTC's blank is 40.
    Notebook class k is our class (k + 1) % 41."""
    notebook = ["", *NOTEBOOK_CHARS]
    for k, token in enumerate(notebook):
        assert NOTEBOOK_VOCABULARY.tokens[(k + 1) % 41] == token
    assert BLANK == (40 + 1) % 41  # the notebook's blank


@pytest.mark.parametrize("vocab", [LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY], ids=lambda v: v.name)
@given(data=st.data())
def test_round_trip(vocab: Vocabulary, data: st.DataObject) -> None:
    text = data.draw(st.text(alphabet=[c for c in vocab.characters if c], max_size=60))
    ids = vocab.encode(text)
    assert len(ids) == len(text)
    assert all(1 <= i < vocab.size for i in ids)
    assert vocab.decode(ids) == text


@given(ids=st.lists(st.integers(0, 27), max_size=40))
def test_decode_drops_blanks_only(ids: list[int]) -> None:
    text = LIPNET_VOCABULARY.decode(ids)
    assert len(text) == sum(i != BLANK for i in ids)
    assert LIPNET_VOCABULARY.encode(text) == [i for i in ids if i != BLANK]


def test_unknown_characters() -> None:
    with pytest.raises(ValueError, match="'Q'"):
        LIPNET_VOCABULARY.encode("Q")
    assert NOTEBOOK_VOCABULARY.encode("a#") == [2, NOTEBOOK_VOCABULARY.oov_id]
    assert NOTEBOOK_VOCABULARY.decode(NOTEBOOK_VOCABULARY.encode("a#b")) == "ab"


def test_json_round_trip_and_lookup() -> None:
    for vocab in (LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY):
        assert Vocabulary.from_json(vocab.to_json()) == vocab
        assert get_vocabulary(vocab.name) is vocab
    with pytest.raises(ValueError, match="unknown vocabulary"):
        get_vocabulary("klingon")


def test_invalid_vocabularies() -> None:
    with pytest.raises(ValueError, match="longer than one"):
        Vocabulary(["ab"])
    with pytest.raises(ValueError, match="unique"):
        Vocabulary("aa")
    with pytest.raises(ValueError, match="list of strings"):
        Vocabulary.from_json({"characters": "abc"})


def test_tokens_and_texts_are_read_in_unicode_nfc() -> None:
    decomposed = "e\u0301"  # e and a combining acute accent: one character to the eye
    vocab = Vocabulary([" ", decomposed, "x"])
    assert vocab.characters == (" ", "\u00e9", "x")
    assert vocab.encode(f"x{decomposed} \u00e9") == [3, 2, 1, 2]
    assert vocab.decode(vocab.encode(decomposed)) == "\u00e9"
    with pytest.raises(ValueError, match=r"vocabulary tokens are strings, not int \(3\)"):
        Vocabulary([" ", 3])  # type: ignore[list-item]


def _collapse(path: tuple[int, ...]) -> list[int]:
    """CTC's reading of a frame path: repeats merged, then blanks dropped."""
    return [k for k, _ in itertools.groupby(path) if k != BLANK]


@given(labels=st.lists(st.integers(1, 2), max_size=4))
def test_ctc_frames_is_the_shortest_path_that_reads_as_the_labels(labels: list[int]) -> None:
    """Against every path of blank and the labels' classes up to the answer's length."""
    shortest = next(
        t for t in itertools.count() for path in itertools.product((BLANK, 1, 2), repeat=t) if _collapse(path) == labels
    )
    assert ctc_frames(labels) == shortest


def test_too_short_says_how_many_frames_the_text_needs() -> None:
    labels = LIPNET_VOCABULARY.encode("all")  # three characters, a blank between the two l's
    assert ctc_frames(labels) == 4 and too_short(4, labels) is None
    assert too_short(3, labels) == (
        "too short for its text: 3 frames (at 25 fps) cannot hold its 3 characters, which need at least 4"
    )
    assert too_short(1, [2]) is None and too_short(0, [2]) is not None
