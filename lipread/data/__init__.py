"""Training and evaluation data: the GRID corpus (:mod:`~lipread.data.grid`: its grammar, file names and
speakers), its word alignments (:mod:`~lipread.data.align`), finding and splitting clips
(:mod:`~lipread.data.dataset`), data sets of your own (:mod:`~lipread.data.manifest`: manifests, LRS-style
folders), augmentations (:mod:`~lipread.data.augmentation`), the error rates
(:mod:`~lipread.data.metrics`) and what every backend's trainer shares (:mod:`~lipread.data.training`).

It sits above :mod:`lipread.video` (a data set reads its clips through it) and below :mod:`lipread.decoding`,
which takes the GRID grammar from :mod:`~lipread.data.grid` as the default language of its constrained
decoders. The metrics live here because both the trainers and ``lipread eval`` report them; nothing here
imports a decoder, a backend or the CLI.
"""

from __future__ import annotations

from .align import load_alignment
from .dataset import Clip, find_clips, split_clips
from .metrics import cer, sentence_accuracy, summarise, wer
from .training import TrainOptions, TrainResult

__all__ = [
    "Clip",
    "TrainOptions",
    "TrainResult",
    "cer",
    "find_clips",
    "load_alignment",
    "sentence_accuracy",
    "split_clips",
    "summarise",
    "wer",
]
