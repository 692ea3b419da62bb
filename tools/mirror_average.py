"""Does reading a clip together with its left-right mirror image help? Validation CER/WER with and without.

Reads the validation clips of DATA (the seed-0 random split that ``lipread train`` holds out) from a crop cache,
runs CHECKPOINT (a ``.safetensors`` model; the torch backend) on each clip and on its mirror image, and prints
greedy, beam and grammar CER, WER and sentence accuracy for the clip alone, the mirror alone, and the two
posteriors averaged (as probabilities, and as log-probabilities renormalised). Usage::

    python tools/mirror_average.py lipread/models/lipnet-grid-s1.safetensors ../shared/data/grid \\
        --cache runs/cache/face-tracked-lipnet-50x100x3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lipread.data.dataset import CropCache
from lipread.data.metrics import summarise
from lipread.data.training import TrainOptions, training_clips
from lipread.decoding.decoders import make_decoder
from lipread.video.preprocess import normalise
from lipread_torch import backend
from lipread_torch.wrapper import TorchModel


def posteriors(model: TorchModel, crops: list[np.ndarray], mirror: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(N, T, V)`` log-probabilities (zero-padded in time) and ``(N,)`` lengths, 16 clips at a time."""
    out, lengths = [], []
    for i in range(0, len(crops), 16):
        batch = [normalise(c)[:, :, ::-1] if mirror else normalise(c) for c in crops[i : i + 16]]
        x = np.zeros((len(batch), max(len(b) for b in batch), *batch[0].shape[1:]), np.float32)
        for j, b in enumerate(batch):
            x[j, : len(b)] = b
        n = np.array([len(b) for b in batch])
        out += list(model.logprobs(x, n))
        lengths += list(n)
    t = max(len(lp) for lp in out)
    return np.stack([np.pad(lp, ((0, t - len(lp)), (0, 0))) for lp in out]), np.array(lengths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--cache", type=Path, required=True, help="a crop cache folder of the model's crop")
    args = parser.parse_args()
    model = backend.load(args.checkpoint, device="cpu")
    _, val = training_clips(TrainOptions(data=args.data, output=Path("."), config=model.config))
    cache = CropCache(args.cache, model.config)
    crops = [cache.get(c) for c in val]
    texts = [c.text for c in val]
    plain, lengths = posteriors(model, crops, mirror=False)
    mirrored, _ = posteriors(model, crops, mirror=True)
    mean_log = (plain + mirrored) / 2
    readings = {
        "alone": plain,
        "mirror": mirrored,
        "mean probability": np.log((np.exp(plain) + np.exp(mirrored)) / 2),
        "mean log-probability": mean_log - np.logaddexp.reduce(mean_log, axis=-1, keepdims=True),
    }
    print(f"{len(val)} validation clips")
    for name, lp in readings.items():
        cells = []
        for decoder in ("greedy", "beam", "grammar"):
            hyps = make_decoder(decoder, model.config.vocabulary).decode_batch(lp, lengths)
            s = summarise(texts, [h.text for h in hyps])
            cells.append(f"{decoder} CER {s['cer']:.4f} WER {s['wer']:.4f} sentences {s['sentence_accuracy']:.3f}")
        print(f"{name:>20} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
