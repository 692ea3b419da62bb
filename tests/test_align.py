"""GRID ``.align`` parsing: real files, generated files, malformed ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lipread.data import grid
from lipread.data.align import UNITS_PER_SECOND, load_alignment, parse_alignment
from lipread.errors import AlignmentError


def test_all_shared_alignments_match_file_names(grid_root: Path) -> None:
    files = sorted((grid_root / "alignments" / "s1").glob("*.align"))
    assert len(files) == 900
    for path in files:
        alignment = load_alignment(path, vocabulary=grid.WORDS)
        assert alignment.sentence == grid.sentence_from_name(path.stem), path
        assert alignment.entries[0].start == 0.0
        assert 2.9 <= alignment.entries[-1].end <= 3.0
        assert all(w.word not in ("sil", "sp") for w in alignment.words)


def test_example_file(grid_root: Path) -> None:
    alignment = load_alignment(grid_root / "alignments" / "s1" / "bbaf2n.align")
    assert alignment.sentence == "bin blue at f two now"
    assert [e.word for e in alignment.entries] == ["sil", "bin", "blue", "at", "f", "two", "now", "sil"]
    assert alignment.words[0].start == pytest.approx(23750 / 25000)
    assert alignment.words[0].end == pytest.approx(29500 / 25000)


_TOKENS = sorted(grid.WORDS | {"sil", "sp"})


@st.composite
def _alignment_lines(draw: st.DrawFn) -> list[tuple[int, int, str]]:
    n = draw(st.integers(1, 12))
    lines, t = [], 0
    for _ in range(n):
        start = t + draw(st.integers(0, 3000))
        end = start + draw(st.integers(0, 20000))
        lines.append((start, end, draw(st.sampled_from(_TOKENS))))
        t = end
    return lines


@given(lines=_alignment_lines(), newline=st.sampled_from(["\n", "\r\n"]), upper=st.booleans())
def test_generated_files_round_trip(lines: list[tuple[int, int, str]], newline: str, upper: bool) -> None:
    text = newline.join(f"{s} {e} {w.upper() if upper else w}" for s, e, w in lines) + newline
    alignment = parse_alignment(text, vocabulary=grid.WORDS)
    assert [(e.word, e.start, e.end) for e in alignment.entries] == [
        (w, s / UNITS_PER_SECOND, e / UNITS_PER_SECOND) for s, e, w in lines
    ]
    assert alignment.sentence == " ".join(w for _, _, w in lines if w not in ("sil", "sp"))


_MALFORMED = ["100 200", "100 200 bin extra", "bin 100 200", "1.5 200 bin", "0x10 200 bin", "-5 200 bin", "300 200 bin"]


@given(lines=_alignment_lines(), bad=st.sampled_from(_MALFORMED), data=st.data())
def test_malformed_line_is_reported_with_file_and_line(
    lines: list[tuple[int, int, str]], bad: str, data: st.DataObject
) -> None:
    text_lines = [f"{s} {e} {w}" for s, e, w in lines]
    at = data.draw(st.integers(0, len(text_lines)))
    text_lines.insert(at, bad)
    with pytest.raises(AlignmentError, match=rf"^speaker9/xxxx1a\.align:{at + 1}: "):
        parse_alignment("\n".join(text_lines), source="speaker9/xxxx1a.align")


def test_overlapping_times() -> None:
    with pytest.raises(AlignmentError, match=r"x\.align:2: start 100 is before the previous end 200"):
        parse_alignment("0 200 sil\n100 300 bin\n", source="x.align")


def test_unknown_word_and_empty() -> None:
    with pytest.raises(AlignmentError, match=r"a\.align:2: unknown word 'hello'"):
        parse_alignment("0 10 sil\n10 20 hello\n", source="a.align", vocabulary=grid.WORDS)
    assert parse_alignment("0 10 hello").sentence == "hello"  # no vocabulary: any word
    with pytest.raises(AlignmentError, match="empty"):
        parse_alignment("\n\n  \n", source="b.align")


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.align"
    with pytest.raises(AlignmentError, match=r"missing\.align: alignment file not found"):
        load_alignment(missing)
    binary = tmp_path / "binary.align"
    binary.write_bytes(b"0 10 bin\n\xff\xfe\x00")
    with pytest.raises(AlignmentError, match=r"binary\.align: not UTF-8"):
        load_alignment(binary)
    folder = tmp_path / "folder.align"
    folder.mkdir()
    with pytest.raises(AlignmentError, match=r"folder\.align: cannot read"):
        load_alignment(folder)
