"""The fine-tune that the training-term experiments share: the shipped model, trained further on the fixed split
with CTC tied to word times plus one experimental term, validated every epoch with three decoders.

``tools/sentence_loss.py`` and ``tools/context_consistency.py`` each give :func:`tune` their term. A term of weight
0 is never computed and draws no random number, so every experiment's control is the same run: the same
batches, cuts, augmentation draws, dropout and schedule (that of ``tools/lip_coordinates.py tune --without``).

Run as a script, it writes a fine-tune's weights as a checkpoint that lipread reads::

    python tools/finetune.py runs/consistency-s1/e10.pt -o runs/consistency-s1/e10.safetensors
    lipread export runs/consistency-s1/e10.safetensors -o runs/consistency-s1/e10.onnx
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from lipread.data.augmentation import NO_AUGMENTATION
from lipread.data.dataset import CropCache
from lipread.data.training import TrainOptions, learning_rate, training_clips
from lipread.vocab import Vocabulary
from lipread.weights import Checkpoint, load_checkpoint, save_checkpoint
from lipread_torch.data import Batch, Examples, epoch_batches, load_examples, make_batch
from lipread_torch.model import LipNet
from lipread_torch.train import ctc_loss
from lipread_torch.wrapper import assign_canonical, canonical_state

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tools folder, for decoder_scores
from decoder_scores import decoder_scores

Term = Callable[[LipNet, torch.Tensor, Batch, np.random.Generator, Vocabulary], torch.Tensor]
"""``(model, log-probabilities (B, T, V) of the batch, the batch, a generator of the term's own, the vocabulary)``
-> the term's mean over the batch (a scalar tensor). The generator is seeded per batch apart from the batch's own
draws, so that a term that draws numbers leaves the batches as they are."""


def add_arguments(parser: argparse.ArgumentParser, weight_help: str) -> None:
    """The arguments every fine-tune experiment takes."""
    parser.add_argument("data", type=Path, help="a GRID folder (../shared/data/grid)")
    parser.add_argument("--cache", type=Path, required=True, help="the crop cache (lipread train --cache)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the run's folder")
    parser.add_argument("--init", type=Path, default=Path("lipread/models/lipnet-grid-s1.safetensors"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--weight", type=float, default=1.0, help=weight_help)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--constant-epochs", type=int, default=5)
    parser.add_argument("--decay", type=float, default=0.15)


def load_split(options: TrainOptions, init: Path, cache: Path) -> tuple[Checkpoint, Examples, Examples]:
    """The model fine-tuned (``init``) and the fixed split's training and validation clips, their crops from the
    ``cache`` folder."""
    checkpoint = load_checkpoint(init)
    config = checkpoint.config
    train_clips, val_clips = training_clips(options)
    crops = CropCache(cache, config)
    train = load_examples(crops, train_clips, config.vocabulary, 1)
    val = load_examples(crops, val_clips, config.vocabulary, 1)
    return checkpoint, train, val


def training_batches(train: Examples, options: TrainOptions, seed: int, epoch: int) -> Iterator[tuple[int, Batch]]:
    """The numbered batches of one training epoch, as every fine-tune experiment draws them: the clips shuffled by
    ``(seed, epoch)``, each batch cut and augmented by a generator of ``(seed, epoch, batch number)``."""
    for b, indices in enumerate(epoch_batches(len(train), options.batch_size, seed, epoch)):
        rng = np.random.default_rng([seed, epoch, b])
        yield b, make_batch(
            train, indices, rng, options.augmentation, word_clips=options.word_clips,
            align_tolerance=options.align_tolerance,
        )  # fmt: skip


def validate(net: LipNet, val: Examples) -> dict[str, float]:
    """Validation loss (CTC tied to word times, nats a clip) and each decoder's CER, WER and sentence accuracy."""
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


def tune(args: argparse.Namespace, term: Term, name: str) -> None:
    """Fine-tunes ``args.init`` with ``term`` at ``args.weight`` (reported as ``train_<name>``), validating every
    epoch into ``<output>/history.json`` and saving each epoch's weights as ``<output>/e<N>.pt``."""
    torch.manual_seed(args.seed)
    options = TrainOptions(data=args.data, output=args.output, mirror=False, seed=args.seed)
    checkpoint, train, val = load_split(options, args.init, args.cache)
    config = checkpoint.config
    net = LipNet(config, conv_dropout=options.conv_dropout)
    assign_canonical(net, checkpoint.tensors, str(args.init))
    optimiser = torch.optim.Adam(net.parameters(), lr=args.lr)
    args.output.mkdir(parents=True, exist_ok=True)
    history = [{"epoch": 0, **validate(net, val)}]
    print(json.dumps(history[-1]), flush=True)
    for epoch in range(1, args.epochs + 1):
        for group in optimiser.param_groups:
            group["lr"] = args.lr * learning_rate(epoch - 1, 1.0, args.constant_epochs, args.decay)
        net.train()
        start, totals = time.perf_counter(), np.zeros(2)
        for b, batch in training_batches(train, options, args.seed, epoch):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                lp = net(batch.frames, batch.lengths)
                ctc = ctc_loss(lp, batch).mean()
            extra = torch.zeros(())
            if args.weight:
                extra = term(net, lp, batch, np.random.default_rng([args.seed, epoch, b, 1]), config.vocabulary)
            optimiser.zero_grad(set_to_none=True)
            (ctc + args.weight * extra).backward()
            optimiser.step()
            totals += np.array([float(ctc.detach()), float(extra.detach())]) * len(batch.indices)
        ctc_mean, extra_mean = totals / len(train)
        history.append(
            {
                "epoch": epoch,
                "train_loss": round(ctc_mean, 4),
                f"train_{name}": round(extra_mean, 4),
                "seconds": round(time.perf_counter() - start),
            }
        )
        history[-1].update(validate(net, val))
        print(json.dumps(history[-1]), flush=True)
        (args.output / "history.json").write_text(json.dumps(history, indent=1))
        torch.save(net.state_dict(), args.output / f"e{epoch}.pt")


def save(weights: Path, init: Path, output: Path) -> Path:
    """Write the weights a fine-tune saved (``e<N>.pt``) as a canonical checkpoint with ``init``'s configuration
    (its decoder included), which ``lipread export`` and ``lipread transcribe --model`` read."""
    checkpoint = load_checkpoint(init)
    net = LipNet(checkpoint.config)
    net.load_state_dict(torch.load(weights, map_location="cpu"))
    tensors = {name: value.detach().numpy() for name, value in canonical_state(net).items()}
    return save_checkpoint(output, tensors, checkpoint.config, trained_on={"fine-tuned": str(weights)})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a fine-tune's e<N>.pt as a canonical checkpoint.")
    parser.add_argument("weights", type=Path, help="an e<N>.pt of a fine-tune's run folder")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the .safetensors file to write")
    parser.add_argument("--init", type=Path, default=Path("lipread/models/lipnet-grid-s1.safetensors"))
    args = parser.parse_args(argv)
    print(save(args.weights, args.init, args.output))


if __name__ == "__main__":
    main()
