"""Peak memory of ``lipread.transcribe`` on long clips: 1, 5 and 10 minutes of GRID clips joined end to end.

Each measurement runs in a fresh Python process, which reports its peak resident memory (``ru_maxrss``)
after loading the model and after transcribing, so the numbers do not mix. Clips longer than
``lipread.api.LONG_CLIP_FRAMES`` frames are read in windows (see :mod:`lipread.api`); ``--single-pass``
also measures the 1-minute clip read whole, for comparison.

The model is the shipped ``lipnet-grid-s1`` when this installation has its ONNX file, else the tiny
ONNX model of ``tests/tiny_onnx.py`` (same input and output contract; a negligible network, so what is
measured is decoding, mouth location, preprocessing and CTC decoding), or any ``--model`` (an ``.onnx``
file, or a ``.safetensors`` checkpoint run on torch or tensorflow). Inference runs on one thread.

Usage::

    python benchmarks/long_input.py [--minutes 1 5 10] [--data ../shared/data/grid] [--model FILE]
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
GRID_SIZE = (360, 288)
FPS = 25


def join_clips(clips: list[Path], path: Path, frames: int) -> int:
    """Write ``frames`` frames of the clips, one after another (cycling), into one 25 fps MPEG-4 file."""
    import cv2

    from lipread.video.reader import iter_frames

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, GRID_SIZE)
    written = 0
    while written < frames:
        for clip in clips:
            for frame in iter_frames(clip):
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                written += 1
                if written == frames:
                    writer.release()
                    return written
    writer.release()
    return written


def peak_mib() -> float:
    """This process's peak resident memory so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(clip: Path, model: str, single_pass: bool) -> dict[str, object]:
    """Run in the child process: load the model, transcribe ``clip``, report peak memory and time."""
    sys.path.insert(0, str(ROOT))
    from lipread import api
    from lipread.transcription import transcriber

    if single_pass:  # the limit Transcriber.prepare reads
        transcriber.LONG_CLIP_FRAMES = 10**9
    opts = {} if model.endswith(".safetensors") else {"threads": 1}  # checkpoints run on torch / tensorflow
    runner = api.Transcriber(model, **opts)
    loaded = peak_mib()
    start = time.perf_counter()
    prepared = runner.prepare(clip)
    transcript = runner.run([prepared])[0]
    seconds = time.perf_counter() - start
    frames = prepared.logprobs.shape[0] if prepared.logprobs is not None else prepared.frames.shape[0]  # type: ignore[union-attr]
    return {
        "frames": int(frames),
        "windowed": prepared.logprobs is not None,
        "peak_after_load_mib": round(loaded, 1),
        "peak_mib": round(peak_mib(), 1),
        "seconds": round(seconds, 1),
        "words": len(transcript.words),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 10], help="clip lengths (default 1 5 10)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"GRID folder with s1/*.mp4 (default {DATA})")
    parser.add_argument("--model", help="model name or file (default: shipped model, else a tiny test model)")
    parser.add_argument("--single-pass", action="store_true", help="also read the 1-minute clip whole, to compare")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--whole", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.model, args.whole)))
        return
    sys.path.insert(0, str(ROOT))
    clips = sorted((args.data / "s1").glob("*.mp4"))
    if not clips:
        sys.exit(f"no GRID clips in {args.data / 's1'}")
    runs = [(m, False) for m in args.minutes] + ([(1.0, True)] if args.single_pass else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = args.model or common.default_model(folder)
        print(f"model: {model}")
        print(f"{'minutes':>7} {'frames':>7} {'path':>11} {'after load MiB':>14} {'peak MiB':>9} {'seconds':>8}")
        for minutes, whole in runs:
            clip = folder / f"{minutes:g}min.mp4"
            if not clip.exists():
                join_clips(clips, clip, round(minutes * 60 * FPS))
            command = [sys.executable, __file__, "--measure", str(clip), "--model", model]
            done = subprocess.run([*command, *(["--whole"] if whole else [])], capture_output=True, text=True, env=env)
            if done.returncode != 0:
                sys.exit(done.stderr)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            path = "windowed" if r["windowed"] else "single pass"
            print(
                f"{minutes:>7g} {r['frames']:>7} {path:>11} {r['peak_after_load_mib']:>14} {r['peak_mib']:>9} "
                f"{r['seconds']:>8}"
            )


if __name__ == "__main__":
    main()
