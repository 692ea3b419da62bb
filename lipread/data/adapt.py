"""Adapting a trained model to a new speaker from a few labelled clips: how long to train, how fast, and which
weights to leave alone, chosen from the number of clips (``lipread adapt``), and the check that a model can
write every character of the clips' texts (:func:`lipread.data.alphabet.missing_characters`, here too).

The rule (:func:`adapt_plan`), for ``n`` training clips:

- **What trains.** Every weight. A model trained on one speaker has learnt that speaker in all its layers:
  the front end what the mouth looks like, the recurrent layers how fast and in what rhythm the sounds
  follow each other. Training the front end alone (``freeze=("rnn", "classifier")``) was the first choice
  for a handful of clips, as the smaller change, but on six clips of a new GRID speaker it could not fit
  even the training clips (their CTC loss fell from 83 to 30-39 nats a clip, against 7-8 when every weight
  trains), so the recurrent layers train too. :data:`lipread.data.training.FREEZABLE` parts can
  still be frozen by hand (``lipread adapt --freeze``).
- **How fast.** Adam at 2e-4 under :data:`FEW_CLIPS` clips (the rate that fine-tuned an earlier shipped model,
  trained in two steps, to its word times), one clip per batch: batches of 4 would leave a handful of clips two
  or three optimiser steps an epoch, too few in the epochs below. From :data:`FEW_CLIPS` clips on, 1e-4 in
  batches of 4, as in training: enough steps, and a gentler rate keeps what the model knew while many clips
  pull it along.
- **How long.** About :data:`CLIP_PASSES` clip passes in all: ``ceil(CLIP_PASSES / n)`` epochs, at least
  :data:`MIN_EPOCHS` (so that many clips still get a schedule) and at most :data:`MAX_EPOCHS` (so that one or
  two clips are not drilled into the model). The first half of the epochs run at the full rate, the second
  half decays it to a tenth by its end.

Every clip trains: with a handful there is none to spare for validation, so the run keeps its last epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..report import counted
from .alphabet import missing_characters

__all__ = [
    "CLIP_PASSES",
    "FEW_CLIPS",
    "MAX_EPOCHS",
    "MIN_EPOCHS",
    "AdaptPlan",
    "adapt_plan",
    "missing_characters",
]

FEW_CLIPS = 100
"""Below this many clips batches are one clip and the rate is higher (:func:`adapt_plan`)."""
CLIP_PASSES = 180
"""About this many clips are trained on in all (clips times epochs), within the epoch limits."""
MIN_EPOCHS = 10
"""The fewest epochs an adaptation runs."""
MAX_EPOCHS = 40
"""The most epochs an adaptation runs."""


@dataclass(frozen=True)
class AdaptPlan:
    """How an adaptation trains (the fields of :class:`lipread.data.training.TrainOptions` it sets).

    Attributes:
        clips: the number of training clips the plan was made for.
        batch_size: clips per optimiser step.
        freeze: the parts of the model that keep their weights (:data:`lipread.data.training.FREEZABLE`).
        lr: Adam learning rate.
        epochs: epochs in all.
        constant_epochs: epochs at the full rate; after them it is multiplied by ``exp(-decay)`` per epoch.
        decay: the decay per epoch.
    """

    clips: int
    batch_size: int
    freeze: tuple[str, ...]
    lr: float
    epochs: int
    constant_epochs: int
    decay: float

    def describe(self) -> str:
        """One line for the user: what trains, for how long, how fast."""
        trains = "every weight trains" if not self.freeze else f"{', '.join(self.freeze)} frozen"
        return f"{counted(self.clips, 'clip')}: {trains}, {counted(self.epochs, 'epoch')}, learning rate {self.lr:g}"


def adapt_plan(clips: int, epochs: int | None = None, lr: float | None = None) -> AdaptPlan:
    """The training of an adaptation to ``clips`` labelled clips (the rule of :mod:`lipread.data.adapt`).

    Args:
        clips: the number of training clips (at least 1).
        epochs: replaces the rule's number of epochs (None: the rule's); the schedule follows it.
        lr: replaces the rule's learning rate (None: the rule's).

    Raises:
        ValueError: ``clips`` or ``epochs`` below 1, ``lr`` not positive.
    """
    if clips < 1:
        raise ValueError(f"an adaptation needs at least one clip, not {clips}")
    few = clips < FEW_CLIPS
    if epochs is None:
        epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(CLIP_PASSES / clips)))
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, not {epochs}")
    if lr is None:
        lr = 2e-4 if few else 1e-4
    if not lr > 0:
        raise ValueError(f"the learning rate must be positive, not {lr}")
    constant = max(1, epochs // 2)
    decay = math.log(10) / max(1, epochs - constant)  # a tenth of the rate by the last epoch
    return AdaptPlan(clips, 1 if few else 4, (), lr, epochs, constant, decay)
