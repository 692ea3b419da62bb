"""How large a difference the validation clips can resolve: two models read the same clips, paired bootstrap.

Both models read the validation clips of DATA (the seed-0 random split that ``lipread train`` and
``lipread eval --split val`` hold out) through :func:`lipread.transcribe`, as ``lipread eval`` reads them, with
each ``--decoder``. For each decoder it prints each model's WER with a 95% bootstrap interval (the clips
resampled with replacement, 10,000 times), and the difference of the two WERs with its paired interval (the same
resampled clips for both models): a difference whose interval holds 0 is not resolved by these clips.
``--grey`` reads every clip made grey (its BT.601 luma in all three channels), as a black-and-white video is.

    OMP_NUM_THREADS=1 python tools/compare_models.py runs/a/best.onnx runs/b/best.onnx ../shared/data/grid \\
        [--decoder greedy beam grammar] [--grey] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from lipread import transcribe
from lipread.data.augmentation import greyed
from lipread.data.dataset import find_clips, split_clips
from lipread.data.metrics import edit_distance
from lipread.video.reader import read_frames

RESAMPLES = 10_000


def grey(video: Path) -> np.ndarray:
    """``uint8 (T, H, W, 3)``: the clip's frames with the BT.601 luma of each pixel in all three channels."""
    return greyed(read_frames(video))


def word_errors(model: str, videos: list[Path], references: list[str], decoder: str, grey_: bool = False) -> np.ndarray:
    """``(N, 2)``: per clip, the word edit distance of ``model``'s reading to the reference and the reference's
    word count (the clips made grey with ``grey_``)."""
    if grey_:
        readings = [transcribe(grey(v), model=model, decoder=decoder, threads=1) for v in videos]
    else:
        readings = transcribe(videos, model=model, decoder=decoder, workers=1, threads=1)
    return np.array([(edit_distance(r.split(), t.text.split()), len(r.split())) for r, t in zip(references, readings)])


def interval(samples: np.ndarray) -> tuple[float, float]:
    """The central 95% of ``samples``."""
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(low), float(high)


def compare(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, object]:
    """WERs of ``a`` and ``b`` (:func:`word_errors` of two models on the same clips), their bootstrap intervals,
    and the paired interval of ``WER(a) - WER(b)``."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(a), size=(RESAMPLES, len(a)))
    wer_a = a[picks, 0].sum(1) / a[picks, 1].sum(1)
    wer_b = b[picks, 0].sum(1) / b[picks, 1].sum(1)
    return {
        "clips": len(a),
        "wer_a": float(a[:, 0].sum() / a[:, 1].sum()),
        "wer_a_95": interval(wer_a),
        "wer_b": float(b[:, 0].sum() / b[:, 1].sum()),
        "wer_b_95": interval(wer_b),
        "difference": float(a[:, 0].sum() / a[:, 1].sum() - b[:, 0].sum() / b[:, 1].sum()),
        "difference_95": interval(wer_a - wer_b),
        "clips_differing": int((a[:, 0] != b[:, 0]).sum()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model_a")
    p.add_argument("model_b")
    p.add_argument("data", type=Path)
    p.add_argument("--decoder", nargs="+", default=["greedy", "beam", "grammar"])
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--grey", action="store_true", help="read the clips made grey")
    args = p.parse_args()
    _, val = split_clips(find_clips(args.data), "random", 0.1, 0)
    videos, references = [c.video for c in val], [c.text for c in val]
    results = {}
    for decoder in args.decoder:
        a = word_errors(args.model_a, videos, references, decoder, args.grey)
        b = word_errors(args.model_b, videos, references, decoder, args.grey)
        results[decoder] = r = compare(a, b)
        print(
            f"{decoder}: {len(val)} clips; WER A {r['wer_a']:.1%} [{r['wer_a_95'][0]:.1%}, {r['wer_a_95'][1]:.1%}], "
            f"B {r['wer_b']:.1%} [{r['wer_b_95'][0]:.1%}, {r['wer_b_95'][1]:.1%}]; A - B {r['difference']:+.1%} "
            f"[{r['difference_95'][0]:+.1%}, {r['difference_95'][1]:+.1%}] (paired); "
            f"{r['clips_differing']} clips with different word errors"
        )
    if args.json:
        args.json.write_text(json.dumps({"a": args.model_a, "b": args.model_b, **results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
