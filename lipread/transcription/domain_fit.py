"""Computing a model's domain statistics (:mod:`lipread.transcription.domain`) from its training clips.

:func:`measure_clips` runs the model over clips as :func:`~lipread.api.transcribe` does (the same mouth crops)
and keeps what the statistics need: the clip's :class:`ClipSummary`, and, for each decoder asked for, the raw
confidence of each word it read with whether the word is right. :func:`fit_statistics` turns the measurements
of the training clips into a :class:`DomainStats`, with a calibration of word confidences per decoder fitted on
the same clips.
``tools/domain_stats.py`` runs both and writes the result into a model file's metadata.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.augmentation import greyed
from ..data.dataset import Clip, CropCache
from ..decoding.decoders import make_decoder, timed_words
from ..video.preprocess import normalise
from ..video.reader import probe, read_frames
from .domain import ClipSummary, DomainStats, fit_confidence, summarise, word_hits
from .transcriber import Transcriber

__all__ = ["MeasuredClip", "fit_statistics", "load_measurements", "measure_clips", "save_measurements"]


@dataclass(frozen=True)
class MeasuredClip:
    """One clip as the model saw and read it.

    Attributes:
        key: the clip's key (e.g. ``"s1_bbaf2n"``).
        summary: what :func:`~lipread.transcription.domain.summarise` measured.
        confidences: decoder name -> the raw confidence of each word it read, in [0, 1].
        hits: decoder name -> whether each of those words is right (an optimal alignment with the clip's text).
    """

    key: str
    summary: ClipSummary
    confidences: dict[str, tuple[float, ...]]
    hits: dict[str, tuple[bool, ...]]


def measure_clips(
    transcriber: Transcriber,
    clips: Sequence[Clip],
    cache: str | os.PathLike[str] | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    decoders: Sequence[str] = (),
    grey: bool = False,
) -> list[MeasuredClip]:
    """Run ``transcriber``'s model over ``clips`` and measure each (see :class:`MeasuredClip`).

    Args:
        cache: a crop cache folder (:class:`~lipread.data.dataset.CropCache`, as ``lipread train --cache``
            fills it): crops are read from it, and stored there when missing. None: every clip is decoded.
        workers: threads decoding clips while the model runs.
        progress: called with 1 after each clip.
        decoders: the decoders whose words are measured (names of
            :data:`~lipread.decoding.decoders.DECODERS`, default width); empty: ``transcriber``'s own.
        grey: measure the clips as a black-and-white video of them reads (each decoded frame's luma in all
            three channels, :func:`~lipread.data.augmentation.greyed`, and the mouth located on those frames),
            as the statistics of :attr:`DomainStats.grey` need; ``cache`` is not used for them (the face
            detector places the mouth box a little differently on grey frames, enough to change the
            measurements).

    Clips too long to read in one pass are left out (the statistics need a clip's whole input).
    """
    config = transcriber.config
    crops = CropCache(cache, config, transcriber.locator) if cache is not None else None
    readers = {name: make_decoder(name, config.vocabulary) for name in decoders} or {
        transcriber.decoder.name: transcriber.decoder
    }

    def frames(clip: Clip) -> np.ndarray | None:
        if grey:  # the mouth found on the grey frames, as in a black-and-white video: not the colour crops
            start, count = clip.frame_span()
            frames = greyed(read_frames(clip.video, count, start))
            return transcriber.prepare(frames, probe(clip.video).fps).frames
        if crops is not None:
            return normalise(crops.get(clip))
        return transcriber.prepare(clip.video).frames

    out = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for clip, x in zip(clips, pool.map(frames, clips)):
            if progress is not None:
                progress(1)
            if x is None:
                continue
            lp = np.asarray(transcriber.model.logprobs(x[None], np.array([x.shape[0]], np.int32)))[0]
            confidences, hits = {}, {}
            for name, decoder in readers.items():
                hyp = decoder.decode_batch(lp[None], [lp.shape[0]])[0]
                words = timed_words(hyp, lp, config.vocabulary)
                hits[name] = tuple(word_hits(clip.text.split(), [w.word for w in words]))
                confidences[name] = tuple(float(w.confidence) for w in words)
            out.append(MeasuredClip(clip.key, summarise(x, lp), confidences, hits))
    return out


def fit_statistics(
    measured: Sequence[MeasuredClip], calibrate: bool = True, decoders: Sequence[str] | None = None
) -> DomainStats:
    """The :class:`DomainStats` of training clips, with a word-confidence calibration for each of ``decoders``
    (None: every decoder measured), fitted on the words it read (``calibrate``; else none)."""
    confidence = {}
    names = sorted({name for m in measured for name in m.confidences} if decoders is None else set(decoders))
    for name in names if calibrate else []:
        raw = [c for m in measured for c in m.confidences.get(name, ())]
        hits = [h for m in measured for h in m.hits.get(name, ())]
        if raw:
            confidence[name] = fit_confidence(raw, hits)
    return DomainStats.fit([m.summary for m in measured], confidence)


def save_measurements(path: str | os.PathLike[str], measured: Sequence[MeasuredClip]) -> None:
    """Store measurements in a ``.npz`` file (so that statistics can be refitted without the model)."""
    names = sorted({name for m in measured for name in m.confidences})
    arrays: dict[str, Any] = {
        "keys": np.array([m.key for m in measured]),
        "crops": np.stack([m.summary.crop for m in measured]),  # type: ignore[misc]
        "scalars": np.array([[m.summary.motion, m.summary.blank, m.summary.peak, m.summary.entropy] for m in measured]),
        "decoders": np.array(names),
    }
    for name in names:
        arrays[f"word_counts_{name}"] = np.array([len(m.confidences.get(name, ())) for m in measured], np.int64)
        arrays[f"confidences_{name}"] = np.array([c for m in measured for c in m.confidences.get(name, ())])
        arrays[f"hits_{name}"] = np.array([h for m in measured for h in m.hits.get(name, ())], bool)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_measurements(path: str | os.PathLike[str]) -> list[MeasuredClip]:
    """Measurements stored by :func:`save_measurements`."""
    with np.load(path, allow_pickle=False) as z:
        names = [str(n) for n in z["decoders"]]
        words: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for name in names:
            ends = np.cumsum(z[f"word_counts_{name}"])
            words[name] = (ends, z[f"confidences_{name}"], z[f"hits_{name}"])
        out = []
        for i, (key, crop, s) in enumerate(zip(z["keys"], z["crops"], z["scalars"])):
            confidences, hits = {}, {}
            for name, (ends, conf, hit) in words.items():
                a, b = (ends[i - 1] if i else 0), ends[i]
                confidences[name] = tuple(float(c) for c in conf[a:b])
                hits[name] = tuple(bool(h) for h in hit[a:b])
            summary = ClipSummary(crop, float(s[0]), float(s[1]), float(s[2]), float(s[3]))
            out.append(MeasuredClip(str(key), summary, confidences, hits))
        return out
