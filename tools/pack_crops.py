"""Pack a crop cache into small H.264 files, and unpack them into a crop cache elsewhere.

A crop cache (``lipread train --cache``) holds each clip's mouth crops as raw ``uint8 (T, H, W, C)`` ``.npy``
files: about 1.1 MB per GRID clip, 1 GB for speaker 1. To train on another machine without the videos (or
without decoding them again), pack the cache: each clip becomes an H.264 file at 4:4:4 chroma (about 17 kB
at ``--crf 16``; mean absolute difference from the raw crops about 1.8 grey levels of 255, below the
GRID videos' own compression noise). Unpacking decodes them with OpenCV back into the same cache layout, so
``lipread train --cache`` finds every clip and never opens a video.

    python tools/pack_crops.py pack runs/cache/face-framed-lipnet-50x100x3 -o crops.tar --ffmpeg /path/to/ffmpeg
    python tools/pack_crops.py unpack crops.tar -o runs/cache

Packing needs an ``ffmpeg`` with libx264 (OpenCV's own writer has no H.264 encoder); unpacking needs only
OpenCV. Grey caches (``C == 1``) are packed as 4:4:4 with equal channels and unpacked as one channel.
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np


def encode(crops: np.ndarray, ffmpeg: str, crf: int) -> bytes:
    """``uint8 (T, H, W, C)`` crops (C 1 or 3, RGB) as the bytes of an H.264 MP4 file at 25 fps."""
    _t, h, w, c = crops.shape
    rgb = np.repeat(crops, 3, axis=3) if c == 1 else crops
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        subprocess.run(
            [
                ffmpeg,
                "-y",
                "-loglevel",
                "error",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "-s",
                f"{w}x{h}",
                "-r",
                "25",
                "-i",
                "-",
                "-c:v",
                "libx264",
                "-crf",
                str(crf),
                "-preset",
                "slow",
                "-pix_fmt",
                "yuv444p",
                str(out),
            ],
            input=np.ascontiguousarray(rgb).tobytes(),
            check=True,
        )
        return out.read_bytes()


def decode(path: Path, channels: int) -> np.ndarray:
    """The crops of a file written by :func:`encode`: ``uint8 (T, H, W, channels)``, RGB."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(bgr[:, :, ::-1])
    cap.release()
    if not frames:
        raise ValueError(f"{path}: no frames")
    crops = np.stack(frames)
    return np.ascontiguousarray(crops[..., :1] if channels == 1 else crops)


FILE_CHECKSUM = re.compile(r"-[0-9a-f]{8}(-frames)?$")
"""The end of a cached clip's name that checks its video (see :meth:`lipread.data.dataset.CropCache.path`)."""


def pack(folder: Path, output: Path, ffmpeg: str, crf: int, workers: int) -> None:
    """Every ``<folder>/*.npy`` into ``output`` (a tar of ``<folder name>/<clip>.<C>.mp4``)."""
    files = sorted(folder.glob("*.npy"))
    if not files:
        sys.exit(f"{folder}: no .npy crops")

    def one(f: Path) -> tuple[str, bytes]:
        crops = np.load(f)
        key = FILE_CHECKSUM.sub(r"\1", f.stem)  # on a machine without the videos the cache looks for the key alone
        return f"{folder.name}/{key}.{crops.shape[3]}.mp4", encode(crops, ffmpeg, crf)

    with tarfile.open(output, "w") as tar, ThreadPoolExecutor(workers) as pool:
        for name, data in pool.map(one, files):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    print(f"{output}: {len(files)} clips, {output.stat().st_size / 1e6:.1f} MB")


def unpack(archive: Path, cache: Path, workers: int) -> None:
    """Decode every clip of ``archive`` into ``<cache>/<folder name>/<clip>.npy``."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        videos = sorted(Path(tmp).glob("*/*.mp4"))

        def one(v: Path) -> None:
            stem, channels = v.stem.rsplit(".", 1)
            target = cache / v.parent.name / f"{stem}.npy"
            target.parent.mkdir(parents=True, exist_ok=True)
            np.save(target, decode(v, int(channels)))

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, videos))
    print(f"{archive}: {len(videos)} clips into {cache}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="a cache folder into a tar of H.264 files")
    p.add_argument("folder", type=Path, help="one cache folder, e.g. runs/cache/face-framed-lipnet-50x100x3")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--ffmpeg", default="ffmpeg", help="an ffmpeg with libx264 (default: ffmpeg)")
    p.add_argument("--crf", type=int, default=16, help="x264 quality, lower is better (default: 16)")
    p.add_argument("--workers", type=int, default=2, help="parallel encoders (default: 2)")
    u = sub.add_parser("unpack", help="a packed tar into a cache root")
    u.add_argument("archive", type=Path)
    u.add_argument("-o", "--output", type=Path, required=True, help="the cache root (lipread train --cache)")
    u.add_argument("--workers", type=int, default=8, help="parallel decoders (default: 8)")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.folder, args.output, args.ffmpeg, args.crf, args.workers)
    else:
        unpack(args.archive, args.output, args.workers)


if __name__ == "__main__":
    main()
