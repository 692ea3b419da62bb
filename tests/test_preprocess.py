"""Mouth crop and preprocessing, checked against the LipNet notebook's ``load_video`` written out in NumPy."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lipread.config import get_preset
from lipread.errors import VideoError
from lipread.video.mouth import GRID_BOX, Box, FixedCrop
from lipread.video.preprocess import (
    decodes_grey,
    load_clip,
    load_crops,
    mouth_crops,
    normalise,
    preprocess,
    rgb_to_grey,
)
from lipread.video.reader import read_frames

CLIPS = ["bbaf2n", "bris5a", "lgbm4p", "pbap1a", "prwq3s", "sgbxzp"]


def notebook_load_video(frames: np.ndarray) -> np.ndarray:
    """The LipNet notebook's ``load_video``, from its formulas: ``tf.image.rgb_to_grayscale`` on uint8 RGB
    (scale to [0, 1] in float32, BT.601 weights, times 255.5, truncate), rows 190:236, cols 80:220, then
    ``(x - mean) / std`` over the whole clip."""
    x = frames.astype(np.float32) * np.float32(1 / 255)
    w = np.array([0.2989, 0.5870, 0.1140], np.float32)
    luma = x[..., 0] * w[0] + x[..., 1] * w[1] + x[..., 2] * w[2]
    grey = (luma * np.float32(255.5)).astype(np.uint8)[..., None]
    crop = grey[:, 190:236, 80:220].astype(np.float64)
    return ((crop - crop.mean()) / crop.std()).astype(np.float32)


def test_notebook_preset_reproduces_load_video(grid_root: Path) -> None:
    """RGB frames in memory: the notebook's formulas to within 1e-3."""
    config = get_preset("lipnet-notebook")
    for name in CLIPS:
        frames = read_frames(grid_root / "s1" / f"{name}.mp4")
        ours = preprocess(frames, config)
        reference = notebook_load_video(frames)
        assert ours.dtype == np.float32
        assert ours.shape == reference.shape == (75, 46, 140, 1)
        assert np.abs(ours - reference).max() <= 1e-3, name


def test_notebook_preset_reads_the_luma_plane(grid_root: Path) -> None:
    """From a file, the grey preset standardises the video's own luma plane: a few grey levels from the
    notebook's grey of the decoded colours: after standardisation at most 0.104 and 0.013 on average over
    30 speaker-1 clips."""
    config = get_preset("lipnet-notebook")
    assert decodes_grey(config) and not decodes_grey(get_preset("lipnet"))
    for name in CLIPS:
        path = grid_root / "s1" / f"{name}.mp4"
        ours = load_clip(path, config)
        luma = read_frames(path, grey=True)[:, 190:236, 80:220]
        np.testing.assert_array_equal(ours, normalise(luma))
        np.testing.assert_array_equal(load_crops(path, config), luma)
        difference = np.abs(ours - notebook_load_video(read_frames(path)))
        assert difference.max() <= 0.15 and difference.mean() <= 0.02, name


@pytest.mark.tensorflow
def test_grey_matches_tensorflow(grid_clip: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    frames = read_frames(grid_clip)
    expected = tf.image.rgb_to_grayscale(tf.constant(frames)).numpy()
    np.testing.assert_array_equal(rgb_to_grey(frames), expected)


def test_lipnet_preset(grid_clip: Path) -> None:
    config = get_preset("lipnet")
    frames = read_frames(grid_clip)
    crops = mouth_crops(frames, config, FixedCrop())
    assert crops.dtype == np.uint8 and crops.shape == (75, 50, 100, 3)
    # the fixed crop is the GRID box, resized: its mean colour is the box's mean colour
    box = frames[:, 190:236, 80:220].reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(crops.reshape(-1, 3).mean(axis=0), box, atol=1.0)
    x = preprocess(frames, config)
    assert x.dtype == np.float32 and x.shape == (75, 50, 100, 3)
    assert abs(float(x.mean())) < 1e-4 and float(x.std()) == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_array_equal(x, load_clip(grid_clip, config))


def test_normalise() -> None:
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (5, 4, 6, 3), dtype=np.uint8)
    x = normalise(crops)
    expected = (crops - crops.mean()) / crops.std()
    np.testing.assert_allclose(x, expected, atol=1e-5)
    flat = normalise(np.full((3, 4, 4, 1), 128, np.uint8))
    assert flat.dtype == np.float32 and not flat.any()


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(np.uint8, hnp.array_shapes(min_dims=4, max_dims=4, max_side=6)),
    st.sampled_from([np.uint8, np.float32]),
)
def test_normalise_standardises_with_the_exact_mean_and_deviation(crops: np.ndarray, dtype: type) -> None:
    values = [int(v) for v in crops.reshape(-1)]
    n = len(values)
    mean = Fraction(sum(values), n)
    var = Fraction(sum(v * v for v in values), n) - mean * mean
    got = normalise(crops.astype(dtype))
    expected = np.asarray(values, np.float32) - np.float32(mean)
    if float(var) ** 0.5 > 1e-6:
        expected *= np.float32(1 / float(var) ** 0.5)
    # uint8 crops: exactly; any other type: NumPy's float64 mean and deviation, to within their rounding
    tolerance = 0 if dtype is np.uint8 else 1e-6
    np.testing.assert_allclose(got.reshape(-1), expected, rtol=tolerance, atol=tolerance)


OTHER_THREADS_CPU = """
import os, threading, time
from pathlib import Path
import numpy as np
from lipread.video.preprocess import normalise

def other_threads_cpu() -> float:
    ticks = 0
    for task in Path("/proc/self/task").iterdir():
        if int(task.name) != threading.get_native_id():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the thread has ended
                continue
            ticks += int(fields[11]) + int(fields[12])  # user and system time
    return ticks / os.sysconf("SC_CLK_TCK")

crops = np.random.default_rng(0).integers(0, 256, (75, 50, 100, 3), dtype=np.uint8)
normalise(crops)
time.sleep(0.5)  # threads that NumPy's import started may spin for a while before they sleep
before = other_threads_cpu()
for _ in range(20):
    normalise(crops)
    time.sleep(0.03)
print(other_threads_cpu() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the threads' CPU times from Linux's /proc")
def test_normalise_sets_no_other_thread_to_work() -> None:
    """Standardising a clip runs on the calling thread alone. A float64 dot product would run in the BLAS library,
    whose threads go on spinning on every core for a while after it: the model that read the clip next ran at
    half its speed on two cores, and training (which standardises every clip of a batch) a third slower.
    Measured in a fresh interpreter: the CPU time of every other thread over 20 clips (about 0.6 s with the dot
    product on two cores, none without it)."""
    out = subprocess.run([sys.executable, "-c", OTHER_THREADS_CPU], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 0.15


def test_normalise_of_a_grid_sized_clip_matches_numpy_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        crops = rng.integers(0, 256, (75, 50, 100, 3), dtype=np.uint8)
        x = crops.astype(np.float32)
        expected = (x - np.float32(x.mean(dtype=np.float64))) * np.float32(1 / x.std(dtype=np.float64))
        np.testing.assert_array_equal(normalise(crops), expected)


def test_fixed_crop() -> None:
    frames = np.zeros((2, 288, 360, 3), np.uint8)
    assert FixedCrop().locate(frames) == GRID_BOX == Box(190, 236, 80, 220)
    assert (GRID_BOX.height, GRID_BOX.width) == (46, 140)
    assert GRID_BOX.contains(80, 190) and not GRID_BOX.contains(220, 200)
    with pytest.raises(VideoError, match=r"small\.mp4: frames of 160x120 pixels are smaller"):
        FixedCrop().locate(np.zeros((2, 120, 160, 3), np.uint8), source="small.mp4")


@pytest.mark.parametrize(
    "frames",
    [np.zeros((2, 288, 360), np.uint8), np.zeros((2, 288, 360, 3), np.float32), np.zeros((0, 288, 360, 3), np.uint8)],
    ids=["no-channels", "float", "no-frames"],
)
def test_mouth_crops_rejects_bad_frames(frames: np.ndarray) -> None:
    with pytest.raises(VideoError, match=r"clip\.mp4: expected uint8 frames"):
        mouth_crops(frames, get_preset("lipnet"), source="clip.mp4")
