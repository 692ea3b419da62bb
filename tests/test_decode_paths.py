"""The fast decoding paths give exactly what the plain ones give: ``read_frames`` decoding into one preallocated
array (and growing it), keeping only a box, and ``load_clip`` with a fixed crop converting colour in the box only."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lipread import video
from lipread.config import get_preset
from lipread.errors import VideoError
from lipread.mouth import GRID_BOX, Box, FixedCrop
from lipread.preprocess import load_clip, preprocess
from lipread.video import iter_frames, read_frames


def test_read_frames_equals_iterating(grid_clip: Path, mpg_clip: Path) -> None:
    for path in (grid_clip, mpg_clip):
        frames = list(iter_frames(path))
        assert not np.shares_memory(frames[0], frames[1])  # every frame is its own array
        np.testing.assert_array_equal(read_frames(path), np.stack(frames))


def test_buffer_that_must_grow(grid_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = read_frames(grid_clip)
    monkeypatch.setattr(video, "_BUFFER_BYTES", 3 * expected[0].nbytes)  # room for 3 frames at first
    np.testing.assert_array_equal(read_frames(grid_clip), expected)
    np.testing.assert_array_equal(read_frames(grid_clip, max_frames=7, start=2), expected[2:9])


def test_box(grid_clip: Path, mpg_clip: Path) -> None:
    for path in (grid_clip, mpg_clip):
        whole = read_frames(path)
        box = read_frames(path, box=GRID_BOX)
        assert box.shape == (75, 46, 140, 3) and box.flags.c_contiguous
        np.testing.assert_array_equal(box, whole[:, 190:236, 80:220])
        np.testing.assert_array_equal(
            read_frames(path, max_frames=5, start=70, box=Box(0, 10, 350, 360)), whole[70:, :10, 350:]
        )


def test_box_larger_than_the_frames(tmp_path: Path) -> None:
    path = tmp_path / "small.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (160, 120))
    for i in range(5):
        writer.write(np.full((120, 160, 3), 40 * i, np.uint8))
    writer.release()
    assert read_frames(path).shape == (5, 120, 160, 3)
    with pytest.raises(VideoError, match=r"small\.mp4: frames of 160x120 pixels are smaller than the box"):
        read_frames(path, box=GRID_BOX)
    with pytest.raises(VideoError, match=r"small\.mp4: frames of 160x120 pixels are smaller than the box"):
        load_clip(path, get_preset("lipnet-notebook"))


def test_fixed_crop_load_clip_equals_preprocessing_whole_frames(grid_root: Path) -> None:
    config = get_preset("lipnet-notebook")
    for path in (grid_root / "s1" / "bbaf2n.mp4", grid_root / "s1" / "lrae3s.mp4", grid_root / "mpg" / "bbaf2n.mpg"):
        expected = preprocess(read_frames(path), config, FixedCrop(), str(path))
        np.testing.assert_array_equal(load_clip(path, config), expected)
        # the lipnet preset with an explicit fixed crop (resized, RGB) takes the same path
        lipnet = get_preset("lipnet")
        expected = preprocess(read_frames(path), lipnet, FixedCrop(), str(path))
        np.testing.assert_array_equal(load_clip(path, lipnet, FixedCrop()), expected)
