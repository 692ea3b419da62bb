"""How the shipped model reads a clip of several sentences, or of one with still frames around it: in one piece
(as ``lipread transcribe`` reads clips of up to 10 s) or in 3-second windows (as it reads longer ones).

The 90 validation clips of ``lipread train``'s split (``--split-seed 0``), read with the model's decoder:

- alone (75 frames each);
- with 1 s and 2 s of still frames (the first and the last frame repeated) before and after (125, 175 frames);
- joined two by two and three by three (150 and 225 frames), against their sentences joined.

Each set is read in one piece and in the overlapping windows of :func:`lipread.transcription.frames.windowed_logprobs`,
and the WER and the share of items read wholly right are printed. About 3 minutes on one core::

    OMP_NUM_THREADS=1 python tools/measure_joined_clips.py ../shared/data/grid
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lipread.api import Transcriber
from lipread.data.dataset import find_clips, split_clips
from lipread.data.metrics import summarise
from lipread.transcription.frames import windowed_logprobs
from lipread.video.preprocess import mouth_crops, normalise
from lipread.video.reader import read_frames


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a GRID folder (../shared/data/grid)")
    parser.add_argument("--model", default="lipnet-grid-s1")
    args = parser.parse_args(argv)

    runner = Transcriber(args.model)
    config = runner.config
    val = split_clips(find_clips(args.data), "random", 0.1, 0)[1]
    clips = [np.asarray(read_frames(c.video)) for c in val]
    texts = [c.text for c in val]

    def still(frames: np.ndarray, n: int) -> np.ndarray:
        return np.concatenate([np.repeat(frames[:1], n, 0), frames, np.repeat(frames[-1:], n, 0)])

    def joined(k: int) -> list[tuple[np.ndarray, str]]:
        return [(np.concatenate(clips[i : i + k]), " ".join(texts[i : i + k])) for i in range(0, len(clips), k)]

    sets = {
        "alone": list(zip(clips, texts)),
        "1 s still either side": [(still(f, 25), t) for f, t in zip(clips, texts)],
        "2 s still either side": [(still(f, 50), t) for f, t in zip(clips, texts)],
        "joined two by two": joined(2),
        "joined three by three": joined(3),
    }
    ways = {
        "one piece": lambda f: runner.model.logprobs(
            normalise(mouth_crops(f, config))[None], np.array([len(f)], np.int32)
        )[0],
        "windows": lambda f: windowed_logprobs(iter(f), config, runner.model.logprobs, None, 8, "<frames>"),
    }
    print(f"model {args.model}, decoder {runner.decoder.name}, {len(val)} validation clips")
    print("| clips | frames | read | WER | read wholly right |\n| --- | --- | --- | --- | --- |")
    for name, items in sets.items():
        for way, logprobs in ways.items():
            read = []
            for frames, _ in items:
                lp = logprobs(frames)
                read.append(runner.decoder.decode_batch(lp[None], [len(lp)])[0].text)
            s = summarise([t for _, t in items], read)
            print(
                f"| {name} | {len(items[0][0])} | {way} | {100 * s['wer']:.1f}% | {100 * s['sentence_accuracy']:.1f}% |"
            )


if __name__ == "__main__":
    main()
