"""Decoding videos into RGB frames, and the typed errors for files that cannot be decoded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipread.errors import VideoError
from lipread.video.reader import probe, read_frames


def test_mp4_clip(grid_clip: Path) -> None:
    frames = read_frames(grid_clip)
    assert frames.dtype == np.uint8
    assert frames.shape == (75, 288, 360, 3)
    # RGB, not OpenCV's BGR: GRID speaker 1 sits before a blue background (top-left corner).
    r, _, b = frames[:, :40, :40].reshape(-1, 3).mean(axis=0)
    assert b > r + 50


def test_original_mpg_clips(grid_root: Path) -> None:
    clips = sorted((grid_root / "mpg").glob("*.mpg"))
    assert len(clips) == 7
    for clip in clips:
        frames = read_frames(clip)
        assert frames.dtype == np.uint8 and frames.shape == (75, 288, 360, 3), clip


def test_mp4_matches_original_mpg(grid_clip: Path, mpg_clip: Path) -> None:
    """The shared .mp4 is the .mpg re-encoded once: about 1.2 grey levels apart on average."""
    diff = np.abs(read_frames(grid_clip).astype(np.int16) - read_frames(mpg_clip).astype(np.int16))
    assert diff.mean() < 3.0


def test_short_corpus_clip_is_not_an_error(grid_root: Path) -> None:
    assert read_frames(grid_root / "s1" / "lrae3s.mp4").shape[0] == 74


def test_start_and_max_frames(grid_clip: Path) -> None:
    every = read_frames(grid_clip)
    part = read_frames(grid_clip, max_frames=10, start=5)
    assert part.shape == (10, 288, 360, 3)
    np.testing.assert_array_equal(part, every[5:15])


def test_probe(grid_clip: Path, mpg_clip: Path) -> None:
    for path in (grid_clip, mpg_clip):
        info = probe(path)
        assert (info.frames, info.width, info.height) == (75, 360, 288)
        assert info.fps == pytest.approx(25.0)
        assert info.duration == pytest.approx(3.0)
        assert info.path == str(path)


def _bad_files(tmp_path: Path, grid_clip: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(grid_clip.read_bytes()[:20000])
    header_only = tmp_path / "header_only.mp4"
    header_only.write_bytes(grid_clip.read_bytes()[:600])
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    return {
        "missing": (tmp_path / "missing.mp4", "not found"),
        "empty": (empty, "empty"),
        "text": (text, "cannot decode"),
        "truncated": (truncated, "truncated"),
        "header_only": (header_only, "cannot decode|no frames|truncated"),
        "folder": (folder, "folder"),
    }


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated", "header_only", "folder"])
def test_bad_files_raise_video_error(tmp_path: Path, grid_clip: Path, kind: str) -> None:
    path, message = _bad_files(tmp_path, grid_clip)[kind]
    for function in (read_frames, probe):
        with pytest.raises(VideoError, match=message) as info:
            function(path)
        assert str(path) in str(info.value)
