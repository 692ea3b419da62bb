"""Frames -> model input: mouth crop, resize, colour, per-clip standardisation.

The work is split in two so training can cache the expensive part: :func:`mouth_crops` gives the
``uint8`` crops a model of a given config sees, :func:`normalise` turns them into ``float32`` input.
"""

from __future__ import annotations

import os

import numpy as np

from ..config import ModelConfig
from ..errors import VideoError
from .mouth import AlignedMouthLocator, Box, FaceMouthLocator, FixedCrop, MouthLocator, Warp

__all__ = [
    "decodes_grey",
    "default_locator",
    "load_clip",
    "load_crops",
    "mouth_crops",
    "normalise",
    "preprocess",
    "rgb_to_grey",
]

# ITU-R BT.601 luma weights, as tf.image.rgb_to_grayscale uses them.
_LUMA = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)


def rgb_to_grey(frames: np.ndarray) -> np.ndarray:
    """``uint8 (..., 3)`` RGB -> ``uint8 (..., 1)`` grey, exactly as ``tf.image.rgb_to_grayscale`` on uint8.

    TensorFlow scales to [0, 1], takes the BT.601 weighted sum in float32, and converts back by
    multiplying by 255.5 and truncating; this does the same.
    """
    f = frames.astype(np.float32)
    f *= np.float32(1.0 / 255.0)  # in place: fresh temporaries cost more than the arithmetic
    lum = f @ _LUMA
    lum *= np.float32(255.5)
    return np.floor(lum, out=lum).astype(np.uint8)[..., None]


def default_locator(config: ModelConfig) -> MouthLocator:
    """The mouth locator a model of ``config`` expects by default.

    The ``lipnet`` crop finds the face in each clip (:class:`FaceMouthLocator`), so any speaker works; the
    ``aligned`` crop also brings the face to a mean face by its landmarks (:class:`AlignedMouthLocator`); the
    LipNet notebook's ``notebook`` crop is its fixed GRID speaker-1 box (:class:`FixedCrop`).
    """
    if config.crop == "notebook":
        return FixedCrop()
    return AlignedMouthLocator() if config.crop == "aligned" else FaceMouthLocator()


def decodes_grey(config: ModelConfig, locator: MouthLocator | None = None) -> bool:
    """Whether videos for ``config`` are decoded straight to grey (``read_frames(..., grey=True)``).

    True for a grey model (``channels == 1``) whose mouth box is fixed (:class:`FixedCrop`, the
    ``lipnet-notebook`` preset's default): nothing needs colour, so the video's luma plane is read as it is.
    A face locator needs colour, so its frames are decoded to RGB and converted with :func:`rgb_to_grey`.
    """
    return config.channels == 1 and type(locator or default_locator(config)) is FixedCrop


def mouth_crops(
    frames: np.ndarray, config: ModelConfig, locator: MouthLocator | None = None, source: str = "<frames>"
) -> np.ndarray:
    """Crop the mouth from every frame and bring it to the model's size and colour.

    Args:
        frames: ``uint8 (T, H, W, 3)`` RGB, or ``(T, H, W, 1)`` grey for a grey model (as
            ``read_frames(..., grey=True)`` decodes them, see :func:`decodes_grey`).
        config: the model configuration (its ``crop``, ``height``, ``width``, ``channels``).
        locator: where the mouth is; :func:`default_locator` when None.

    Returns:
        ``uint8 (T, config.height, config.width, config.channels)``.

    Raises:
        VideoError: the frames are not ``(T, H, W, 3)`` (or, for a grey model, ``(T, H, W, 1)``) uint8, or the
            mouth cannot be located.
    """
    import cv2

    channels = (3, 1) if config.channels == 1 else (3,)
    if frames.ndim != 4 or frames.shape[-1] not in channels or frames.dtype != np.uint8 or frames.size == 0:
        shape = " or (T, H, W, 1)" if config.channels == 1 else ""
        raise VideoError(
            f"{source}: expected uint8 frames of shape (T, H, W, 3){shape}, got {frames.dtype} {frames.shape}"
        )
    region = (locator or default_locator(config)).locate(frames, source)
    if isinstance(region, Warp):
        crop = np.empty((frames.shape[0], region.height, region.width, frames.shape[-1]), np.uint8)
        for t, frame in enumerate(frames):
            size = (region.width, region.height)
            warped = cv2.warpAffine(frame, region.matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            crop[t] = warped.reshape(crop.shape[1:])
    else:
        crop = frames[:, region.top : region.bottom, region.left : region.right]
    if config.channels == 1:
        crop = crop if crop.shape[-1] == 1 else rgb_to_grey(crop)
    elif config.channels != 3:
        raise ValueError(f"model config {config.name!r}: channels must be 1 or 3, not {config.channels}")
    if crop.shape[1:3] == (config.height, config.width):
        return np.ascontiguousarray(crop)
    out = np.empty((crop.shape[0], config.height, config.width, config.channels), np.uint8)
    for t, img in enumerate(crop):
        r = cv2.resize(img, (config.width, config.height), interpolation=cv2.INTER_AREA)
        out[t] = r.reshape(out.shape[1:])
    return out


def normalise(crops: np.ndarray) -> np.ndarray:
    """``uint8 (T, H, W, C)`` -> ``float32`` standardised over the whole clip: ``(x - mean) / std``.

    A clip with no variation (all one grey) gives all zeros instead of dividing by zero.
    """
    mean, std = _moments(crops)
    x = np.subtract(crops, np.float32(mean), dtype=np.float32)
    if std > 1e-6:
        x *= np.float32(1.0 / std)
    return x


def _moments(crops: np.ndarray) -> tuple[float, float]:
    """The mean and standard deviation of all of ``crops``' values (0 and 0 when there are none).

    For ``uint8`` crops both come from the exact sums of the values and of their squares (integers, summed in
    uint64: exact for a clip of up to 10**14 values), in less time than NumPy's mean and standard deviation in
    float64, which subtract the mean from a float64 copy of the clip first.
    """
    if crops.size == 0:
        return 0.0, 0.0
    if crops.dtype != np.uint8:
        x = np.asarray(crops, np.float32)
        return float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64))
    values = crops.reshape(-1)
    # integer sums, exact; not a float64 dot product: that runs in the BLAS library, whose threads then spin
    # for a while on every core and slow the model that runs next to half its speed (255**2 fits uint16)
    total = int(values.sum(dtype=np.uint64))
    squares = int(np.square(values, dtype=np.uint16).sum(dtype=np.uint64))
    n = values.size
    return total / n, ((n * squares - total * total) / (n * n)) ** 0.5


def preprocess(
    frames: np.ndarray, config: ModelConfig, locator: MouthLocator | None = None, source: str = "<frames>"
) -> np.ndarray:
    """Frames ``uint8 (T, H, W, 3)`` RGB -> model input ``float32 (T, config.height, config.width, C)``."""
    return normalise(mouth_crops(frames, config, locator, source))


def load_crops(
    path: str | os.PathLike[str],
    config: ModelConfig,
    locator: MouthLocator | None = None,
    start: int = 0,
    max_frames: int | None = None,
) -> np.ndarray:
    """Decode a video (or a frame folder) and crop its mouth for ``config``: ``uint8 (T, config.height,
    config.width, C)``; ``start`` and ``max_frames`` cut a clip out of it, as :func:`~lipread.video.reader.read_frames`.

    The result is ``mouth_crops(read_frames(path, grey=decodes_grey(config, locator)), config, locator)``.
    With a :class:`FixedCrop` only its box is kept while decoding, which is faster.

    Raises:
        VideoError: the video cannot be decoded or its mouth cannot be located.
    """
    from .reader import read_frames

    source = str(path)
    locator = locator or default_locator(config)
    grey = decodes_grey(config, locator)
    if type(locator) is FixedCrop:
        box = locator.box
        inside = FixedCrop(Box(0, box.height, 0, box.width), locator.name)
        frames = read_frames(path, max_frames, start, box=box, grey=grey)
        return mouth_crops(frames, config, inside, source)
    return mouth_crops(read_frames(path, max_frames, start, grey=grey), config, locator, source)


def load_clip(path: str | os.PathLike[str], config: ModelConfig, locator: MouthLocator | None = None) -> np.ndarray:
    """Decode a video and preprocess it for ``config``: ``float32 (T, H, W, C)``. Raises VideoError.

    The result is ``normalise(load_crops(path, config, locator))``: what training, ``lipread eval`` and
    ``transcribe`` feed the model for a video file.
    """
    return normalise(load_crops(path, config, locator))
