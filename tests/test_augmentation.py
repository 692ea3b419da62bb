"""Training augmentations of mouth crops (lipread.data.augmentation), on a real GRID clip's crops."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipread.cli import build_parser
from lipread.cli import train as train_command
from lipread.config import get_preset
from lipread.data.augmentation import (
    Augmentation,
    colour_jitter,
    frame_jitter,
    greyed,
    spatial_jitter,
    time_mask,
)
from lipread.data.training import TrainOptions
from lipread.errors import DataError
from lipread.video.preprocess import mouth_crops
from lipread.video.reader import read_frames


@pytest.fixture(scope="module")
def crops(grid_clip: Path) -> np.ndarray:
    """The ``lipnet`` preset's ``uint8 (75, 50, 100, 3)`` crops of one GRID clip, as training caches them."""
    return mouth_crops(read_frames(grid_clip), get_preset("lipnet"))


class Fixed:
    """A stand-in for a NumPy generator whose ``uniform`` draws are given (the other draws are real)."""

    def __init__(self, *uniform: float) -> None:
        self.values = list(uniform)
        self.rng = np.random.default_rng(0)

    def uniform(self, low: float, high: float, size: int | None = None) -> np.ndarray | float:
        n = 1 if size is None else size
        out, self.values = self.values[:n], self.values[n:]
        return np.array(out) if size is not None else out[0]

    def random(self) -> float:
        return float(self.rng.random())


def state(rng: np.random.Generator) -> object:
    return rng.bit_generator.state


def test_options_off_change_nothing_and_draw_nothing(crops: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    before = state(rng)
    out, source = Augmentation(mirror=False, frame_jitter=0.0)(crops, rng)
    assert np.array_equal(out, crops) and np.array_equal(source, np.arange(len(crops)))
    assert state(rng) == before


def test_lipnets_augmentation_is_unchanged_when_the_new_ones_are_off(crops: np.ndarray) -> None:
    """Mirror then frame jitter, with the same draws as before the new augmentations existed."""
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    out, source = Augmentation(mirror=True, frame_jitter=0.1)(crops, a)
    flipped = crops[:, :, ::-1] if b.random() < 0.5 else crops
    expected, expected_source = frame_jitter(flipped, b, 0.1)
    assert np.array_equal(out, expected) and np.array_equal(source, expected_source)
    assert state(a) == state(b)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), width=st.integers(1, 20), frames=st.integers(1, 120))
def test_time_mask_windows(seed: int, width: int, frames: int) -> None:
    """Masked frames are the clip's mean frame, in at most one window per started second, each no wider than
    asked; every other frame is untouched."""
    rng = np.random.default_rng(seed)
    clip = rng.integers(0, 256, size=(frames, 4, 6, 3), dtype=np.uint8)
    out = time_mask(clip, np.random.default_rng(seed + 1), width)
    mean = clip.mean(axis=0).round().astype(np.uint8)
    changed = np.flatnonzero((out != clip).any(axis=(1, 2, 3)))
    assert all(np.array_equal(out[i], mean) for i in changed)
    assert len(changed) <= width * -(-frames // 25)
    untouched = np.setdiff1d(np.arange(frames), changed)
    assert np.array_equal(out[untouched], clip[untouched])


def test_time_mask_masks_about_what_it_says(crops: np.ndarray) -> None:
    masked = [
        int((time_mask(crops, np.random.default_rng(s), 10) != crops).any(axis=(1, 2, 3)).sum()) for s in range(200)
    ]
    # Three windows (75 frames) of 0-10 frames each, overlapping sometimes: about 15 frames on average.
    assert 10 <= np.mean(masked) <= 15 and max(masked) <= 30


def test_spatial_shift_moves_the_box(crops: np.ndarray) -> None:
    """A shift of a tenth of the width (10 pixels) and a twentieth of the height (2.5: rounded by bilinear
    sampling) is a translation with the edges repeated."""
    out = spatial_jitter(crops, Fixed(0.1, 0.0), shift=0.2)  # type: ignore[arg-type]
    assert np.array_equal(out[:, :, 10:], crops[:, :, :-10])
    assert np.array_equal(out[:, :, :10], np.repeat(crops[:, :, :1], 10, axis=2))


def test_spatial_zoom_and_rotation_keep_the_centre(crops: np.ndarray) -> None:
    """Zoom and rotation are about the crop's centre: a flat image stays flat, and the central pixel moves
    by less than a pixel's worth of value."""
    flat = np.full((3, 50, 100, 3), 90, np.uint8)
    assert np.array_equal(spatial_jitter(flat, np.random.default_rng(0), 0.0, 0.2, 10.0), flat)
    zoomed = spatial_jitter(crops, Fixed(1.15, 5.0), scale=0.2, rotation=10.0)  # type: ignore[arg-type]
    matrix = cv2.getRotationMatrix2D((50, 25), 5.0, 1.15)
    expected = cv2.warpAffine(crops[0], matrix, (100, 50), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(zoomed[0], expected) and zoomed.shape == crops.shape
    assert not np.array_equal(zoomed, crops)


def test_spatial_jitter_of_grey_crops_keeps_the_channel_axis() -> None:
    grey = np.random.default_rng(0).integers(0, 256, (5, 46, 140, 1), dtype=np.uint8)
    out = spatial_jitter(grey, np.random.default_rng(1), shift=0.1, rotation=5.0)
    assert out.shape == grey.shape and out.dtype == np.uint8


def test_greyscale_is_the_luma_in_every_channel(crops: np.ndarray) -> None:
    out = colour_jitter(crops, np.random.default_rng(0), greyscale=1.0)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])
    reference = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in crops])
    assert np.abs(out[..., 0].astype(int) - reference).max() <= 1
    assert np.array_equal(greyed(crops), out)  # a black-and-white video, as the tools make one, is what training saw


def test_colour_jitter_changes_brightness_within_its_strength(crops: np.ndarray) -> None:
    brighter = colour_jitter(crops, Fixed(1.2, 1.0, 1.0), strength=0.3)  # type: ignore[arg-type]
    ratio = brighter.astype(float).mean() / crops.astype(float).mean()
    assert 1.1 < ratio <= 1.2 + 1e-3  # less where bright pixels clip at 255
    same = colour_jitter(crops, Fixed(1.0, 1.0, 1.0), strength=0.3)  # type: ignore[arg-type]
    assert np.abs(same.astype(int) - crops).max() <= 1


def test_every_augmentation_keeps_shape_and_type(crops: np.ndarray) -> None:
    everything = Augmentation(True, 0.05, 8, 0.05, 0.1, 5.0, 0.3, 0.2)
    out, source = everything(crops, np.random.default_rng(3))
    assert out.dtype == np.uint8 and out.shape[1:] == crops.shape[1:] and len(out) == len(source)
    assert out.flags.c_contiguous


def test_train_options_choose_the_augmentations() -> None:
    parser = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    argv = ["data", "-o", "run", "--time-mask", "8", "--shift", "0.05", "--scale", "0.1", "--rotation", "5"]
    options = train_command.options_from_args(parser.parse_args([*argv, "--colour", "0.2", "--greyscale", "0.3"]))
    assert options.augmentation == Augmentation(True, 0.05, 8, 0.05, 0.1, 5.0, 0.2, 0.3)
    assert train_command.options_from_args(parser.parse_args(["d", "-o", "o"])).augmentation == Augmentation()
    for bad in ({"shift": 1.5}, {"greyscale": -0.1}, {"rotation": 90.0}, {"time_mask": -1}, {"colour": 1.0}):
        with pytest.raises(DataError, match=next(iter(bad))):
            TrainOptions(Path("d"), Path("o"), **bad)  # type: ignore[arg-type]
