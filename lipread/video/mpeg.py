"""MPEG program streams (GRID's original ``.mpg`` files), read just enough to tell what FFmpeg cannot: the frame
rate the video's sequence header states, and whether the file is cut off inside a packet.

Such files declare no frame count, so a truncated one cannot be told from a short one by counting frames; and
FFmpeg guesses their rate from packet times, which goes wrong when there are only one or two (a truncated GRID
clip of 25 fps reads as 50 fps). Both are read from the bytes instead.
"""

from __future__ import annotations

import mmap
import os
import struct

__all__ = ["MPEG_EXTENSIONS", "sequence_rate", "truncation"]

MPEG_EXTENSIONS = (".mpg", ".mpeg")
"""File extensions of MPEG program streams."""

_RATES = {1: 24000 / 1001, 2: 24.0, 3: 25.0, 4: 30000 / 1001, 5: 30.0, 6: 50.0, 7: 60000 / 1001, 8: 60.0}
"""MPEG-1/2 ``frame_rate_code`` -> frames per second (ISO/IEC 11172-2, 13818-2)."""

_SEQUENCE_HEADER = b"\x00\x00\x01\xb3"
_PACK = 0xBA
_PROGRAM_END = 0xB9
_HEAD_BYTES = 1 << 16


def sequence_rate(path: str | os.PathLike[str]) -> float | None:
    """The frame rate (frames per second) of the first MPEG-1/2 video sequence header in the file's first
    64 KiB, or None when there is none or its rate code is not a valid one."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError:
        return None
    at = head.find(_SEQUENCE_HEADER)
    if at < 0 or at + 8 > len(head):
        return None
    return _RATES.get(head[at + 7] & 0x0F)


def truncation(path: str | os.PathLike[str]) -> str | None:
    """Why an MPEG program stream is incomplete (its last pack or packet runs past the end of the file), or None
    when it ends whole or its layout is not one this reads (then nothing can be said).

    The file is walked from its start, pack header by pack header and packet by packet (each packet states
    its length in 16 bits): a few hundred steps for a GRID clip, without reading the payloads.
    """
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _walk(data, len(data))
    except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
        return None


def _walk(data: mmap.mmap, size: int) -> str | None:
    pos = 0
    while pos < size:
        if data[pos : pos + 3] != b"\x00\x00\x01":
            if size - pos < 3 and b"\x00\x00\x01".startswith(data[pos:size]):
                return _cut(pos, size, "start code")  # the file ends one or two bytes into the next start code
            return None  # padding after the last packet, or a layout this does not read: nothing to say
        if pos + 4 > size:
            return _cut(pos, size, "start code")
        code = data[pos + 3]
        if code == _PROGRAM_END:
            return None
        if code == _PACK:
            marker = data[pos + 4] if pos + 5 <= size else None
            if marker is None:
                return _cut(pos, size, "pack header")
            if marker >> 4 == 0b0010:  # MPEG-1 pack header: 12 bytes
                step = 12
            elif marker >> 6 == 0b01:  # MPEG-2: 14 bytes and up to 7 stuffing bytes
                if pos + 14 > size:
                    return _cut(pos, size, "pack header")
                step = 14 + (data[pos + 13] & 0x07)
            else:
                return None
            if pos + step > size:
                return _cut(pos, size, "pack header")
            pos += step
            continue
        if code < _PACK:  # a video start code outside a packet: not a program stream
            return None
        if pos + 6 > size:
            return _cut(pos, size, "packet header")
        (length,) = struct.unpack(">H", data[pos + 4 : pos + 6])
        if pos + 6 + length > size:
            return (
                f"the file is truncated (its last packet, at byte {pos}, needs {6 + length} bytes "
                f"and only {size - pos} remain)"
            )
        pos += 6 + length
    return None


def _cut(offset: int, size: int, what: str) -> str:
    return f"the file is truncated (it ends inside a {what}, at byte {offset} of {size})"
