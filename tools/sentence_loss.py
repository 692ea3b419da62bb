"""Does training the model to tell each sentence from its grammar neighbours make the grammar decoder read better?

An experiment, not a feature. CTC makes the labels of the true sentence likely; the grammar decoder then picks,
among GRID sentences, the most likely one. Its errors are one word wrong, mostly a letter of a look-alike
(d/t, e/d, g/t: training.md). A sentence-level term, in the manner of the discriminative training of speech
recognisers (MMI), aims the training at that choice: for each clip, the CTC log-likelihoods of its sentence and of
every sentence that differs from it in one word of the same slot (45 for a full GRID sentence, fewer for the
word clips that training cuts out), and the cross-entropy of the true one among them::

    loss = CTC(true, tied to word times) + weight * (logsumexp(scores) - score(true)),  score = -CTC(plain)

The neighbours' CTC is plain (no word times): the decoder does not know them either. ``--weight 0`` is the
control: the same batches, cuts, augmentation draws, dropout and schedule (``tools/finetune.py``), and the same run
as ``tools/lip_coordinates.py tune --without``. Each epoch prints validation WER and CER with the greedy, beam and
grammar decoders and appends them to ``<run>/history.json``.

Usage::

    python tools/sentence_loss.py ../shared/data/grid --cache runs/cache -o runs/sentence-s1 --seed 1 --weight 1

An epoch takes about 3 minutes on one core.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lipread.data.grid import GRAMMAR
from lipread.vocab import Vocabulary
from lipread_torch.data import Batch
from lipread_torch.model import LipNet

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tools folder, for finetune
from finetune import add_arguments, tune

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


def _term(
    net: LipNet, lp: torch.Tensor, batch: Batch, rng: np.random.Generator, vocabulary: Vocabulary
) -> torch.Tensor:
    """:func:`sentence_loss` as :func:`finetune.tune`'s term (it needs neither the model nor random numbers)."""
    return sentence_loss(lp, batch, vocabulary).mean()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser, "the sentence term's weight (0: the control)")
    tune(parser.parse_args(argv), _term, "sentence_loss")


if __name__ == "__main__":
    main()
