"""Validation readings scored with several decoders: what the experiment tools print after every epoch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lipread.data.metrics import summarise
from lipread.decoding.decoders import make_decoder
from lipread.vocab import Vocabulary

DECODERS = ("greedy", "beam", "grammar")


def decoder_scores(
    references: list[str], logprobs: list[np.ndarray], vocabulary: Vocabulary, decoders: Sequence[str] = DECODERS
) -> dict[str, float]:
    """CER, WER and sentence accuracy of ``logprobs`` (one ``(T, V)`` array per clip) against ``references``,
    decoded by each of ``decoders``: ``{"greedy_wer": ..., "beam_cer": ..., ...}``, rounded to 4 places."""
    scores = {}
    for name in decoders:
        decoder = make_decoder(name, vocabulary)
        texts = [decoder.decode_batch(lp[None], [len(lp)])[0].text for lp in logprobs]
        for key, value in summarise(references, texts).items():
            scores[f"{name}_{key}"] = round(value, 4)
    return scores
