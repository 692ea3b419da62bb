"""Does training the model to read a sentence the same with less silence around it make live segments read as
their clips, and the clips better?

An experiment, not a feature. ``lipread live`` reads an utterance with the silence it found before and after
the speech (``lead`` and ``context``), not with the whole clip's; the bidirectional recurrent layers hear that
difference, and the sentence a segment reads differs from its clip's in a word the model is unsure of
(live.md: 194 of 200 read as the clip alone). This fine-tune shows the model each training clip twice: as the
batch has it, and cut to its speech with a random share of its silence kept on either side (at least
``--margin`` frames beyond the word times' tolerance, where the clip has them), standardised on its own as a
segment is. The term is the cut's CTC loss and, with ``--kl``, the symmetric Kullback-Leibler divergence of the
two readings' posteriors on the frames they share, summed over those frames (a consistency term in the manner
of R-Drop: the two passes also draw their own dropout)::

    loss = CTC(clip) + weight * (CTC(cut) + kl * sum over shared frames of (KL(p || q) + KL(q || p)) / 2)

``--weight 0`` is the control of ``tools/finetune.py``: the same run as ``tools/sentence_loss.py --weight 0``.
Each epoch prints validation WER and CER with the greedy, beam and grammar decoders (whole clips) and appends
them to ``<run>/history.json``; ``tools/measure_live_settings.py --model`` then reads the live stream with it.

Usage::

    python tools/context_consistency.py ../shared/data/grid --cache runs/cache -o runs/consistency-s1 --seed 1

An epoch takes about 5 minutes on one core.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from lipread.vocab import Vocabulary
from lipread_torch.data import Batch
from lipread_torch.model import LipNet
from lipread_torch.train import ctc_loss

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tools folder, for finetune
from finetune import Term, add_arguments, tune


def cut_spans(batch: Batch, rng: np.random.Generator, margin: int) -> list[tuple[int, int]]:
    """Per clip, ``(first frame, end frame)`` of a cut that keeps every frame where the batch's word times allow a
    character (the words and their tolerance) and ``margin`` frames more on either side (where the clip has
    them), and a uniformly drawn share of the silence beyond. A clip without word times (all labels allowed
    everywhere) keeps all of its frames."""
    spans = []
    for b in range(len(batch.lengths)):
        t = int(batch.lengths[b])
        if batch.allowed is None:
            spans.append((0, t))
            continue
        speech = np.flatnonzero(batch.allowed[b, :t, 1:].any(-1).numpy())
        first, last = (int(speech[0]), int(speech[-1])) if len(speech) else (0, t - 1)
        start = int(rng.integers(0, max(0, first - margin) + 1))
        end = int(rng.integers(min(t, last + 1 + margin), t + 1))
        spans.append((start, end))
    return spans


def cut_batch(batch: Batch, spans: list[tuple[int, int]]) -> Batch:
    """``batch`` with each clip cut to its span and standardised on its own (the batch's frames are already
    standardised over the whole clip, and standardising is unchanged by an affine map of the pixels, so this is
    what the cut crops would give)."""
    lengths = [end - start for start, end in spans]
    frames = torch.zeros((len(spans), max(lengths), *batch.frames.shape[2:]), dtype=batch.frames.dtype)
    allowed = None
    if batch.allowed is not None:
        allowed = torch.zeros((len(spans), max(lengths), batch.allowed.shape[2]), dtype=torch.bool)
    for b, (start, end) in enumerate(spans):
        x = batch.frames[b, start:end]
        x = x - x.mean()
        std = x.std(unbiased=False)
        frames[b, : end - start] = x / std if std > 1e-6 else x
        if allowed is not None and batch.allowed is not None:
            allowed[b, : end - start] = batch.allowed[b, start:end]
    return Batch(
        frames,
        torch.tensor(lengths, dtype=torch.int64),
        batch.targets,
        batch.target_lengths,
        batch.indices,
        allowed,
        [source[start:end] for source, (start, end) in zip(batch.sources, spans)],
    )


def shared_divergence(full: torch.Tensor, cut: torch.Tensor, spans: list[tuple[int, int]]) -> torch.Tensor:
    """Per clip ``(B,)``: the symmetric KL divergence (nats) between ``full`` ``(B, T, V)`` and ``cut``
    ``(B, T', V)`` log-probabilities on the frames the cut kept, summed over them."""
    out = []
    for b, (start, end) in enumerate(spans):
        p, q = full[b, start:end].float(), cut[b, : end - start].float()
        out.append(0.5 * ((p.exp() - q.exp()) * (p - q)).sum())
    return torch.stack(out)


def make_term(margin: int, kl: float) -> Term:
    """The term of :func:`finetune.tune`: the cut's CTC plus ``kl`` times the shared frames' divergence."""

    def term(
        net: LipNet, lp: torch.Tensor, batch: Batch, rng: np.random.Generator, vocabulary: Vocabulary
    ) -> torch.Tensor:
        spans = cut_spans(batch, rng, margin)
        cut = cut_batch(batch, spans)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lp_cut = net(cut.frames, cut.lengths)
        loss = ctc_loss(lp_cut, cut)
        if kl:
            loss = loss + kl * shared_divergence(lp, lp_cut, spans)
        return loss.mean()

    return term


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser, "the cut's weight (0: the control)")
    parser.add_argument("--kl", type=float, default=1.0, help="the divergence's weight within the term")
    parser.add_argument("--margin", type=int, default=2, help="frames kept beyond the word times' tolerance")
    args = parser.parse_args(argv)
    tune(args, make_term(args.margin, args.kl), "consistency")


if __name__ == "__main__":
    main()
