"""Random changes to one clip's mouth crops for training: what LipNet used (mirror, frame drop and duplicate)
and what the small-data literature adds (time masking, jitter of the mouth box, colour jitter, greyscale).

Every function takes ``uint8 (T, H, W, C)`` crops (C = 3 for RGB, 1 for grey) and a NumPy generator, and draws
no random number when its option is off, so a run that does not use it is unchanged number for number. The
crops are those cached for training, already cut and resized to the model's input size; the changes are made
before the clip is standardised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "NO_AUGMENTATION",
    "Augmentation",
    "colour_jitter",
    "frame_jitter",
    "greyed",
    "mirror",
    "spatial_jitter",
    "time_mask",
]

FPS = 25.0
"""Frames per second of training clips: time masking places one window per second."""


def mirror(crops: np.ndarray, rng: np.random.Generator, enabled: bool = True) -> np.ndarray:
    """Flip the clip left-right with probability 0.5 (the mouth is nearly symmetric; a view from the other side)."""
    if enabled and rng.random() < 0.5:
        return crops[:, :, ::-1]
    return crops


def frame_jitter(crops: np.ndarray, rng: np.random.Generator, probability: float) -> tuple[np.ndarray, np.ndarray]:
    """Delete each frame with ``probability`` and (separately) duplicate it with ``probability``; at least one
    frame is kept. Returns the crops and ``int (T',)``: the source index of every output frame."""
    t = int(crops.shape[0])
    source = np.arange(t)
    if probability <= 0:
        return crops, source
    keep = rng.random(t) >= probability
    if not keep.any():
        keep[rng.integers(t)] = True
    repeats = keep.astype(np.int64) + (rng.random(t) < probability) * keep
    source = np.repeat(source, repeats)
    return crops[source], source


def time_mask(crops: np.ndarray, rng: np.random.Generator, max_frames: int, fps: float = FPS) -> np.ndarray:
    """Replace windows of frames by the clip's mean frame: one window per started second of the clip, each of
    0 to ``max_frames`` frames at a random place (windows may overlap). The model must then read a word from
    its context, as when a frame is blurred or the speaker turns away (the augmentation that matters most for
    word-level lip reading with little data)."""
    if max_frames <= 0:
        return crops
    t = int(crops.shape[0])
    out = crops.copy()
    mean = crops.mean(axis=0).round().astype(crops.dtype)
    for _ in range(max(1, math.ceil(t / fps))):
        width = int(rng.integers(0, max_frames + 1))
        start = int(rng.integers(0, max(1, t - width + 1)))
        out[start : start + width] = mean
    return out


def spatial_jitter(
    crops: np.ndarray, rng: np.random.Generator, shift: float = 0.0, scale: float = 0.0, rotation: float = 0.0
) -> np.ndarray:
    """Move the mouth box of the whole clip at random: a shift of up to ``shift`` of the crop's width and
    height, a zoom by a factor within ``1 +- scale``, a rotation of up to ``rotation`` degrees about the centre.
    Pixels from outside the crop repeat its edge. One draw per clip: the box moves, not the frames apart."""
    if shift <= 0 and scale <= 0 and rotation <= 0:
        return crops
    import cv2

    t, h, w, c = crops.shape
    offset = rng.uniform(-shift, shift, size=2) * (w, h) if shift > 0 else np.zeros(2)
    zoom = float(rng.uniform(1 - scale, 1 + scale)) if scale > 0 else 1.0
    angle = float(rng.uniform(-rotation, rotation)) if rotation > 0 else 0.0
    matrix = np.asarray(cv2.getRotationMatrix2D((w / 2, h / 2), angle, zoom), np.float64)
    matrix[:, 2] += offset
    out = np.empty_like(crops)
    for i in range(t):
        warped = cv2.warpAffine(crops[i], matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[i] = warped.reshape(h, w, c)
    return out


def colour_jitter(
    crops: np.ndarray, rng: np.random.Generator, strength: float = 0.0, greyscale: float = 0.0
) -> np.ndarray:
    """Change brightness, contrast and (RGB) saturation of the whole clip, each by a random factor within
    ``1 +- strength``, then with probability ``greyscale`` make an RGB clip grey (its luma in every channel),
    so that a grey or differently lit video is not new to the model."""
    if strength <= 0 and greyscale <= 0:
        return crops
    out = crops.astype(np.float32)
    if strength > 0:
        brightness, contrast, saturation = rng.uniform(1 - strength, 1 + strength, size=3)
        out *= brightness
        out = (out - out.mean()) * contrast + out.mean()
        if out.shape[-1] == 3:
            grey = _luma(out)
            out = (out - grey) * saturation + grey
    if greyscale > 0 and rng.random() < greyscale and out.shape[-1] == 3:
        out = np.repeat(_luma(out), 3, axis=-1)
    return np.clip(out, 0, 255).round().astype(crops.dtype)


def greyed(frames: np.ndarray) -> np.ndarray:
    """``uint8 (..., 3)`` RGB frames as a black-and-white video shows them: the BT.601 luma of each pixel,
    rounded, in all three channels (what ``greyscale`` makes of a clip in :func:`colour_jitter`)."""
    return np.repeat(np.clip(_luma(frames.astype(np.float32)).round(), 0, 255).astype(np.uint8), 3, axis=-1)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of ``float32 (..., 3)`` RGB, as ``(..., 1)`` (the weights OpenCV's RGB-to-grey uses)."""
    return (rgb @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]


@dataclass(frozen=True)
class Augmentation:
    """The augmentations of one training run (see the functions of this module for each).

    Attributes:
        mirror: random left-right flips.
        frame_jitter: per-frame probability of deletion, and of duplication.
        time_mask: most frames per masked window (one window per second); 0: off.
        shift, scale, rotation: mouth-box jitter: fraction of the crop size, relative zoom, degrees; 0: off.
        colour: brightness, contrast and saturation jitter, relative; 0: off.
        greyscale: probability of making an RGB clip grey.
    """

    mirror: bool = True
    frame_jitter: float = 0.05
    time_mask: int = 0
    shift: float = 0.0
    scale: float = 0.0
    rotation: float = 0.0
    colour: float = 0.0
    greyscale: float = 0.0

    def __call__(self, crops: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Augment one clip's ``uint8 (T, H, W, C)`` crops: mirror, box jitter, colour, frame jitter, time
        masking, in that order. Returns the new crops and ``int (T',)`` source frame indices (to carry per-frame
        data such as an emission mask through the deleted and duplicated frames)."""
        crops = mirror(crops, rng, self.mirror)
        crops = spatial_jitter(crops, rng, self.shift, self.scale, self.rotation)
        crops = colour_jitter(crops, rng, self.colour, self.greyscale)
        crops, source = frame_jitter(crops, rng, self.frame_jitter)
        crops = time_mask(crops, rng, self.time_mask)
        return np.ascontiguousarray(crops), source


NO_AUGMENTATION = Augmentation(mirror=False, frame_jitter=0.0)
"""Every augmentation off: clips are used as they are (validation, tests)."""
