"""GRID corpus knowledge: grammar, sentences spelled by file names."""

from __future__ import annotations

import pytest

from lipread.data import grid


def test_grammar() -> None:
    assert len(grid.WORDS) == 51
    assert len(grid.LETTERS) == 25 and "w" not in grid.LETTERS
    assert len(grid.SPEAKERS) == 33 and 21 not in grid.SPEAKERS
    assert grid.UNSEEN_SPEAKERS == (1, 2, 20, 22)


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("bbaf2n", "bin blue at f two now"),
        ("lgbm4p", "lay green by m four please"),
        ("pwij3p", "place white in j three please"),
        ("srwi5a", "set red with i five again"),
        ("sbbbzp", "set blue by b zero please"),
        ("s1/bbaf2n.mp4", "bin blue at f two now"),
        ("C:\\grid\\LBAX4N.MPG", "lay blue at x four now"),
    ],
)
def test_sentence_from_name(name: str, sentence: str) -> None:
    assert grid.sentence_from_name(name) == sentence
    assert grid.is_grid_sentence(sentence)


@pytest.mark.parametrize("name", ["bbaf2", "bbaf2nn", "xbaf2n", "bbaw2n", "bbaf0n", "bbaf2x", ""])
def test_invalid_names(name: str) -> None:
    with pytest.raises(ValueError, match="GRID clip name"):
        grid.sentence_from_name(name)


def test_is_grid_sentence() -> None:
    assert not grid.is_grid_sentence("bin blue at f two")
    assert not grid.is_grid_sentence("blue bin at f two now")
    assert not grid.is_grid_sentence("bin blue at w two now")
