"""The scripts in ``examples/`` run, in a subprocess as a user runs them, on a few real GRID clips.

The transcription examples use the framework-free tiny ONNX model of ``tests/tiny_onnx.py`` (its text is
meaningless, so the tests compare the examples' output with what lipread itself produces for that model);
the training example trains a narrow network for one epoch with PyTorch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CLIPS = ("bbaf2n", "bbaf3s", "bbaf4p")


def run_example(name: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<name>`` with ``args`` from ``cwd``, lipread importable from this checkout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def videos(grid_root: Path, tmp_path: Path) -> Path:
    """A folder of three real GRID clips, one in a sub-folder, plus a broken file."""
    folder = tmp_path / "videos"
    (folder / "more").mkdir(parents=True)
    for i, name in enumerate(CLIPS):
        shutil.copy(grid_root / "s1" / f"{name}.mp4", folder / ("more" if i == 2 else "") / f"{name}.mp4")
    (folder / "broken.mp4").write_text("not a video")
    return folder


def write_tiny(path: Path, **kwargs: Any) -> Path:
    """The framework-free tiny ONNX model of ``tests/tiny_onnx.py`` at ``path`` (skips without onnx)."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from tiny_onnx import write_tiny_model
    finally:
        sys.path.pop(0)
    return write_tiny_model(path, **kwargs)


@pytest.fixture
def tiny_onnx(tmp_path: Path) -> Path:
    return write_tiny(tmp_path / "tiny.onnx")


def test_transcribe_folder_to_subtitles(videos: Path, tiny_onnx: Path, tmp_path: Path) -> None:
    import lipread
    from lipread.transcription.subtitles import to_srt

    out = tmp_path / "subs"
    proc = run_example(
        "transcribe_folder_to_subtitles.py", videos, "--output-dir", out, "--model", tiny_onnx, cwd=tmp_path
    )
    assert proc.returncode == 1, proc.stderr  # the broken file is reported, the others transcribed
    assert "broken.mp4" in proc.stderr and "cannot decode video" in proc.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.srt"))
    assert written == ["bbaf2n.srt", "bbaf3s.srt", "more/bbaf4p.srt"]
    for rel in written:
        video = videos / rel.replace(".srt", ".mp4")
        expected = lipread.transcribe(video, model=tiny_onnx, backend="onnx")
        assert (out / rel).read_text(encoding="utf-8") == to_srt(expected.words)
        assert f"{out / rel}: {expected.text}" in proc.stdout


def test_transcribe_folder_to_vtt(videos: Path, tiny_onnx: Path, tmp_path: Path) -> None:
    (videos / "broken.mp4").unlink()
    out = tmp_path / "subs"
    proc = run_example(
        "transcribe_folder_to_subtitles.py",
        videos,
        "--output-dir",
        out,
        "--model",
        tiny_onnx,
        "--format",
        "vtt",
        "--decoder",
        "greedy",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert all((out / p).read_text(encoding="utf-8").startswith("WEBVTT\n") for p in ("bbaf2n.vtt", "bbaf3s.vtt"))


def test_onnx_batch_inference(videos: Path, tiny_onnx: Path, tmp_path: Path) -> None:
    import lipread

    proc = run_example(
        "onnx_batch_inference.py", tiny_onnx, videos, "--batch-size", "2", "--threads", "1", cwd=tmp_path
    )
    assert proc.returncode == 1, proc.stderr  # the broken file
    assert "broken.mp4" in proc.stderr and "3 clips in" in proc.stderr
    got = dict(line.split("\t") for line in proc.stdout.splitlines())
    paths = sorted(videos.rglob("bb*.mp4"))
    assert sorted(got) == sorted(map(str, paths))
    # The same texts as lipread's own transcription of those clips with that model and decoder.
    for path, transcript in zip(paths, lipread.transcribe(paths, model=tiny_onnx, backend="onnx", decoder="beam")):
        assert got[str(path)] == transcript.text


def test_the_examples_read_frame_folders(videos: Path, tiny_onnx: Path, tmp_path: Path) -> None:
    """A folder of numbered images is one clip to the examples, as to lipread transcribe."""
    import cv2

    import lipread
    from lipread.video.reader import read_frames

    (videos / "broken.mp4").unlink()
    frames = videos / "more" / "faces" / "bbaf2n"
    frames.mkdir(parents=True)
    for i, frame in enumerate(read_frames(videos / "bbaf2n.mp4"), 1):
        cv2.imwrite(str(frames / f"{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    expected = lipread.transcribe(frames, model=tiny_onnx, backend="onnx", decoder="beam").text
    proc = run_example("onnx_batch_inference.py", tiny_onnx, videos, "--threads", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{frames}\t{expected}\n" in proc.stdout and "4 clips in" in proc.stderr
    out = tmp_path / "subs"
    proc = run_example(
        "transcribe_folder_to_subtitles.py", videos, "--output-dir", out, "--model", tiny_onnx, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "more" / "faces" / "bbaf2n.srt").is_file()
    # a folder that is not there, or holds no clip, is said to be so
    proc = run_example("transcribe_folder_to_subtitles.py", tmp_path / "nowhere", "--model", tiny_onnx, cwd=tmp_path)
    assert proc.returncode == 1 and f"{tmp_path / 'nowhere'}: not found" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = run_example("onnx_batch_inference.py", tiny_onnx, tmp_path / "empty", "--threads", "1", cwd=tmp_path)
    assert proc.returncode == 1 and f"{tmp_path / 'empty'}: no videos found" in proc.stderr


def test_the_examples_read_with_the_decoder_the_model_names(videos: Path, tmp_path: Path) -> None:
    """As lipread.transcribe does: a model whose metadata names the grammar decoder is read with it."""
    import lipread
    from lipread.config import LIPNET

    named = write_tiny(tmp_path / "grammar.onnx", config=LIPNET.with_(decoder="grammar"))
    (videos / "broken.mp4").unlink()
    clip = videos / "bbaf2n.mp4"
    expected = lipread.transcribe(clip, model=named)
    assert expected.decoder == "grammar" and expected.text != lipread.transcribe(clip, model=named, decoder="beam").text
    proc = run_example("onnx_batch_inference.py", named, clip, "--threads", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{clip}\t{expected.text}\n"
    proc = run_example(
        "transcribe_folder_to_subtitles.py", videos, "--output-dir", tmp_path / "subs", "--model", named, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{tmp_path / 'subs' / 'bbaf2n.srt'}: {expected.text}\n" in proc.stdout


def test_the_dask_example_without_dask_says_what_to_install(videos: Path, tmp_path: Path) -> None:
    code = (
        "import runpy, sys; sys.modules['distributed'] = None; "  # as if Dask were not installed
        f"sys.argv = ['dask_transcribe.py', {str(videos)!r}]; "
        f"sys.exit(runpy.run_path({str(EXAMPLES / 'dask_transcribe.py')!r}, run_name='__main__'))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr == 'this example needs Dask\'s distributed scheduler: pip install "lipread[dask,onnx]"\n'


def test_train_and_export(grid_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import lipread

    out = tmp_path / "run"
    proc = run_example(
        "train_and_export.py",
        grid_root,
        "--output",
        out,
        "--epochs",
        "1",
        "--max-clips",
        "4",
        "--batch-size",
        "2",
        "--channels",
        "4",
        "6",
        "5",
        "--hidden",
        "8",
        "--device",
        "cpu",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "epoch 1: train loss" in proc.stdout
    assert "largest difference between ONNX Runtime and PyTorch log-probabilities" in proc.stdout
    model = lipread.load_model(out / "model.onnx", backend="onnx")
    assert model.config.name == "lipnet-narrow" and model.config.rnn_hidden == 8
    assert (out / "best.safetensors").is_file() and (out / "history.jsonl").is_file()
