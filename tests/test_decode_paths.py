"""The fast decoding paths give exactly what the plain ones give: ``read_frames`` decoding into one preallocated
array (and growing it), keeping only a box, ``load_clip`` with a fixed crop converting colour in the box only,
and grey decoding (the luma plane, or grey converted from colour when the plane is not available)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lipread.config import get_preset
from lipread.errors import VideoError
from lipread.video import reader as video
from lipread.video.mouth import GRID_BOX, Box, FixedCrop
from lipread.video.preprocess import load_clip, preprocess
from lipread.video.reader import iter_frames, read_frames


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
        expected = preprocess(read_frames(path, grey=True), config, FixedCrop(), str(path))
        np.testing.assert_array_equal(load_clip(path, config), expected)
        # the lipnet preset with an explicit fixed crop (resized, RGB) takes the same path
        lipnet = get_preset("lipnet")
        expected = preprocess(read_frames(path), lipnet, FixedCrop(), str(path))
        np.testing.assert_array_equal(load_clip(path, lipnet, FixedCrop()), expected)


def test_grey_paths_agree(grid_clip: Path, mpg_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in (grid_clip, mpg_clip):
        grey = read_frames(path, grey=True)
        assert grey.shape == (75, 288, 360, 1) and grey.dtype == np.uint8
        np.testing.assert_array_equal(np.stack(list(iter_frames(path, grey=True))), grey)
        np.testing.assert_array_equal(read_frames(path, box=GRID_BOX, grey=True), grey[:, 190:236, 80:220])
        np.testing.assert_array_equal(read_frames(path, max_frames=7, start=2, grey=True), grey[2:9])
        with monkeypatch.context() as m:
            m.setattr(video, "_BUFFER_BYTES", 3 * grey[0].nbytes)
            np.testing.assert_array_equal(read_frames(path, grey=True), grey)


def test_luma_plane_is_the_grey_of_the_colours(grid_clip: Path, mpg_clip: Path) -> None:
    """The plane and the decoded colours' grey are the same picture up to the codec's range: an affine map
    with slope 255/219 (16-235 stretched to 0-255), a grey level or so apart after it."""
    for path in (grid_clip, mpg_clip):
        luma = read_frames(path, box=GRID_BOX, grey=True).astype(np.float64).ravel()
        rgb = read_frames(path, box=GRID_BOX)
        grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb]).astype(np.float64).ravel()
        slope, intercept = np.polyfit(luma, grey, 1)
        assert slope == pytest.approx(255 / 219, abs=0.02) and intercept == pytest.approx(-16 * 255 / 219, abs=3)
        assert np.abs(slope * luma + intercept - grey).mean() < 1.0


def test_grey_without_the_luma_plane(grid_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pixel format whose first plane is not luma, or an OpenCV that converts to BGR anyway: grey is then
    converted from the decoded colours (OpenCV's BT.601 grey), on every path."""
    rgb = read_frames(grid_clip)
    expected = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb])[..., None]
    assert np.abs(expected.astype(int) - read_frames(grid_clip, grey=True)).mean() > 1  # not the plane
    for patch in ("formats", "ignored"):
        with monkeypatch.context() as m:
            if patch == "formats":
                m.setattr(video, "LUMA_FORMATS", frozenset())
            else:
                m.setattr(video, "_luma_plane", lambda cap: True)  # asked for, but BGR comes back
            np.testing.assert_array_equal(read_frames(grid_clip, grey=True), expected)
            np.testing.assert_array_equal(read_frames(grid_clip, box=GRID_BOX, grey=True), expected[:, 190:236, 80:220])
            np.testing.assert_array_equal(np.stack(list(iter_frames(grid_clip, grey=True))), expected)


def test_small_videos_decode_on_one_thread(tmp_path: Path, grid_clip: Path) -> None:
    """GRID-sized frames: one decoding thread (faster for them); larger frames: FFmpeg's own choice."""
    big = tmp_path / "big.mp4"
    writer = cv2.VideoWriter(str(big), cv2.VideoWriter_fourcc(*"mp4v"), 25, (640, 480))
    for i in range(3):
        writer.write(np.full((480, 640, 3), 60 * i, np.uint8))
    writer.release()
    for path, one in ((grid_clip, True), (big, False)):
        cap = video._open(path)
        try:
            assert (cap.get(cv2.CAP_PROP_N_THREADS) == 1) == one, path
        finally:
            cap.release()
    assert read_frames(big).shape == (3, 480, 640, 3)
