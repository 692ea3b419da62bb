"""docs/tutorial.md, run: every ``$ lipread ...`` command of the page, in its order, in one folder, with a few
options added to make it fast (8 clips, one epoch of a tiny model) and to fetch the corpus from a local server
(tests/archive_server.py) that serves speaker-1 clips of the shared data instead of Zenodo. Each step's output
is checked against what the page shows, where it does not depend on the training: the file names, the
preview's size, the report's lines. The plot step is skipped when matplotlib is missing."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
from archive_server import Archives, make_zip, serve

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from lipread.cli import main
from lipread.config import ConvBlock, get_preset
from lipread.data.grid import ADVERBS, COLOURS, COMMANDS, DIGITS, LETTERS, PREPOSITIONS

pytestmark = [pytest.mark.torch, pytest.mark.slow]

PAGE = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
CLIPS = 8
"""Clips of speaker 1 served as the corpus (bbaf2n as GRID's original MPEG-1 file, the rest as the shared
H.264 files)."""

FAST = {
    "data": ["--no-progress"],  # and --mirror, added with the server's address
    "train": [
        *("--max-clips", str(CLIPS), "--epochs", "1", "--batch-size", "2", "--device", "cpu", "--workers", "0"),
        *("--beam-width", "0", "--examples", "0", "--no-progress"),
    ],  # and --model-config, a tiny one; later options win over the page's
    "eval": ["--max-clips", "2", "--no-progress"],
}
"""Options added to the page's commands, by sub-command."""


def steps() -> list[tuple[list[str], list[str]]]:
    """(arguments after ``lipread``, the output lines shown) of each ``$ lipread`` line of the page's console
    blocks, in page order."""
    text = PAGE.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```console\n(.*?)```", text, re.DOTALL):
        lines = block.rstrip("\n").split("\n")
        starts = [i for i, line in enumerate(lines) if line.startswith("$ lipread ")]
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(lines)
            found.append((shlex.split(lines[start][2:])[1:], lines[start + 1 : end]))
    return found


def tiny_config(path: Path) -> Path:
    """The ``lipnet`` preset with 4/6/5 channels and a GRU of 8 units: trains in seconds."""
    base = get_preset("lipnet")
    blocks = tuple(
        ConvBlock(c, b.kernel, b.stride, b.padding, b.batchnorm, b.dropout, b.pool)
        for c, b in zip((4, 6, 5), base.frontend)
    )
    path.write_text(base.with_(frontend=blocks, rnn_hidden=8, rnn_layers=2).dumps(), encoding="utf-8")
    return path


def corpus(grid_root: Path) -> dict[str, bytes]:
    """Zenodo's two archives for speaker 1, with ``CLIPS`` clips."""
    names = ["bbaf2n", *sorted(p.stem for p in (grid_root / "s1").glob("*.mp4") if p.stem != "bbaf2n")[: CLIPS - 1]]
    videos = {"s1/bbaf2n.mpg": (grid_root / "mpg" / "bbaf2n.mpg").read_bytes()}
    videos |= {f"s1/{n}.mp4": (grid_root / "s1" / f"{n}.mp4").read_bytes() for n in names[1:]}
    aligns = {f"alignments/s1/{n}.align": (grid_root / "alignments" / "s1" / f"{n}.align").read_bytes() for n in names}
    return {"s1.zip": make_zip(videos), "alignments.zip": make_zip(aligns)}


def is_grid_sentence(text: str) -> bool:
    slots = (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)
    words = text.split()
    return len(words) == len(slots) and all(w in slot for w, slot in zip(words, slots))


def test_the_tutorial_runs(
    grid_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (grid_root / "mpg" / "bbaf2n.mpg").is_file():
        pytest.skip("the shared data has no grid/mpg/bbaf2n.mpg")
    page = steps()
    assert [args[0] for args, _ in page] == [
        "data",
        "preview",
        "train",
        "eval",
        "plot",
        "export",
        "transcribe",
        "transcribe",
    ], "the tutorial's steps changed: update this test"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    config = tiny_config(tmp_path / "tiny.json")
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    with serve(Archives(files=corpus(grid_root))) as server:
        for args, shown in page:
            command = args[0]
            extra = [*FAST.get(command, [])]
            extra += ["--mirror", server.url] if command == "data" else []
            extra += ["--model-config", str(config)] if command == "train" else []
            if command == "plot" and not has_matplotlib:
                continue
            capsys.readouterr()
            assert main([*args, *extra]) == 0, f"lipread {shlex.join(args)} failed"
            out = capsys.readouterr().out.splitlines()
            check(command, args, shown, out, tmp_path)
    assert (tmp_path / "my.onnx").is_file()


def check(command: str, args: list[str], shown: list[str], out: list[str], folder: Path) -> None:
    """The output of one step against the page's."""
    if command == "data":
        assert re.fullmatch(r"grid: \d+ clips and \d+ alignments of s1", shown[0])
        assert out == [f"grid: {CLIPS} clips and {CLIPS} alignments of s1", *shown[1:]]
        assert len(list((folder / "grid" / "alignments" / "s1").glob("*.align"))) == CLIPS
    elif command == "preview":
        assert out == shown  # the crop's size does not depend on anything trained
        assert (folder / "bbaf2n.gif").read_bytes()[:6] == b"GIF89a"
    elif command == "train":
        assert out[0] == f"training on {CLIPS - 1} clips, validating on 1; device cpu, 1 process(es)"
        assert out[-2:] == shown[-2:]  # best model: ..., last model: ...
        assert len((folder / "run" / "history.jsonl").read_text().splitlines()) == 1
    elif command == "eval":
        labels = [line.split(":")[0] for line in shown]
        assert [line.split(":")[0] for line in out] == labels
        assert out[1].startswith("model: run/best.safetensors (backend torch")
    elif command in ("plot", "export"):
        assert out == shown
        assert (folder / shown[0]).stat().st_size > 0
    elif "--model" in args:  # the exported model, restricted to GRID sentences
        assert len(out) == 1 and is_grid_sentence(out[0]), out
    else:  # the shipped model
        assert out == shown
