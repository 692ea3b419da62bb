"""Animated GIF writing: every frame decodes back to what was written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gif_reader import read_gif

from lipread.video.gif import encode_gif, write_gif


def _grey_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    ramp = (np.add.outer(np.arange(60), np.arange(90)) % 256).astype(np.uint8)
    return {
        "noise": rng.integers(0, 256, (4, 37, 53), dtype=np.uint8),
        "ramp": np.stack([ramp, ramp.T[:60, :60].repeat(2, axis=1)[:, :90]]),
        "flat": np.full((3, 8, 8), 7, np.uint8),
        "one-pixel": np.zeros((1, 1, 1, 1), np.uint8),
        "few-levels": rng.integers(0, 3, (2, 120, 150, 1), dtype=np.uint8),
        "table-resets": rng.integers(0, 256, (1, 200, 200), dtype=np.uint8),  # > 4096 codes per frame
    }


@pytest.mark.parametrize("name", list(_grey_cases()))
def test_grey_round_trip(name: str) -> None:
    frames = _grey_cases()[name]
    gif = read_gif(encode_gif(frames, fps=25))
    t, h, w = frames.shape[:3]
    assert (gif.width, gif.height, len(gif.frames)) == (w, h, t)
    assert gif.delays == [4] * t and gif.loop == 0
    np.testing.assert_array_equal(gif.rgb(), np.repeat(frames.reshape(t, h, w, 1), 3, axis=3))


def test_rgb_with_few_colours_is_exact() -> None:
    rng = np.random.default_rng(1)
    colours = rng.integers(0, 32, (200, 3)).astype(np.uint8) * 8  # distinct 5-bit bins
    frames = colours[rng.integers(0, 200, (3, 30, 40))]
    gif = read_gif(encode_gif(frames, fps=10, loop=3))
    np.testing.assert_array_equal(gif.rgb(), frames)
    assert gif.delays == [10] * 3 and gif.loop == 3


def test_rgb_mouth_crop_is_close(grid_clip: Path) -> None:
    from lipread.config import get_preset
    from lipread.video.preprocess import mouth_crops
    from lipread.video.reader import read_frames

    crops = mouth_crops(read_frames(grid_clip, max_frames=10), get_preset("lipnet"))
    gif = read_gif(encode_gif(crops))
    error = np.abs(gif.rgb().astype(int) - crops).mean()
    assert error < 3.0, error


def test_write_gif(tmp_path: Path) -> None:
    frames = np.zeros((2, 4, 4), np.uint8)
    path = write_gif(tmp_path / "out" / "a.gif", frames, fps=50)
    assert path.read_bytes()[:6] == b"GIF89a"
    assert read_gif(path.read_bytes()).delays == [2, 2]


@pytest.mark.parametrize(
    "frames",
    [
        np.zeros((2, 4, 4, 2), np.uint8),
        np.zeros((2, 4, 4), np.float32),
        np.zeros((0, 4, 4), np.uint8),
        np.zeros(4, np.uint8),
    ],
    ids=["two-channels", "float", "no-frames", "1d"],
)
def test_bad_frames(frames: np.ndarray) -> None:
    with pytest.raises(ValueError, match="expected uint8 frames"):
        encode_gif(frames)


def test_a_gif_is_enlarged_frame_by_frame_and_plays_at_most_50_fps() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    small, large = read_gif(encode_gif(frames)), read_gif(encode_gif(frames, scale=3))
    assert (large.width, large.height) == (15, 12)
    np.testing.assert_array_equal(large.rgb(), small.rgb().repeat(3, axis=1).repeat(3, axis=2))
    assert read_gif(encode_gif(frames, fps=50)).delays == [2] * 3
    for fps in (51, 1000, 0):
        with pytest.raises(ValueError, match="a GIF plays at most 50 frames per second"):
            encode_gif(frames, fps=fps)
