"""Does averaging several readings of a clip help? Validation CER/WER of each reading and of their average.

Reads the validation clips of DATA (the seed-0 random split that ``lipread train`` holds out) from a crop cache
and runs CHECKPOINT (a ``.safetensors`` model; the torch backend) on each clip. ``--mirror`` reads the clip's
left-right mirror image too; ``--also OTHER`` reads it with other checkpoints of the same configuration (an
ensemble, e.g. two seeds of one recipe). Prints greedy, beam and grammar CER, WER and sentence accuracy for
each reading alone and for all of them averaged (as probabilities, and as log-probabilities renormalised).
Usage::

    python tools/average_readings.py lipread/models/lipnet-grid-s1.safetensors ../shared/data/grid \\
        --cache runs/cache/face-framed-lipnet-50x100x3 --mirror
    python tools/average_readings.py runs/at3-s0-long/best.safetensors ../shared/data/grid \\
        --cache runs/cache/face-framed-lipnet-50x100x3 --also runs/default68-s1/best.safetensors
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
    parser.add_argument("--mirror", action="store_true", help="read each clip's mirror image too")
    parser.add_argument("--also", type=Path, nargs="+", default=[], help="more checkpoints to read with")
    args = parser.parse_args()
    if not args.mirror and not args.also:
        parser.error("nothing to average: give --mirror, --also or both")
    models = {p: backend.load(p, device="cpu") for p in [args.checkpoint, *args.also]}
    config = models[args.checkpoint].config
    for path, model in models.items():
        if model.config != config:
            parser.error(f"{path}: another configuration than {args.checkpoint}'s; its readings cannot be averaged")
    _, val = training_clips(TrainOptions(data=args.data, output=Path("."), config=config))
    cache = CropCache(args.cache, config)
    crops = [cache.get(c) for c in val]
    texts = [c.text for c in val]
    readings: dict[str, np.ndarray] = {}
    for path, model in models.items():  # every reading has the same lengths: the clips' frame counts
        for mirror in (False, True) if args.mirror else (False,):
            readings[f"{path}{' mirrored' if mirror else ''}"], lengths = posteriors(model, crops, mirror)
    stacked = np.stack(list(readings.values()))
    mean_log = stacked.mean(axis=0)
    readings["mean probability"] = np.log(np.exp(stacked).mean(axis=0))
    readings["mean log-probability"] = mean_log - np.logaddexp.reduce(mean_log, axis=-1, keepdims=True)
    print(f"{len(val)} validation clips")
    for name, lp in readings.items():
        cells = []
        for decoder in ("greedy", "beam", "grammar"):
            hyps = make_decoder(decoder, config.vocabulary).decode_batch(lp, lengths)
            s = summarise(texts, [h.text for h in hyps])
            cells.append(f"{decoder} CER {s['cer']:.4f} WER {s['wer']:.4f} sentences {s['sentence_accuracy']:.3f}")
        print(f"{name:>24} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
