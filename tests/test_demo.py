"""The demo clip that ships in the package, ``lipread demo``, and the pages that show its output."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from script_module import load_script

import lipread
from lipread.cli.app import main
from lipread.cli.demo import format_demo
from lipread.data.align import Word, load_alignment
from lipread.data.demo import DEMO_NAME, DEMO_SENTENCE, demo_alignment, demo_clip
from lipread.data.grid import sentence_from_name

ROOT = Path(__file__).resolve().parents[1]


def _tool() -> ModuleType:
    return load_script(ROOT / "tools" / "write_demo_docs.py")


def _needs_onnxruntime() -> None:
    if importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("onnxruntime is not installed (pip install '.[onnx]')")


def test_demo_clip_is_a_small_video_inside_the_package_with_its_credit() -> None:
    clip = lipread.demo_clip()
    assert clip == demo_clip() and clip.name == f"{DEMO_NAME}.mp4"
    assert clip.is_file() and clip.resolve().is_relative_to(Path(lipread.__file__).resolve().parent)
    assert 10_000 < clip.stat().st_size < 500_000
    credits = (clip.parent / "CREDITS.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in credits and "Cooke" in credits and DEMO_NAME in credits


def test_demo_sentence_is_the_clips_own() -> None:
    assert load_alignment(demo_alignment()).sentence == DEMO_SENTENCE == sentence_from_name(DEMO_NAME)


def test_demo_files_are_not_left_out_of_the_wheel_by_gitignore() -> None:
    """The wheel takes every file under ``lipread/`` that git does not ignore (hatchling's rule)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    # the checkout's files (the installed package may live in an ignored virtual environment)
    folder = ROOT / "lipread" / "data" / "demo_files"
    files = [str((folder / p.name).relative_to(ROOT)) for p in (demo_clip(), demo_alignment(), folder / "CREDITS.md")]
    assert all((ROOT / f).is_file() for f in files), files
    ignored = subprocess.run(["git", "check-ignore", *files], cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout == ""


def test_demo_clip_is_a_validation_clip_of_the_shipped_models_split(grid_root: Path) -> None:
    from lipread.data.dataset import find_clips, split_clips

    train, val = split_clips(find_clips(grid_root), "random", 0.1, 0)
    assert DEMO_NAME in {c.video.stem for c in val}
    assert DEMO_NAME not in {c.video.stem for c in train}


@dataclass(frozen=True)
class _Read:
    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class _Transcript:
    text: str
    words: tuple[_Read, ...]
    confidence: float = 0.5
    model: str = "m"
    backend: str = "onnx"
    decoder: str = "grammar"


def test_format_pairs_read_words_with_said_times_only_when_counts_match() -> None:
    spoken = [Word("place", 0.45, 0.75), Word("blue", 0.75, 0.95)]
    same = format_demo(
        _Transcript("place blue", (_Read("place", 0.4, 0.7, 0.9), _Read("blue", 0.8, 1.0, 0.8))), spoken, "c.mp4"
    )
    assert "0.45-0.75 s (place)" in same and "0.75-0.95 s (blue)" in same
    short = format_demo(_Transcript("place", (_Read("place", 0.4, 0.7, 0.9),)), spoken, "c.mp4")
    assert short.splitlines()[-1].split()[-1] == "-"
    assert "said:   place blue" in short and "read:   place  (confidence 0.50)" in short


def test_lipread_demo_reads_the_sentence_with_word_times(capsys: pytest.CaptureFixture[str]) -> None:
    _needs_onnxruntime()
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.splitlines()
    read = next(line for line in out if line.startswith("read:")).split("(")[0].split()[1:]
    assert len(read) == 6  # a GRID sentence: the grammar decoder always writes six words
    table = out[out.index("") + 2 :]
    assert [row.split()[0] for row in table] == read
    starts = [float(row.split()[1].rstrip("s")) for row in table]
    assert starts == sorted(starts) and starts[0] >= 0 and starts[-1] < 3.0  # the clip is 3 s long


def _numbers_close(shown: str, current: str, tolerance: float = 0.015) -> bool:
    """The same text but for numbers that differ by at most ``tolerance`` (a confidence rounded the other way on
    another CPU or ONNX Runtime version)."""
    tokens = re.compile(r"(\d+\.\d+)")
    a, b = tokens.split(shown), tokens.split(current)
    if len(a) != len(b):
        return False
    return all(x == y if i % 2 == 0 else abs(float(x) - float(y)) <= tolerance for i, (x, y) in enumerate(zip(a, b)))


def test_pages_show_the_current_demo_output_and_accuracy() -> None:
    """Fails when the shipped model changed and the pages were not rewritten: run python tools/write_demo_docs.py."""
    _needs_onnxruntime()
    tool = _tool()
    output = tool.demo_output()
    accuracy = tool.accuracy_sentence(tool.CARD.read_text(encoding="utf-8"))
    for page in tool.PAGES:
        text = page.read_text(encoding="utf-8")
        assert _numbers_close(text, tool.fill(text, output, accuracy)), (
            f"{page}: stale; run python tools/write_demo_docs.py"
        )
    assert "<!-- lipread-demo -->" in (ROOT / "docs" / "index.md").read_text(encoding="utf-8")


def test_numbers_close() -> None:
    assert _numbers_close("read 0.95 at 1.04s", "read 0.94 at 1.04s")
    assert not _numbers_close("read 0.95 at 1.04s", "read 0.95 at 1.08s")
    assert not _numbers_close("read place", "read plaice")


def test_fill_keeps_the_markers_and_their_indentation() -> None:
    tool = _tool()
    page = (
        "a\n    <!-- lipread-accuracy -->\n    old\n    <!-- /lipread-accuracy -->\n"
        "<!-- lipread-demo -->\n<!-- /lipread-demo -->\n"
    )
    filled = tool.fill(page, "line one\nline two\n", "Two\nlines.\n")
    assert "    <!-- lipread-accuracy -->\n    Two\n    lines.\n    <!-- /lipread-accuracy -->" in filled
    assert (
        "<!-- lipread-demo -->\n```console\n$ lipread demo\nline one\nline two\n```\n<!-- /lipread-demo -->" in filled
    )
    assert tool.fill(filled, "line one\nline two\n", "Two\nlines.\n") == filled


def test_accuracy_sentence_takes_the_cards_numbers() -> None:
    card = (
        "on the 90 validation clips\n| decoder | CER | WER | sentence accuracy | ms |\n| --- | --- |\n"
        "| greedy | 9.0% | 20.0% | 10.0% | n/a |\n| beam | 6.3% | 17.2% | 26.7% | 70 / 60 |\n"
        "| grammar | 4.2% | 10.6% | 44.4% | 70 / 60 |\n"
    )
    sentence = _tool().accuracy_sentence(card)
    assert "90 held-out clips" in sentence and "CER 4.2%, WER 10.6%, 44.4% of sentences" in sentence
    assert "CER 6.3%, WER 17.2% with an unconstrained beam search" in sentence
    with_int8 = card.replace("| 9.0%", "| float32 | 9.0%").replace("| 6.3%", "| float32 | 6.3%")
    with_int8 = with_int8.replace("| 4.2%", "| float32 | 4.2%") + "| grammar | int8 | 5.0% | 12.0% | 40.0% | n/a |\n"
    assert _tool().accuracy_sentence(with_int8) == sentence  # the float32 model's figures
    with pytest.raises(SystemExit):
        _tool().accuracy_sentence("no table")


def test_demo_clip_is_imported_lazily() -> None:
    code = "import sys, lipread; assert 'lipread.data.demo' not in sys.modules; print(lipread.demo_clip().name)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"{DEMO_NAME}.mp4"
