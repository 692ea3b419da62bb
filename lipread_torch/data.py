"""Training data in memory and batches assembled in background threads.

Crops are held as ``uint8 (T, H, W, C)`` arrays; a batch is augmented (:class:`lipread.data.augmentation.Augmentation`),
standardised per clip (:func:`lipread.video.preprocess.normalise`) and zero-padded to its longest clip. Every
batch's randomness comes from its own generator seeded by ``(seed, epoch, rank, batch)``, so batches do
not depend on thread scheduling and an interrupted run can be resumed exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from lipread.data.augmentation import NO_AUGMENTATION, Augmentation
from lipread.data.dataset import Clip, CropCache
from lipread.data.training import allowed_labels, excerpt_span, word_frames
from lipread.errors import LipreadError
from lipread.report import report_skipped
from lipread.video.preprocess import normalise
from lipread.vocab import Vocabulary, too_short

__all__ = ["Batch", "BatchLoader", "Examples", "epoch_batches", "load_examples"]


@dataclass
class Examples:
    """Clips held in memory: their crops ``uint8 (T, H, W, C)``, sentences and encoded targets; the
    vocabulary encodes the sentences of word clips (see :func:`lipread.data.training.word_excerpt`)."""

    clips: list[Clip]
    crops: list[np.ndarray]
    targets: list[np.ndarray]
    vocabulary: Vocabulary | None = None

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def texts(self) -> list[str]:
        """The reference sentences."""
        return [c.text for c in self.clips]


@dataclass
class Batch:
    """One padded batch.

    Attributes:
        frames: ``float32 (B, T, H, W, C)``, zero past each clip's length.
        lengths: ``int64 (B,)`` valid frames per clip.
        targets: ``int64 (sum of target_lengths,)`` the concatenated label ids.
        target_lengths: ``int64 (B,)``.
        indices: the clips' positions in their :class:`Examples`.
        allowed: ``bool (B, T, V)``: the labels each frame may emit under an alignment tied to word times
            (see :func:`lipread.data.training.emission_mask`), or None for plain CTC.
        sources: per clip, ``int (lengths[b],)``: where each of its frames comes from in the clip's full crops
            (word clips cut them and frame jitter drops and repeats them), so that anything else known per frame
            of a clip can follow the same cuts.
    """

    frames: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor
    indices: np.ndarray
    allowed: torch.Tensor | None = None
    sources: list[np.ndarray] | None = None

    def to(self, device: torch.device) -> Batch:
        """The batch on ``device`` (asynchronous copies from pinned memory)."""
        nb = device.type == "cuda"
        return Batch(
            self.frames.to(device, non_blocking=nb),
            self.lengths.to(device, non_blocking=nb),
            self.targets.to(device, non_blocking=nb),
            self.target_lengths.to(device, non_blocking=nb),
            self.indices,
            self.allowed.to(device, non_blocking=nb) if self.allowed is not None else None,
            self.sources,
        )


def load_examples(
    cache: CropCache,
    clips: Sequence[Clip],
    vocabulary: Vocabulary,
    workers: int,
    progress: Callable[[int], None] | None = None,
) -> Examples:
    """Decode (or read from ``cache``) every clip's crops in ``workers`` threads and encode its sentence.

    Broken clips (unreadable video, a character outside the vocabulary, too few frames for the sentence:
    :func:`lipread.vocab.too_short`) are reported once on stderr and left out.
    """

    def one(clip: Clip) -> tuple[np.ndarray | None, np.ndarray | None, str]:
        try:
            target = np.asarray(vocabulary.encode(clip.text), np.int64)
            crops = cache.get(clip)
        except (LipreadError, ValueError) as e:
            return None, None, str(e)
        if len(target) == 0:
            return None, None, f"{clip.video}: empty sentence"
        if short := too_short(len(crops), target.tolist()):
            return None, None, short
        return crops, target, ""

    out = Examples([], [], [], vocabulary)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for clip, (crops, target, err) in zip(clips, pool.map(one, clips)):
            if crops is None or target is None:
                report_skipped(clip.origin or clip.video, err)
            else:
                out.clips.append(clip)
                out.crops.append(crops)
                out.targets.append(target)
            if progress is not None:
                progress(1)
    return out


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[np.ndarray]:
    """This process's batches of clip indices for one epoch.

    The clips are shuffled by a permutation seeded with ``(seed, epoch)``; with ``world`` processes the
    permutation is extended by wrapping around to a multiple of ``world`` and process ``rank`` takes every
    ``world``-th index, so every process gets the same number of batches.
    """
    order = np.random.default_rng([seed, epoch]).permutation(n)
    if world > 1:
        total = -(-n // world) * world
        order = np.resize(order, total)[rank::world]
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def make_batch(
    examples: Examples,
    indices: np.ndarray,
    rng: np.random.Generator | None,
    augmentation: Augmentation,
    pad_multiple: int = 1,
    pin: bool = False,
    word_clips: float = 0.0,
    align_tolerance: int | None = None,
) -> Batch:
    """Assemble one batch: cut word clips and augment (when ``rng`` is given), standardise per clip, pad
    time to the longest clip (rounded up to ``pad_multiple``); with ``align_tolerance``, also each frame's
    allowed labels (:func:`lipread.data.training.emission_mask`), carried through the same cuts and jitter (all
    labels, i.e. plain CTC, for a clip whose text has no alignment within them)."""
    crops = [examples.crops[i] for i in indices]
    targets = [examples.targets[i] for i in indices]
    sources = [np.arange(len(c)) for c in crops]  # each frame's index in its clip's full crops
    if rng is not None:
        if word_clips > 0:
            if examples.vocabulary is None:
                raise ValueError("word clips need the examples' vocabulary")
            for b, i in enumerate(indices):
                span = excerpt_span(word_frames(examples.clips[i]), len(crops[b]), rng, word_clips)
                if span is not None:
                    start, end, text = span
                    crops[b], sources[b] = crops[b][start:end], sources[b][start:end]
                    targets[b] = np.asarray(examples.vocabulary.encode(text), np.int64)
        for b in range(len(crops)):
            crops[b], kept = augmentation(crops[b], rng)
            sources[b] = sources[b][kept]
    lengths = np.array([len(c) for c in crops], np.int64)
    t = int(-(-lengths.max() // pad_multiple) * pad_multiple)
    frames = torch.zeros((len(crops), t, *crops[0].shape[1:]), dtype=torch.float32, pin_memory=pin)
    view = frames.numpy()
    for b, c in enumerate(crops):
        view[b, : len(c)] = normalise(c)
    allowed = None
    if align_tolerance is not None:
        if examples.vocabulary is None:
            raise ValueError("alignment-tied CTC needs the examples' vocabulary")
        allowed = torch.ones((len(crops), t, examples.vocabulary.size), dtype=torch.bool)
        for b, i in enumerate(indices):
            words, clip_frames = word_frames(examples.clips[i]), len(examples.crops[i])
            mask = allowed_labels(words, clip_frames, sources[b], targets[b], examples.vocabulary, align_tolerance)
            allowed[b, : len(mask)] = torch.from_numpy(mask)
    return Batch(
        frames,
        torch.from_numpy(lengths),
        torch.from_numpy(np.concatenate(targets)),
        torch.tensor([len(x) for x in targets], dtype=torch.int64),
        np.asarray(indices),
        allowed,
        sources,
    )


class BatchLoader:
    """Iterates batches assembled ahead of time by a pool of threads.

    Args:
        examples: the clips.
        batches: clip indices of each batch, in order.
        seeds: per batch, the seed of its augmentation generator, or None for no augmentation.
        augmentation: what is done to each clip of a batch that has a seed.
        word_clips: probability of cutting a run of words out of a clip (see
            :func:`lipread.data.training.word_excerpt`); needs ``examples.vocabulary``.
        align_tolerance: tie CTC alignments to word times with this tolerance in frames (see
            :func:`make_batch`); None: plain CTC.
        workers: threads (NumPy releases the GIL, so they run in parallel); at most 8 are used.
        prefetch: batches waiting, assembled, beyond those being assembled.
    """

    def __init__(
        self,
        examples: Examples,
        batches: Sequence[np.ndarray],
        seeds: Sequence[Sequence[int]] | None,
        *,
        augmentation: Augmentation = NO_AUGMENTATION,
        word_clips: float = 0.0,
        align_tolerance: int | None = None,
        workers: int = 2,
        prefetch: int = 4,
        pad_multiple: int = 1,
        pin: bool = False,
    ) -> None:
        self.examples = examples
        self.batches = list(batches)
        self.seeds = list(seeds) if seeds is not None else None
        self.augmentation, self.word_clips = augmentation, word_clips
        self.align_tolerance = align_tolerance
        self.workers, self.prefetch = min(8, max(1, workers)), max(1, prefetch)
        self.pad_multiple, self.pin = pad_multiple, pin

    def __len__(self) -> int:
        return len(self.batches)

    def _make(self, k: int) -> Batch:
        rng = np.random.default_rng(self.seeds[k]) if self.seeds is not None else None
        return make_batch(
            self.examples,
            self.batches[k],
            rng,
            self.augmentation,
            self.pad_multiple,
            self.pin,
            self.word_clips,
            self.align_tolerance,
        )

    def __iter__(self) -> Iterator[Batch]:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            pending: deque[Future[Batch]] = deque()
            submitted = 0
            try:
                for _ in range(len(self.batches)):
                    while submitted < len(self.batches) and len(pending) < self.prefetch + self.workers:
                        pending.append(pool.submit(self._make, submitted))
                        submitted += 1
                    yield pending.popleft().result()
            finally:
                for f in pending:
                    f.cancel()
