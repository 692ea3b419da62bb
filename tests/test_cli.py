"""The ``lipread`` command: --version, backends, info, preview."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gif_reader import read_gif

import lipread
from lipread import cli
from lipread.config import get_preset
from lipread.errors import LipreadError
from lipread.video.preprocess import load_clip
from lipread.video.reader import read_frames

ROOT = Path(__file__).resolve().parents[1]
MISSING = [name for name in cli.COMMANDS if importlib.util.find_spec(f"lipread.cli.{name}") is None]
needs_every_command = pytest.mark.skipif(bool(MISSING), reason=f"command modules not written yet: {MISSING}")


def run(name: str, *argv: str) -> int:
    """Run one sub-command as ``lipread.cli.app.main`` does (a LipreadError is exit status 1)."""
    module = importlib.import_module(f"lipread.cli.{name}")
    parser = argparse.ArgumentParser(prog="lipread")
    module.add_parser(parser.add_subparsers()).set_defaults(_run=module.run)
    args = parser.parse_args([name, *argv])
    try:
        return int(args._run(args) or 0)
    except LipreadError as e:
        print(f"lipread: error: {e}", file=sys.stderr)
        return 1


@needs_every_command
def test_version_and_help() -> None:
    done = subprocess.run([sys.executable, "-m", "lipread", "--version"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"lipread {lipread.__version__}"
    done = subprocess.run([sys.executable, "-m", "lipread"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    for name in ("info", "preview", "backends"):
        assert name in done.stdout


def test_backends(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from lipread import backend

    monkeypatch.setattr(backend, "_module_exists", lambda module: module == "onnxruntime")
    assert run("backends") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["backend", "installed", "capabilities"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["onnx"].split()[1:3] == ["yes", "inference"]
    assert rows["torch"].split()[1] == "no" and 'pip install "lipread[torch]"' in rows["torch"]
    assert "inference, train, export" in rows["torch"]
    assert rows["tensorflow"].split()[1] == "no" and 'pip install "lipread[tf]"' in rows["tensorflow"]


def test_info(grid_clip: Path, mpg_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video")
    assert run("info", str(grid_clip), str(bad), str(mpg_clip)) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{grid_clip}: 75 frames, 25 fps, 360x288 pixels, 3.00 s",
        f"{mpg_clip}: 75 frames, 25 fps, 360x288 pixels, 3.00 s",
    ]
    assert f"lipread: error: {bad}: cannot decode video" in err
    assert run("info", str(grid_clip)) == 0


def test_info_gives_the_rate_transcribe_reads_at(
    grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file stating 1000 fps (FFmpeg's time step where none is stated) is read at 25 fps, and said so."""
    import cv2

    frames = read_frames(grid_clip)
    odd = tmp_path / "odd.mp4"
    writer = cv2.VideoWriter(str(odd), cv2.VideoWriter_fourcc(*"mp4v"), 1000, (360, 288))
    for frame in frames:
        writer.write(frame[..., ::-1])
    writer.release()
    assert run("info", str(odd)) == 0
    out, err = capsys.readouterr()
    assert out == f"{odd}: 75 frames, 25 fps, 360x288 pixels, 3.00 s\n"
    assert err == (
        f"lipread: warning: {odd}: the file states no usable frame rate (1000 fps, the time step of a file that "
        "states none); read as 25 fps\n"
    )


@pytest.mark.parametrize(("preset", "scale"), [("lipnet-notebook", 1), ("lipnet", 2)])
def test_preview(grid_clip: Path, tmp_path: Path, preset: str, scale: int, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mouth.gif"
    assert run("preview", str(grid_clip), "-o", str(out), "--preset", preset, "--scale", str(scale)) == 0
    config = get_preset(preset)
    gif = read_gif(out.read_bytes())
    assert (gif.width, gif.height, len(gif.frames)) == (config.width * scale, config.height * scale, 75)
    assert gif.delays == [4] * 75
    assert f"{out}: 75 frames of {config.width * scale}x{config.height * scale} pixels" in capsys.readouterr().out
    # the frames are the model input, stretched from its min..max to 0..255
    x = load_clip(grid_clip, config)
    expected = np.rint((x - x.min()) * (255 / (x.max() - x.min())))
    expected = expected.repeat(scale, axis=1).repeat(scale, axis=2)
    shown = gif.rgb().astype(np.float64)
    if config.channels == 1:
        np.testing.assert_array_equal(shown, np.repeat(expected, 3, axis=3))
    else:
        assert np.abs(shown - expected).mean() < 4.0


def test_preview_of_a_bad_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mouth.gif"
    assert run("preview", str(tmp_path / "missing.mp4"), "-o", str(out)) == 1
    assert "missing.mp4: video file not found" in capsys.readouterr().err
    assert not out.exists()


def test_preview_of_frames_that_hold_no_frame_at_the_model_rate(
    grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Five frames said to be at 1000 fps last 5 ms: no 25 fps frame falls within them, so there is nothing
    to show; one line names the video (it was a traceback)."""
    import cv2

    from lipread.video.reader import read_frames

    folder = tmp_path / "five"
    folder.mkdir()
    for i, frame in enumerate(read_frames(grid_clip, max_frames=5), 1):
        assert cv2.imwrite(str(folder / f"{i}.png"), frame[..., ::-1])
    out = tmp_path / "mouth.gif"
    assert run("preview", str(folder), "-o", str(out), "--fps", "1000") == 1
    err = capsys.readouterr().err
    assert f"{folder}: too short to preview: 5 frames at 1000 fps" in err and "Traceback" not in err
    assert not out.exists()


@needs_every_command
def test_main_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["info", str(tmp_path / "nothing.mpg")]) == 1
    assert "nothing.mpg: video file not found" in capsys.readouterr().err
    assert cli.main(["preview", str(tmp_path / "nothing.mpg"), "-o", str(tmp_path / "x.gif")]) == 1
    assert cli.main(["backends"]) == 0


@pytest.mark.parametrize("option", [["--scale", "0"], ["--scale", "1.5"], ["--fps", "-1"], ["--preset", "huge"]])
def test_preview_rejects_bad_options(tmp_path: Path, option: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("preview", "clip.mp4", "-o", str(tmp_path / "x.gif"), *option)
    assert exit_info.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_preview_shows_the_aligned_crop(grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What a model trained with --crop aligned reads: the same size as the face-box crop, other pixels."""
    boxed, aligned = tmp_path / "boxed.gif", tmp_path / "aligned.gif"
    assert run("preview", str(grid_clip), "-o", str(boxed), "--scale", "1") == 0
    assert run("preview", str(grid_clip), "-o", str(aligned), "--scale", "1", "--crop", "aligned") == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{aligned}: 75 frames of 100x50 pixels (lipnet preset, aligned crop, 25 fps)"
    )
    a, b = read_gif(boxed.read_bytes()), read_gif(aligned.read_bytes())
    assert (a.width, a.height) == (b.width, b.height) and not np.array_equal(a.rgb(), b.rgb())
    assert run("preview", str(grid_clip), "-o", str(aligned), "--crop", "aligned", "--preset", "lipnet-notebook") == 1
    assert "only for RGB models" in capsys.readouterr().err
