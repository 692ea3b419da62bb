"""How the shipped model's reading holds up when its own speaker is filmed a little otherwise.

Reads the validation clips of speaker 1 (the seed-0 random 10% that ``lipread train`` holds out) as they are and
changed in ways a user's video of the same person may be, each change made to the decoded frames in memory:

- ``mirrored``: flipped left to right (a selfie camera's preview);
- ``small in frame``: the frames unscaled in the middle of a black 960x540 picture;
- ``still lead-in``: one second of the first frame before the clip and one of the last after it;
- ``darker``: every pixel at 60% of its value;
- ``greyscale``: each frame's luma in all three channels, as a black-and-white video decodes.

For each it prints the WER and sentence accuracy with the model's default decoder, and how many clips the
domain check flags as unlike the training data (``in_domain`` false). Nothing is tuned on these figures.

    OMP_NUM_THREADS=1 python tools/measure_robustness.py ../shared/data/grid [--model lipnet-grid-s1] [--clips 90]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lipread.api import Transcriber  # noqa: E402
from lipread.data.augmentation import greyed  # noqa: E402
from lipread.data.dataset import find_clips, split_clips  # noqa: E402
from lipread.data.metrics import summarise  # noqa: E402
from lipread.video.reader import read_frames  # noqa: E402


def _in_frame(frames: np.ndarray, height: int = 540, width: int = 960) -> np.ndarray:
    out = np.zeros((len(frames), height, width, 3), np.uint8)
    top, left = (height - frames.shape[1]) // 2, (width - frames.shape[2]) // 2
    out[:, top : top + frames.shape[1], left : left + frames.shape[2]] = frames
    return out


def _still(frames: np.ndarray, seconds: float = 1.0, fps: float = 25.0) -> np.ndarray:
    n = round(seconds * fps)
    return np.concatenate([np.repeat(frames[:1], n, 0), frames, np.repeat(frames[-1:], n, 0)])


CHANGES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as filmed": lambda f: f,
    "mirrored": lambda f: np.ascontiguousarray(f[:, :, ::-1]),
    "small in frame": _in_frame,
    "still lead-in": _still,
    "darker": lambda f: (f.astype(np.float32) * 0.6).astype(np.uint8),
    "greyscale": greyed,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="the GRID folder (speaker 1's clips and alignments)")
    p.add_argument("--model", default=None, help="a shipped name or model file (default: the shipped model)")
    p.add_argument("--clips", type=int, default=90, help="validation clips to read (default all 90)")
    args = p.parse_args(argv)
    clips = split_clips(find_clips(args.data), "random", 0.1, 0)[1][: args.clips]
    reader = Transcriber(args.model, threads=1)
    print(f"{len(clips)} validation clips, model {reader.model_name}, decoder {reader.decoder.name}")
    print("| clips | WER | sentences right | flagged unlike the training data |")
    print("| --- | --- | --- | --- |")
    for name, change in CHANGES.items():
        texts, flagged = [], 0
        for clip in clips:
            t = reader.transcribe(change(read_frames(clip.video)), 25.0)
            texts.append(t.text)
            flagged += t.in_domain is False
        s = summarise([c.text for c in clips], texts)
        print(f"| {name} | {s['wer']:.1%} | {s['sentence_accuracy']:.1%} | {flagged} of {len(clips)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
