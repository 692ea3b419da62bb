"""Give the frames of an MP4 file other presentation times, to make a video with a variable frame rate."""

from __future__ import annotations

import struct

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}
_DURATION_AT = {b"mvhd": 24, b"tkhd": 28, b"mdhd": 24, b"elst": 16}
"""Where each (version 0) box's duration lies, in bytes from the box's start."""


def retime(data: bytes, ticks: list[int]) -> bytes:
    """An MP4 file as OpenCV writes it (version-0 boxes, one video track, the movie box after the media data),
    its frames lasting ``ticks`` of the track's time scale each: the ``stts`` box rewritten, the boxes that hold
    it grown to match, and every duration scaled by the new total over the old."""
    found: dict[bytes, int] = {}
    holders: list[int] = []

    def walk(start: int, end: int, path: list[int]) -> None:
        i = start
        while i < end:
            size, kind = struct.unpack(">I4s", data[i : i + 8])
            found.setdefault(kind, i)
            if kind == b"stts":
                holders.extend(path)
            if kind in _CONTAINERS:
                walk(i + 8, i + size, [*path, i])
            i += size

    walk(0, len(data), [])
    at = found[b"stts"]
    (size,) = struct.unpack(">I", data[at : at + 4])
    (entries,) = struct.unpack(">I", data[at + 12 : at + 16])
    runs = [struct.unpack(">II", data[at + 16 + 8 * k : at + 24 + 8 * k]) for k in range(entries)]
    assert sum(count for count, _ in runs) == len(ticks), "one duration per frame"
    old = sum(count * tick for count, tick in runs)
    new: list[list[int]] = []
    for tick in ticks:
        if new and new[-1][1] == tick:
            new[-1][0] += 1
        else:
            new.append([1, tick])
    box = struct.pack(">I4sII", 16 + 8 * len(new), b"stts", 0, len(new))
    box += b"".join(struct.pack(">II", count, tick) for count, tick in new)
    grow = len(box) - size
    out = bytearray(data[:at] + box + data[at + size :])
    for p in holders:
        struct.pack_into(">I", out, p, struct.unpack(">I", out[p : p + 4])[0] + grow)
    for kind, offset in _DURATION_AT.items():
        if kind in found:
            p = found[kind] + offset + (grow if found[kind] > at else 0)
            (value,) = struct.unpack(">I", out[p : p + 4])
            struct.pack_into(">I", out, p, round(value * sum(ticks) / old))
    return bytes(out)


def time_scale(data: bytes) -> int:
    """The time scale (ticks per second) of the file's track: its ``mdhd`` box's."""
    at = data.index(b"mdhd") - 4
    return int(struct.unpack(">I", data[at + 20 : at + 24])[0])
