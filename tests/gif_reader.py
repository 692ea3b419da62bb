"""A small GIF decoder for the tests, written independently of :mod:`lipread.video.gif` (which only writes)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Gif:
    width: int
    height: int
    palette: np.ndarray  # uint8 (N, 3)
    frames: list[np.ndarray] = field(default_factory=list)  # palette indices, uint8 (H, W) each
    delays: list[int] = field(default_factory=list)  # hundredths of a second
    loop: int | None = None

    def rgb(self) -> np.ndarray:
        """``uint8 (T, H, W, 3)``."""
        return self.palette[np.stack(self.frames)]


def _sub_blocks(data: bytes, pos: int) -> tuple[list[bytes], int]:
    blocks = []
    while data[pos]:
        n = data[pos]
        blocks.append(data[pos + 1 : pos + 1 + n])
        pos += 1 + n
    return blocks, pos + 1


def _lzw_decode(data: bytes, min_size: int, pixels: int) -> bytes:
    clear, end = 1 << min_size, (1 << min_size) + 1
    table: list[bytes] = []
    size = min_size + 1
    previous: bytes | None = None
    out = bytearray()
    bits = nbits = pos = 0
    while True:
        while nbits < size:
            if pos >= len(data):
                raise ValueError("LZW data ends without an end code")
            bits |= data[pos] << nbits
            nbits += 8
            pos += 1
        code = bits & ((1 << size) - 1)
        bits >>= size
        nbits -= size
        if code == clear:
            table = [bytes([i]) for i in range(clear)] + [b"", b""]
            size, previous = min_size + 1, None
            continue
        if code == end:
            break
        if previous is None:
            entry = table[code]
        else:
            if code < len(table):
                entry = table[code]
            elif code == len(table):
                entry = previous + previous[:1]
            else:
                raise ValueError(f"LZW code {code} is beyond the table ({len(table)} entries)")
            if len(table) < 4096:
                table.append(previous + entry[:1])
                if len(table) == 1 << size and size < 12:
                    size += 1
        out += entry
        previous = entry
    if len(out) != pixels:
        raise ValueError(f"image holds {len(out)} pixels, expected {pixels}")
    return bytes(out)


def read_gif(data: bytes) -> Gif:
    """Parse every block of a GIF file and decode every image (no local palettes, no interlacing)."""
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("not a GIF file")
    width, height, packed = struct.unpack("<HHB", data[6:11])
    pos = 13
    if not packed & 0x80:
        raise ValueError("no global colour table")
    n = 2 << (packed & 7)
    gif = Gif(width, height, np.frombuffer(data[pos : pos + 3 * n], np.uint8).reshape(n, 3))
    pos += 3 * n
    while True:
        kind = data[pos]
        pos += 1
        if kind == 0x3B:
            if pos != len(data):
                raise ValueError("data after the trailer")
            return gif
        if kind == 0x21:
            label = data[pos]
            blocks, pos = _sub_blocks(data, pos + 1)
            if label == 0xF9:
                gif.delays.append(struct.unpack("<H", blocks[0][1:3])[0])
            elif label == 0xFF and blocks[0] == b"NETSCAPE2.0":
                gif.loop = struct.unpack("<H", blocks[1][1:3])[0]
        elif kind == 0x2C:
            x, y, w, h, flags = struct.unpack("<HHHHB", data[pos : pos + 9])
            if flags & 0xC0 or (x, y, w, h) != (0, 0, width, height):
                raise ValueError("only full-size frames without local palettes or interlacing are read")
            min_size = data[pos + 9]
            blocks, pos = _sub_blocks(data, pos + 10)
            pixels = _lzw_decode(b"".join(blocks), min_size, w * h)
            gif.frames.append(np.frombuffer(pixels, np.uint8).reshape(h, w))
        else:
            raise ValueError(f"unexpected block 0x{kind:02x} at byte {pos - 1}")
