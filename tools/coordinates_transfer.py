"""Do lip landmark coordinates read a new speaker better than the mouth's pixels do?

An experiment for ``lipread adapt`` (docs/adapt.md), not a feature. The lips' shape, brought to the mean face
(``tools/lip_coordinates.py``), drops the speaker's skin, teeth, lighting and camera, which the mouth crops keep;
if what is left is what the words look like, a model of the shape alone should carry from speaker 1 to speakers
4 and 5 better than the shipped model does. Measured on ``../shared/data/grid/faces`` as ``tools/measure_adapt.py``
measures ``lipread adapt``:

1. a model of the coordinates alone (:class:`lip_coordinates.CoordinatesAlone`) trained on speaker 1's training
   split (60 epochs, the ``alone`` step's training), and read on its validation clips;
2. read on every clip of the new speakers as it is (``zero-shot``);
3. leave one clip out: trained on the other clips of the clip's speaker, one clip a step, 30 epochs at 5e-4
   (``adapted``: the same 180 clip passes as ``lipread adapt``'s plan for 6 clips), and read on the clip;
4. each of those two readings with the shipped model's zero-shot reading of the clip (the mean of the two
   models' probabilities per frame: ``with pixels``).

``--centred`` takes each clip's mean lip shape off its coordinates before the standardisation, so that a
speaker's resting mouth (wider lips, a thicker lower lip) is not read as a word.

    OMP_NUM_THREADS=1 python tools/coordinates_transfer.py ../shared/data/grid ../shared/data/grid/faces \\
        --points runs/lips -o runs/lips-transfer [--centred] [--seed 0]

The speaker-1 points come from ``tools/lip_coordinates.py extract``; the new speakers' are extracted into
``<output>/points``. About 7 minutes on one core. Results go to ``<output>/results.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import torch

from lipread.data.dataset import Clip, find_clips
from lipread.data.grid import SLOT_NAMES
from lipread.data.metrics import missed_words, summarise
from lipread.data.training import TrainOptions, training_clips
from lipread.decoding.decoders import make_decoder
from lipread.models import source_checkpoint
from lipread.vocab import Vocabulary
from lipread.weights import load_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tools folder
from lip_coordinates import CoordinatesAlone, features, fit, lip_points, read_alone

DECODERS = ("beam", "grammar")


def new_speaker_points(clips: list[Clip], folder: Path) -> list[np.ndarray]:
    """Each clip's lip points (``float32 (T, 40, 2)``), extracted once into ``folder``."""
    from lipread.video.reader import read_frames

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for clip in clips:
        path = folder / f"{clip.key}.npy"
        if not path.exists():
            np.save(path, lip_points(np.asarray(read_frames(clip.video))))
        out.append(np.load(path))
    return out


def standardised(train: list[np.ndarray], *others: list[np.ndarray], centred: bool) -> tuple[list[np.ndarray], ...]:
    """:func:`lip_coordinates.features` of every clip's points, each clip's mean taken off when ``centred``,
    standardised by the mean and deviation per number of ``train``'s clips."""
    sets = [[features(p) for p in s] for s in (train, *others)]
    if centred:
        sets = [[x - x.mean(axis=0) for x in s] for s in sets]
    every = np.concatenate(sets[0])
    mean, scale = every.mean(axis=0), every.std(axis=0) + 1e-6
    return tuple([(x - mean) / scale for x in s] for s in sets)


def pixel_readings(clips: list[Clip], model: str) -> list[np.ndarray]:
    """The shipped model's ``(T, V)`` log-probabilities of each clip, read as ``lipread transcribe`` reads it."""
    from lipread.api import Transcriber

    runner = Transcriber(model)
    out = []
    for clip in clips:
        prepared = runner.prepare(str(clip.video))
        assert prepared.frames is not None, "a GRID clip is short enough to be read in one piece"
        out.append(runner.model.logprobs(prepared.frames[None], np.array([len(prepared.frames)], np.int32))[0])
    return out


def with_pixels(coordinates: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """The mean of two readings' probabilities per frame, as log-probabilities (over their common frames)."""
    t = min(len(coordinates), len(pixels))
    return np.logaddexp(coordinates[:t], pixels[:t]) - np.log(2.0)


def scores(texts: list[str], logprobs: list[np.ndarray], vocabulary: Vocabulary) -> dict[str, dict[str, float]]:
    """WER, CER, sentence accuracy and the share of clips whose word in each GRID slot is wrong, per decoder."""
    out = {}
    for name in DECODERS:
        decoder = make_decoder(name, vocabulary)
        read = [decoder.decode_batch(lp[None], [len(lp)])[0].text for lp in logprobs]
        slots = np.zeros(len(SLOT_NAMES))
        for ref, hyp in zip(texts, read):
            slots += missed_words(ref.split(), hyp.split())[0]
        result = {k: round(v, 4) for k, v in summarise(texts, read).items()}
        out[name] = {**result, **{n: round(m / len(texts), 4) for n, m in zip(SLOT_NAMES, slots)}}
    return out


def adapted(
    base: CoordinatesAlone, xs: list[np.ndarray], targets: list[np.ndarray], speakers: list[str]
) -> list[np.ndarray]:
    """Each clip read by ``base`` trained on the other clips of its speaker (leave one clip out)."""
    out = []
    for i in range(len(xs)):
        others = [j for j in range(len(xs)) if speakers[j] == speakers[i] and j != i]
        net = copy.deepcopy(base)
        fit(
            net, [xs[j] for j in others], [targets[j] for j in others], epochs=30, lr=5e-4, batch=1,
            draws=lambda epoch, fold=i: np.random.default_rng([fold, epoch]),
        )  # fmt: skip
        out.append(read_alone(net, [xs[i]])[0])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="speaker 1's GRID folder (the split of lipread train)")
    parser.add_argument("faces", type=Path, help="the new speakers' clips, with .align files")
    parser.add_argument("--points", type=Path, required=True, help="speaker 1's points (lip_coordinates extract)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--centred", action="store_true", help="take each clip's mean lip shape off")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="lipnet-grid-s1", help="the model whose pixels are read beside")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    train, val = training_clips(TrainOptions(data=args.data, output=args.output))
    new = find_clips(args.faces)
    vocabulary = load_checkpoint(source_checkpoint(args.model, "be read")).config.vocabulary
    train_xy, val_xy, new_xy = standardised(
        [np.load(args.points / f"{c.key}.npy") for c in train],
        [np.load(args.points / f"{c.key}.npy") for c in val],
        new_speaker_points(new, args.output / "points"),
        centred=args.centred,
    )
    net = CoordinatesAlone(vocabulary.size)
    fit(net, train_xy, [np.asarray(vocabulary.encode(c.text)) for c in train], 60)
    texts = [c.text for c in new]
    zero_shot = read_alone(net, new_xy)
    targets = [np.asarray(vocabulary.encode(t)) for t in texts]
    tuned = adapted(net, new_xy, targets, [str(c.speaker) for c in new])
    pixels = pixel_readings(new, args.model)
    results = {
        "centred": args.centred,
        "seed": args.seed,
        "speaker 1 validation": scores([c.text for c in val], read_alone(net, val_xy), vocabulary),
        "zero-shot": scores(texts, zero_shot, vocabulary),
        "adapted": scores(texts, tuned, vocabulary),
        "pixels alone, zero-shot": scores(texts, pixels, vocabulary),
        "zero-shot with pixels": scores(texts, [with_pixels(c, p) for c, p in zip(zero_shot, pixels)], vocabulary),
        "adapted with pixels": scores(texts, [with_pixels(c, p) for c, p in zip(tuned, pixels)], vocabulary),
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "results.json").write_text(json.dumps(results, indent=1))
    for name, by_decoder in results.items():
        if isinstance(by_decoder, dict):
            print(name, {d: (r["wer"], r["cer"]) for d, r in by_decoder.items()}, flush=True)


if __name__ == "__main__":
    main()
