"""Does penalising confident frame posteriors make the model read clips it never trained on better?

An experiment, not a feature. CTC trains the model to put nearly all of a frame's probability on one label, and
on speaker 1's 810 training clips it ends up surer than it is right: the grammar decoder's remaining errors are
look-alike letters (d/t, e/d, g/t: training.md) read with confidence. A confidence penalty (Pereyra et al., 2017,
"Regularizing neural networks by penalizing confident output distributions", which reports gains for speech
recognition) rewards the entropy of each frame's posterior, summed over the clip's frames::

    loss = CTC(true, tied to word times) - weight * sum over frames t of H(p_t),  H(p) = -sum_k p_k log p_k

The weight is 0.01 by default (with 0.1 the penalty outweighed CTC: training.md). ``--weight 0`` is the control of
``tools/finetune.py`` (the same run as ``tools/sentence_loss.py --weight 0``).
Each epoch prints validation WER and CER with the greedy, beam and grammar decoders and appends them to
``<run>/history.json``.

Usage::

    python tools/confidence_penalty.py ../shared/data/grid --cache runs/cache -o runs/confidence-s1 --seed 1

An epoch takes about 3 minutes on one core.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tools folder, for finetune
from finetune import add_arguments, tune


def frame_entropy(lp: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Per clip, the entropy of its frames' posteriors summed over its valid frames, in nats: ``(B,)`` from
    log-probabilities ``(B, T, V)`` and valid frames per clip ``(B,)`` (frames past a clip's length count
    nothing)."""
    lp = lp.float()
    entropy = -(lp.exp() * lp).sum(-1)
    valid = torch.arange(lp.shape[1])[None, :] < lengths[:, None]
    return (entropy * valid).sum(1)


def _term(
    net: LipNet, lp: torch.Tensor, batch: Batch, rng: np.random.Generator, vocabulary: Vocabulary
) -> torch.Tensor:
    """The negative of :func:`frame_entropy`, averaged over the batch, as :func:`finetune.tune`'s term."""
    return -frame_entropy(lp, batch.lengths).mean()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser, "the penalty's weight per frame (0: the control)")
    parser.set_defaults(weight=0.01)
    tune(parser.parse_args(argv), _term, "penalty")


if __name__ == "__main__":
    main()
