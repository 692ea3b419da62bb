"""Does training the model to tell each sentence from its grammar neighbours make the grammar decoder read better?

An experiment, not a feature. CTC makes the labels of the true sentence likely; the grammar decoder then picks,
among GRID sentences, the most likely one. Its errors are one word wrong, mostly a letter of a look-alike
(d/t, e/d, g/t: training.md). A sentence-level term, in the manner of the discriminative training of speech
recognisers (MMI), aims the training at that choice: for each clip, the CTC log-likelihoods of its sentence and of
every sentence that differs from it in one word of the same slot (45 for a full GRID sentence, fewer for the
word clips that training cuts out), and the cross-entropy of the true one among them::

    loss = CTC(true, tied to word times) + weight * (logsumexp(scores) - score(true)),  score = -CTC(plain)

The neighbours' CTC is plain (no word times): the decoder does not know them either. ``--weight 0`` is the
control: the same batches, cuts, augmentation draws, dropout and schedule, and the same run as
``tools/lip_coordinates.py tune --without``. Each epoch prints validation WER and CER with the greedy, beam and
grammar decoders and appends them to ``<run>/history.json``.

Usage::

    python tools/sentence_loss.py ../shared/data/grid --cache runs/cache -o runs/sentence-s1 --seed 1 --weight 1

An epoch takes about 3 minutes on one core.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lipread.data.augmentation import NO_AUGMENTATION
from lipread.data.dataset import CropCache
from lipread.data.grid import GRAMMAR
from lipread.data.training import TrainOptions, learning_rate, training_clips
from lipread.vocab import Vocabulary
from lipread.weights import load_checkpoint
from lipread_torch.data import Batch, Examples, epoch_batches, load_examples, make_batch
from lipread_torch.model import LipNet
from lipread_torch.train import ctc_loss
from lipread_torch.wrapper import assign_canonical

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tools folder, for decoder_scores
from decoder_scores import decoder_scores

_SLOT = {word: slot for slot in GRAMMAR for word in slot}


def neighbours(sentence: str) -> list[str]:
    """Every sentence that differs from ``sentence`` in one word, replaced by another word of its GRID slot.

    ``sentence`` may be any run of GRID words (a word clip); a word outside the grammar keeps its place.
    """
    words = sentence.split()
    out = []
    for i, word in enumerate(words):
        for other in _SLOT.get(word, ()):
            if other != word:
                out.append(" ".join([*words[:i], other, *words[i + 1 :]]))
    return out


def _frames_needed(ids: list[int]) -> int:
    """The fewest frames a CTC alignment of ``ids`` takes: one per label, one more per repeated label."""
    return len(ids) + sum(a == b for a, b in itertools.pairwise(ids))


def sentence_loss(logprobs: torch.Tensor, batch: Batch, vocabulary: Vocabulary) -> torch.Tensor:
    """Per clip ``(B,)``: the cross-entropy, in nats, of the clip's text among it and those of its
    :func:`neighbours` that fit its frames; 0 for a clip whose own text does not fit, or none of them.

    Args:
        logprobs: ``(B, T, V)`` log-probabilities.
        batch: the batch they came from (its targets are the clips' texts).
        vocabulary: the model's.
    """
    lp = logprobs.float()
    texts = [vocabulary.decode(t.tolist()) for t in torch.split(batch.targets, batch.target_lengths.tolist())]
    rows, targets = [], []
    for b, text in enumerate(texts):
        # the text first; a neighbour that cannot fit the clip's frames has no alignment (and an infinite CTC
        # loss, whose gradient is NaN), and a clip whose own text cannot fit has nothing to learn here
        fitting = [
            ids
            for ids in map(vocabulary.encode, [text, *neighbours(text)])
            if _frames_needed(ids) <= int(batch.lengths[b])
        ]
        if len(fitting) > 1 and fitting[0] == vocabulary.encode(text):
            rows += [b] * len(fitting)
            targets += fitting
    loss = torch.zeros(len(texts))
    if not rows:
        return loss
    index = torch.tensor(rows)
    nll = F.ctc_loss(
        lp[index].transpose(0, 1),
        torch.tensor([i for ids in targets for i in ids]),
        batch.lengths[index],
        torch.tensor([len(ids) for ids in targets]),
        blank=0,
        reduction="none",
    )
    owner = np.asarray(rows)
    for b in np.unique(owner):
        scores = -nll[torch.from_numpy(np.flatnonzero(owner == b))]
        loss[b] = torch.logsumexp(scores, 0) - scores[0]
    return loss


def _validate(net: LipNet, val: Examples) -> dict[str, float]:
    net.eval()
    logprobs, loss = [], 0.0
    with torch.no_grad():
        for start in range(0, len(val), 8):
            batch = make_batch(
                val, np.arange(start, min(start + 8, len(val))), None, NO_AUGMENTATION, align_tolerance=3
            )
            with torch.autocast("cpu", dtype=torch.bfloat16):
                lp = net(batch.frames, batch.lengths).float()
            loss += float(ctc_loss(lp, batch).sum())
            logprobs += [lp[b, : batch.lengths[b]].numpy() for b in range(len(lp))]
    assert val.vocabulary is not None
    return {"val_loss": round(loss / len(val), 4), **decoder_scores(val.texts, logprobs, val.vocabulary)}


def tune(args: argparse.Namespace) -> None:
    """Fine-tunes ``args.init`` with the sentence term at ``args.weight``, validating every epoch."""
    torch.manual_seed(args.seed)
    options = TrainOptions(data=args.data, output=args.output, mirror=False, seed=args.seed)
    checkpoint = load_checkpoint(args.init)
    config = checkpoint.config
    train_clips, val_clips = training_clips(options)
    cache = CropCache(args.cache, config)
    train = load_examples(cache, train_clips, config.vocabulary, 1)
    val = load_examples(cache, val_clips, config.vocabulary, 1)
    net = LipNet(config, conv_dropout=options.conv_dropout)
    assign_canonical(net, checkpoint.tensors, str(args.init))
    optimiser = torch.optim.Adam(net.parameters(), lr=args.lr)
    args.output.mkdir(parents=True, exist_ok=True)
    history = [{"epoch": 0, **_validate(net, val)}]
    print(json.dumps(history[-1]), flush=True)
    for epoch in range(1, args.epochs + 1):
        for group in optimiser.param_groups:
            group["lr"] = args.lr * learning_rate(epoch - 1, 1.0, args.constant_epochs, args.decay)
        net.train()
        start, totals = time.perf_counter(), np.zeros(2)
        for b, indices in enumerate(epoch_batches(len(train), options.batch_size, args.seed, epoch)):
            rng = np.random.default_rng([args.seed, epoch, b])
            batch = make_batch(
                train, indices, rng, options.augmentation, word_clips=options.word_clips,
                align_tolerance=options.align_tolerance,
            )  # fmt: skip
            with torch.autocast("cpu", dtype=torch.bfloat16):
                lp = net(batch.frames, batch.lengths)
                ctc = ctc_loss(lp, batch).mean()
            sentence = sentence_loss(lp, batch, config.vocabulary).mean() if args.weight else torch.zeros(())
            optimiser.zero_grad(set_to_none=True)
            (ctc + args.weight * sentence).backward()
            optimiser.step()
            totals += np.array([float(ctc.detach()), float(sentence.detach())]) * len(indices)
        ctc_mean, sentence_mean = totals / len(train)
        history.append(
            {
                "epoch": epoch,
                "train_loss": round(ctc_mean, 4),
                "train_sentence_loss": round(sentence_mean, 4),
                "seconds": round(time.perf_counter() - start),
            }
        )
        history[-1].update(_validate(net, val))
        print(json.dumps(history[-1]), flush=True)
        (args.output / "history.json").write_text(json.dumps(history, indent=1))
        torch.save(net.state_dict(), args.output / f"e{epoch}.pt")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="a GRID folder (../shared/data/grid)")
    parser.add_argument("--cache", type=Path, required=True, help="the crop cache (lipread train --cache)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the run's folder")
    parser.add_argument("--init", type=Path, default=Path("lipread/models/lipnet-grid-s1.safetensors"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--weight", type=float, default=1.0, help="the sentence term's weight (0: the control)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--constant-epochs", type=int, default=5)
    parser.add_argument("--decay", type=float, default=0.15)
    tune(parser.parse_args(argv))


if __name__ == "__main__":
    main()
