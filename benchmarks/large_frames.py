"""Peak memory of ``lipread.transcribe`` on a 10 s 3840x2160 (4K) clip: target at most 1 GB (1000 MB) peak RSS.

The 4K clip is made by the script from GRID clips (nothing large is kept in the repository): each 360x288 frame
is scaled up to 2700x2160 (the full height) and centred on a black 3840x2160 frame, 250 frames at 25 fps, in a
temporary folder. For comparison the same 250 frames at GRID's own size are transcribed too: the difference
is what the resolution costs. Each measurement runs in a fresh Python process, which reports its peak resident
memory after loading the model and after transcribing (Linux ``VmHWM``), and the text it read (four GRID
sentences run together, so not a GRID sentence).

``--compare`` also reads 3 s GRID clips made 4K twice, at the working size (frames shrunk as they are decoded,
:mod:`lipread.video.fitting`) and at full size, and reports both texts and the mean absolute difference of the
model input (in standard deviations of the clip): what the shrinking costs in accuracy. The full-size reading
needs about 4 GB.

The model is the shipped ``lipnet-grid-s1`` when this installation has its ONNX file, else the tiny ONNX model
of ``tests/tiny_onnx.py``, or any ``--model``. Inference runs on one thread.

Usage::

    python benchmarks/large_frames.py [--seconds 10] [--data ../shared/data/grid] [--model FILE] [--compare] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "grid"
FPS = 25
UHD = (3840, 2160)
GRID_SIZE = (360, 288)
TARGET_MB = 1000.0


def write_clip(clips: list[Path], path: Path, frames: int, size: tuple[int, int]) -> int:
    """Write ``frames`` frames of the GRID clips, one after another, into a 25 fps MPEG-4 file of ``size``
    (width, height): each frame scaled to the full height and centred (black at the sides)."""
    import cv2
    import numpy as np

    from lipread.video.reader import iter_frames

    width, height = size
    inner = (round(GRID_SIZE[0] * height / GRID_SIZE[1]), height)
    left = (width - inner[0]) // 2
    canvas = np.zeros((height, width, 3), np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, size)
    written = 0
    try:
        while written < frames:
            for clip in clips:
                for frame in iter_frames(clip):
                    if size == GRID_SIZE:
                        canvas[:] = frame[:, :, ::-1]
                    else:
                        big = cv2.resize(frame[:, :, ::-1], inner, interpolation=cv2.INTER_CUBIC)
                        canvas[:, left : left + inner[0]] = big
                    writer.write(canvas)
                    written += 1
                    if written == frames:
                        return written
    finally:
        writer.release()
    return written


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB of 10**6 bytes.

    Linux's ``VmHWM`` when there is one: ``ru_maxrss`` of a child process also counts the pages of its parent
    at the time of the fork (here: the parent that wrote the 4K clip).
    """
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6  # bytes on macOS, KiB elsewhere
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return kib * 1024 / 1e6


def measure(clip: Path, model: str) -> dict[str, object]:
    """Run in the child process: load the model, transcribe ``clip``, report peak memory, time and text."""
    sys.path.insert(0, str(ROOT))
    from lipread import api

    opts = {} if model.endswith(".safetensors") else {"threads": 1}
    runner = api.Transcriber(model, **opts)
    loaded = peak_mb()
    start = time.perf_counter()
    transcript = runner.transcribe(clip)
    seconds = time.perf_counter() - start
    assert isinstance(transcript, api.Transcript)
    return {
        "peak_after_load_mb": round(loaded, 1),
        "peak_mb": round(peak_mb(), 1),
        "seconds": round(seconds, 1),
        "text": transcript.text,
        "warnings": list(transcript.warnings),
    }


def compare(clips: list[Path], folder: Path, model: str) -> list[dict[str, object]]:
    """Each clip made 4K, read at the working size and at full size: texts and model-input difference."""
    import numpy as np

    from lipread import api
    from lipread.video import fitting

    runner = api.Transcriber(model, **({} if model.endswith(".safetensors") else {"threads": 1}))
    working = fitting.WORK_PIXELS
    rows = []
    for clip in clips:
        path = folder / f"{clip.stem}-4k.mp4"
        write_clip([clip], path, 75, UHD)
        small = runner.prepare(path)
        fitting.WORK_PIXELS = UHD[0] * UHD[1]
        try:
            full = runner.prepare(path)
        finally:
            fitting.WORK_PIXELS = working
        texts = [runner.run([p])[0].text for p in (small, full)]
        difference = float(np.abs(small.frames - full.frames).mean())  # type: ignore[operator]
        rows.append({"clip": clip.stem, "working_size": texts[0], "full_size": texts[1], "difference": difference})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length in seconds (default 10)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"GRID folder with s1/*.mp4 (default {DATA})")
    parser.add_argument("--model", help="model name or file (default: shipped model, else a tiny test model)")
    parser.add_argument("--compare", action="store_true", help="also compare readings at working and full size")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.model)))
        return
    sys.path.insert(0, str(ROOT))
    clips = sorted((args.data / "s1").glob("*.mp4"))[:4]
    if not clips:
        sys.exit(f"no GRID clips in {args.data / 's1'}: the benchmark makes its 4K clip from them")
    frames = round(args.seconds * FPS)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = args.model or common.default_model(folder)
        for name, size in (("grid", GRID_SIZE), ("4k", UHD)):
            clip = folder / f"{name}.mp4"
            write_clip(clips, clip, frames, size)
            command = [sys.executable, __file__, "--measure", str(clip), "--model", model]
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                sys.exit(done.stderr)
            results[name] = {"size": f"{size[0]}x{size[1]}", **json.loads(done.stdout.strip().splitlines()[-1])}
        compared = compare(clips, folder, model) if args.compare else []
    verdict = "met" if results["4k"]["peak_mb"] <= TARGET_MB else "missed"  # type: ignore[operator]
    summary = {"model": model, "seconds": args.seconds, "target_mb": TARGET_MB, "verdict": verdict, **results}
    if compared:
        summary["compare"] = compared
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    print(f"model: {model}; {args.seconds:g} s at {FPS} fps ({frames} frames); target: 4K peak <= {TARGET_MB:g} MB")
    print(f"{'clip':>4} {'size':>10} {'after load MB':>13} {'peak MB':>8} {'seconds':>8}  text")
    for name, r in results.items():
        print(
            f"{name:>4} {r['size']:>10} {r['peak_after_load_mb']:>13} {r['peak_mb']:>8} {r['seconds']:>8}  {r['text']}"
        )
    print(f"4K peak vs GRID-size peak: {results['4k']['peak_mb'] / results['grid']['peak_mb']:.2f}x; target {verdict}")
    for row in compared:
        print(
            f"{row['clip']} in 4K: working size '{row['working_size']}', full size '{row['full_size']}', "
            f"model input differs by {row['difference']:.3f} std on average"
        )


if __name__ == "__main__":
    main()
