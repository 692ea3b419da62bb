"""Animated GIF writing (GIF89a, LZW-compressed) with NumPy alone, for previews of what a model sees."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..weights import atomic_write

__all__ = ["encode_gif", "write_gif"]

_MIN_CODE_SIZE = 8  # 256 palette entries
_MAX_CODES = 4096  # 12-bit codes


def _palette(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``uint8 (T, H, W, C)`` -> (palette ``uint8 (256, 3)``, indices ``uint8 (T, H, W)``).

    Grey frames get the 256-level grey ramp (index = grey level). RGB frames get an adaptive palette:
    the 256 most frequent colours at 5 bits per channel (each the mean of its pixels), every pixel mapped
    to the nearest of them.
    """
    if frames.shape[-1] == 1:
        ramp = np.arange(256, dtype=np.uint8)
        return np.repeat(ramp[:, None], 3, axis=1), frames[..., 0]
    pixels = frames.reshape(-1, 3)
    q = (pixels >> 3).astype(np.int32)
    keys = (q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    means = np.stack([np.bincount(inverse, weights=pixels[:, c]) for c in range(3)], axis=1) / counts[:, None]
    chosen = means[np.argsort(-counts, kind="stable")[:256]].astype(np.float32)
    m = means.astype(np.float32)
    distance = (m**2).sum(1)[:, None] - 2 * m @ chosen.T + (chosen**2).sum(1)[None, :]
    nearest = distance.argmin(axis=1).astype(np.uint8)
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(chosen)] = np.clip(np.rint(chosen), 0, 255).astype(np.uint8)
    return palette, nearest[inverse].reshape(frames.shape[:3])


def _lzw(indices: bytes) -> bytes:
    """GIF LZW compression of 8-bit palette indices, as data sub-blocks (without the code-size byte).

    The code width follows the decoder's table exactly; a clear code restarts the table when it is full.
    """
    clear, end = 1 << _MIN_CODE_SIZE, (1 << _MIN_CODE_SIZE) + 1
    out = bytearray()
    buffer = nbits = 0
    size = _MIN_CODE_SIZE + 1
    table: dict[int, int] = {}
    next_code = end + 1  # the encoder's next free code
    avail, fresh = end + 1, True  # the decoder's next free code; whether its next code follows a clear

    def emit(code: int) -> None:
        nonlocal buffer, nbits, size, avail, fresh
        buffer |= code << nbits
        nbits += size
        while nbits >= 8:
            out.append(buffer & 0xFF)
            buffer >>= 8
            nbits -= 8
        if code == clear:
            size, avail, fresh = _MIN_CODE_SIZE + 1, end + 1, True
        elif fresh:
            fresh = False
        elif avail < _MAX_CODES:
            avail += 1
            if avail == 1 << size and size < 12:
                size += 1

    emit(clear)
    prefix = indices[0]
    for value in indices[1:]:
        key = prefix << 8 | value
        code = table.get(key)
        if code is not None:
            prefix = code
            continue
        emit(prefix)
        table[key] = next_code
        next_code += 1
        if next_code == _MAX_CODES:
            emit(clear)
            table.clear()
            next_code = end + 1
        prefix = value
    emit(prefix)
    emit(end)
    if nbits:
        out.append(buffer & 0xFF)
    blocks = bytearray()
    for i in range(0, len(out), 255):
        chunk = out[i : i + 255]
        blocks += bytes([len(chunk)]) + chunk
    return bytes(blocks + b"\x00")


def _u16(n: int) -> bytes:
    return int(n).to_bytes(2, "little")


def encode_gif(frames: np.ndarray, fps: float = 25.0, loop: int = 0, scale: int = 1) -> bytes:
    """An animated GIF of ``frames``.

    Args:
        frames: ``uint8 (T, H, W)`` or ``(T, H, W, 1)`` grey, or ``uint8 (T, H, W, 3)`` RGB; T >= 1,
            H and W (times ``scale``) at most 65535.
        fps: frames per second, at most 50 (GIF stores the delay in hundredths of a second, and players
            take a delay of one as ten).
        loop: how many times to play (0: forever).
        scale: each pixel shown as ``scale`` x ``scale`` pixels (the palette is made from the frames as
            given, so enlarging costs memory only for one frame at a time).

    Raises:
        ValueError: wrong shape or dtype.
    """
    if frames.ndim == 3:
        frames = frames[..., None]
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3) or frames.dtype != np.uint8 or frames.shape[0] == 0:
        raise ValueError(f"expected uint8 frames (T, H, W[, 1 or 3]), got {frames.dtype} {frames.shape}")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, not {scale!r}")
    if not 0 < fps <= 50:
        raise ValueError(f"a GIF plays at most 50 frames per second, not {fps!r}")
    h, w = frames.shape[1] * scale, frames.shape[2] * scale
    if not (0 < h < 65536 and 0 < w < 65536):
        raise ValueError(f"frames of {w}x{h} pixels cannot be stored in a GIF")
    palette, indices = _palette(frames)
    delay = max(2, round(100 / fps))
    data = bytearray(b"GIF89a" + _u16(w) + _u16(h) + bytes([0xF7, 0, 0]) + palette.tobytes())
    data += b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + _u16(loop) + b"\x00"
    for frame in indices:
        if scale > 1:
            frame = frame.repeat(scale, axis=0).repeat(scale, axis=1)
        data += b"\x21\xf9\x04\x04" + _u16(delay) + b"\x00\x00"
        data += b"\x2c" + _u16(0) + _u16(0) + _u16(w) + _u16(h) + b"\x00"
        data += bytes([_MIN_CODE_SIZE]) + _lzw(frame.tobytes())
    return bytes(data + b"\x3b")


def write_gif(
    path: str | os.PathLike[str], frames: np.ndarray, fps: float = 25.0, loop: int = 0, scale: int = 1
) -> Path:
    """Write :func:`encode_gif` of ``frames`` to ``path`` (atomically); returns the path."""
    atomic_write(path, encode_gif(frames, fps, loop, scale))
    return Path(path)
