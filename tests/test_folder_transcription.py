"""``lipread transcribe FOLDER`` on a folder of good GRID clips mixed with broken files: every good file is
transcribed, every bad one is reported once on stderr with its reason, and the exit status is 1."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipread.cli import transcribe as transcribe_command
from lipread.errors import LipreadError
from lipread.video.reader import read_frames

cv2 = pytest.importorskip("cv2")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tiny_onnx import write_tiny_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def transcribe(argv: list[str]) -> int:
    """Parse and run ``lipread transcribe`` in this process, the way ``lipread.cli.app.main`` does."""
    parser = argparse.ArgumentParser(prog="lipread")
    transcribe_command.add_parser(parser.add_subparsers()).set_defaults(_run=transcribe_command.run)
    args = parser.parse_args(["transcribe", *argv])
    try:
        return int(args._run(args))
    except LipreadError as e:
        print(f"lipread: error: {e}", file=sys.stderr)
        return 1


def reports(stderr: str) -> dict[str, str]:
    """``{path: reason}`` from the ``lipread: error: <path>: <reason>`` lines (progress-bar output ignored)."""
    out: dict[str, str] = {}
    for line in re.split(r"[\r\n]", stderr):
        m = re.match(r"lipread: error: (.+?\.\w+): (.+)$", line)
        if m:
            assert m.group(1) not in out, f"{m.group(1)} reported twice"
            out[m.group(1)] = m.group(2)
    return out


def write_video(path: Path, frames: np.ndarray) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


BAD = {
    "empty.mp4": r"video file is empty \(0 bytes\)",
    "notes.mp4": "cannot decode video",
    "cut.mp4": r"only \d+ of the 75 frames .* truncated",
    "cut.mpg": "too short to read",
    "nested/noise.mp4": "no face found",
    "one-frame.mp4": "too short to read",
    "random.avi": "cannot decode video|no frames",
}
"""Broken files in the folder and the reason each must be reported with."""

GOOD = ["a-bbaf2n.mp4", "b-bbaf2n.mpg", "nested/c-lrae3s.mp4"]


@pytest.fixture()
def folder(tmp_path: Path, grid_root: Path) -> Path:
    root = tmp_path / "videos"
    (root / "nested").mkdir(parents=True)
    mp4, mpg = grid_root / "s1" / "bbaf2n.mp4", grid_root / "mpg" / "bbaf2n.mpg"
    shutil.copy(mp4, root / "a-bbaf2n.mp4")
    shutil.copy(mpg, root / "b-bbaf2n.mpg")
    shutil.copy(grid_root / "s1" / "lrae3s.mp4", root / "nested" / "c-lrae3s.mp4")
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_text("this is not a video\n" * 20)
    (root / "cut.mp4").write_bytes(mp4.read_bytes()[: mp4.stat().st_size // 2])
    (root / "cut.mpg").write_bytes(mpg.read_bytes()[: mpg.stat().st_size // 100])
    write_video(root / "nested" / "noise.mp4", np.random.default_rng(0).integers(0, 256, (30, 288, 360, 3), np.uint8))
    write_video(root / "one-frame.mp4", read_frames(mp4, max_frames=1))
    (root / "random.avi").write_bytes(np.random.default_rng(1).bytes(20_000))
    (root / "readme.txt").write_text("not a video extension: ignored\n")
    (root / "folder.mp4").mkdir()  # a folder with a video's name is not a file: ignored
    return root


@pytest.mark.parametrize("batch_size", [1, 2, 8])
def test_every_good_file_is_transcribed_and_every_bad_one_reported(
    tiny: Path, folder: Path, batch_size: int, capsys: pytest.CaptureFixture[str]
) -> None:
    status = transcribe([str(folder), "--model", str(tiny), "--format", "json", "--batch-size", str(batch_size)])
    captured = capsys.readouterr()
    assert status == 1
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["path"] for r in records] == [str(folder / name) for name in GOOD]
    assert all(r["text"] == " ".join(w["word"] for w in r["words"]) for r in records)
    found = reports(captured.err)
    assert sorted(found) == sorted(str(folder / name) for name in BAD)
    for name, reason in BAD.items():
        assert re.search(reason, found[str(folder / name)]), (name, found[str(folder / name)])


def test_good_files_alone_exit_zero(tiny: Path, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in BAD:
        (folder / name).unlink()
    assert transcribe([str(folder), "--model", str(tiny)]) == 0
    captured = capsys.readouterr()
    assert [line.split("\t")[0] for line in captured.out.splitlines()] == [str(folder / name) for name in GOOD]
    assert reports(captured.err) == {}


def test_bad_files_alone_print_nothing_and_exit_one(
    tiny: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in GOOD:
        (folder / name).unlink()
    assert transcribe([str(folder), "--model", str(tiny)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(reports(captured.err)) == len(BAD)


def test_command_line(tiny: Path, folder: Path) -> None:
    """The installed entry point: ``python -m lipread transcribe FOLDER``, in a process of its own."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "lipread", "transcribe", str(folder), "--model", str(tiny), "--threads", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == [str(folder / name) for name in GOOD]
    assert sorted(reports(done.stderr)) == sorted(str(folder / name) for name in BAD)
    assert "Traceback" not in done.stderr
