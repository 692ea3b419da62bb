"""What every backend's trainer shares: the options (and the augmentations they choose), the learning-rate
schedule, word-level examples, the frames where an alignment lets CTC emit each label, and the per-epoch
validation report. The trainers themselves live in the backends."""

from __future__ import annotations

import functools
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import MAX_BEAM_WIDTH, ModelConfig, get_preset
from ..errors import DataError
from ..report import report_skipped
from ..vocab import Vocabulary
from .align import load_alignment
from .augmentation import Augmentation
from .dataset import Clip, find_clips, split_clips
from .metrics import summarise

__all__ = [
    "FREEZABLE",
    "TrainOptions",
    "TrainResult",
    "alignment_exists",
    "allowed_labels",
    "emission_mask",
    "epoch_summary",
    "excerpt_span",
    "format_examples",
    "learning_rate",
    "selection_score",
    "training_clips",
    "validation_report",
    "word_excerpt",
    "word_frames",
]

FREEZABLE = ("frontend", "rnn", "classifier")
"""The parts of a model that :attr:`TrainOptions.freeze` can keep as they are: the canonical tensor names'
first component (``frontend.*`` the convolutions, ``rnn.*`` the recurrent layers, ``classifier.*`` the output
layer)."""


@dataclass
class TrainOptions:
    """Options of ``lipread train`` (identical for every backend).

    The defaults are the recipe that trained the shipped ``lipnet-grid-s1`` from scratch on 810 clips of one
    speaker, before the 30 epochs of a warm restart and the 12 of a grey fine-tune that made it (its model card
    has the commands; ``lipread train`` runs the three in one, :mod:`lipread.data.restart`): CTC alignments tied to the
    word times (``align_tolerance=3``),
    Adam at 5e-4 for 52 epochs, then decaying by ``exp(-0.15)`` per epoch to epoch 68, batches of 4, no spatial
    dropout, half the examples cut to 1-3 words. Tying the alignments to the word times is what lets the network
    leave its early phase (the same sentence for every clip) in a few epochs instead of about 18, and gives
    word times that follow the speaker; the long phase at the full rate before the decay read a quarter fewer
    words wrong than 24 epochs did (docs/training.md). LipNet's own settings (spatial dropout 0.5, 1e-4,
    batches of 8) were made for tens of thousands of clips and never left that phase on this data.

    Attributes:
        data: a GRID root folder, a manifest or an LRS-style folder (any layout
            :func:`lipread.data.dataset.find_clips` understands).
        output: run folder: checkpoints (``last.ckpt``, ``best.ckpt``), canonical models
            (``last.safetensors``, ``best.safetensors``), ``history.jsonl`` and the training texts' word list
            ``words.txt`` (:data:`lipread.data.alphabet.WORDS_FILE`).
        config: the model to train (a preset name or a :class:`ModelConfig`); its vocabulary is replaced as
            ``vocabulary`` says (:func:`lipread.data.alphabet.with_training_vocabulary`).
        vocabulary: the model's output characters. None (the default): for a manifest or an LRS-style folder
            the characters of the data's texts (:func:`lipread.data.alphabet.vocabulary_from_texts`); for a
            GRID layout, and when fine-tuning ``init``, the config's (a GRID model keeps its preset's classes,
            so its checkpoints stay compatible with the shipped model's). A path: a vocabulary file
            (:func:`lipread.data.alphabet.read_vocabulary`); a :class:`~lipread.vocab.Vocabulary`: that one.
            A fixed vocabulary that lacks a character of the texts stops the run before it starts.
        split: ``"random"`` (seeded ``val_fraction`` of the clips), ``"unseen"`` or ``"overlapped"``.
        epochs: total epochs to reach (a resumed run continues up to this number).
        batch_size: clips per step (per process under distributed training).
        lr: Adam learning rate.
        constant_epochs, decay: the schedule: ``lr`` for ``constant_epochs`` epochs, then multiplied by
            ``exp(-decay)`` every epoch (the LipNet notebook's ``scheduler``).
        mirror: randomly flip crops horizontally (probability 0.5 per clip).
        frame_jitter: probability per frame of deleting it, and (separately) of duplicating it.
        time_mask: most frames per window replaced by the clip's mean frame, one window per second (0: off).
        shift, scale, rotation: random jitter of the mouth box per clip: fraction of the crop size, relative
            zoom, degrees (0: off).
        colour: random brightness, contrast and saturation change per clip, relative (0: off).
        greyscale: probability of training on an RGB clip made grey.
        mixup: mixup's ``alpha``: every training clip is blended with another clip of its batch, weight
            ``max(lam, 1 - lam)`` with ``lam ~ Beta(alpha, alpha)``, and the loss is the same blend of the
            two sentences' CTC losses (``lipread_torch.mixup``). 0 (the default) switches it off. Only the
            torch backend supports it; the TensorFlow backend refuses a run that asks for it.
        word_clips: probability that a training clip is replaced by a run of 1 to 3 of its words, cut out
            with the frame times of its alignment (LipNet's word-level examples; 0 switches them off).
        align_tolerance: tie each clip's CTC alignment to its GRID word times: a word's characters may
            only be emitted within its frames widened by this many frames on either side, the space between
            two words only that close to their boundary (:func:`emission_mask`). Word times then follow
            the speaker. None: plain CTC. Clips without an alignment file, and clips whose text cannot
            be aligned within those frames (:func:`alignment_exists`), train with plain CTC.
        init: start from the weights of this canonical checkpoint (fine-tuning) instead of a random
            initialisation; its model configuration must be the run's. Ignored when resuming.
        conv_dropout: spatial dropout after every convolution block in place of the preset's rates (None:
            the preset's; 0, the default: none). LipNet's 0.5 was set for tens of thousands of clips. Only
            training changes; the model and its checkpoint are the preset's.
        cache: folder for decoded crops (``<output>/../cache`` when None).
        resume: continue from ``<output>/last.ckpt``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        amp: automatic mixed precision (None: on for CUDA, off on CPU).
        workers: threads for decoding and batch assembly (0: one per CPU core).
        max_clips: use only the first N clips of the index (quick experiments, tests).
        train_on_validation: train on the validation clips too (memorisation tests).
        beam_width: beam for the per-epoch beam-search metrics (0 skips beam decoding).
        examples: example predictions printed after each epoch.
        seed: seeds model init, shuffling and augmentation.
        split_seed: seeds the ``"random"`` and ``"overlapped"`` splits, apart from ``seed`` so that runs with
            other seeds validate on the same clips (the shipped model's split is seed 0).
        progress: progress bars on stderr: True always, False never, None (auto) only when stderr is a
            terminal (:func:`lipread.progress.show_progress`; Keras' bar, which goes to stdout, only when
            stdout is one).
        time_limit: minutes; stop cleanly after the epoch during which this much time has passed (the run
            can be continued later with ``resume``). None: no limit.
        extra: options of a third-party backend (``lipread train --extra KEY=VALUE``); the built-in backends
            have none and refuse a run that sets any.
        freeze: parts of the model (of :data:`FREEZABLE`) whose weights training leaves as they are, e.g.
            ``("rnn", "classifier")`` to adapt only the convolutional front end of an ``init`` model to a new
            speaker. Empty (the default): every weight trains. Only the torch backend supports it; the
            TensorFlow backend refuses a run that asks for it.

    Raises:
        DataError: ``frame_jitter`` or ``word_clips`` outside 0..1, ``conv_dropout`` outside [0, 1),
            a negative ``align_tolerance``, a ``freeze`` part not in :data:`FREEZABLE` or all of them.
    """

    data: Path
    output: Path
    config: ModelConfig | str = "lipnet"
    split: str = "random"
    val_fraction: float = 0.1
    epochs: int = 68
    batch_size: int = 4
    lr: float = 5e-4
    constant_epochs: int = 52
    decay: float = 0.15
    mirror: bool = True
    frame_jitter: float = 0.05
    time_mask: int = 0
    shift: float = 0.0
    scale: float = 0.0
    rotation: float = 0.0
    colour: float = 0.0
    greyscale: float = 0.0
    mixup: float = 0.0
    word_clips: float = 0.5
    align_tolerance: int | None = 3
    init: Path | None = None
    conv_dropout: float | None = 0.0
    cache: Path | None = None
    resume: bool = False
    device: str = "auto"
    amp: bool | None = None
    workers: int = 2
    max_clips: int | None = None
    train_on_validation: bool = False
    beam_width: int = 10
    examples: int = 3
    seed: int = 0
    split_seed: int = 0
    progress: bool | None = None
    time_limit: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    freeze: tuple[str, ...] = ()
    vocabulary: Path | Vocabulary | None = None

    def __post_init__(self) -> None:
        self.data = Path(self.data)
        self.output = Path(self.output)
        if self.cache is not None:
            self.cache = Path(self.cache)
        if self.init is not None:
            self.init = Path(self.init)
        if isinstance(self.vocabulary, (str, os.PathLike)):
            self.vocabulary = Path(self.vocabulary)
        elif self.vocabulary is not None and not isinstance(self.vocabulary, Vocabulary):
            raise DataError(f"vocabulary is a file or a Vocabulary, not {self.vocabulary!r}")
        tolerance = self.align_tolerance
        if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 0):
            raise DataError(f"align_tolerance is a number of frames >= 0, not {self.align_tolerance!r}")
        for name in ("frame_jitter", "word_clips", "greyscale"):
            if not 0 <= getattr(self, name) <= 1:
                raise DataError(f"{name} is a probability between 0 and 1, not {getattr(self, name)}")
        for name in ("shift", "scale", "colour"):
            if not 0 <= getattr(self, name) < 1:
                raise DataError(f"{name} is a fraction in [0, 1), not {getattr(self, name)}")
        if not 0 <= self.mixup <= 10:
            raise DataError(f"mixup is a Beta distribution's alpha in [0, 10] (0: off), not {self.mixup}")
        if not 0 <= self.rotation <= 45:
            raise DataError(f"rotation is at most 45 degrees, not {self.rotation}")
        if not (math.isfinite(self.lr) and self.lr >= 0):  # 0 keeps every weight (BatchNorm statistics move)
            raise DataError(f"lr is a learning rate >= 0, not {self.lr}")
        if not 0 <= self.val_fraction <= 1:  # all of them only with train_on_validation; the split says so
            raise DataError(f"val_fraction is a share of the clips from 0 to 1, not {self.val_fraction}")
        if not (math.isfinite(self.decay) and self.decay >= 0):
            raise DataError(f"decay is a rate >= 0 per epoch, not {self.decay}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise DataError(f"time_limit is a positive number of minutes, not {self.time_limit}")
        if isinstance(self.time_mask, bool) or not isinstance(self.time_mask, int) or self.time_mask < 0:
            raise DataError(f"time_mask is a number of frames >= 0, not {self.time_mask!r}")
        self.freeze = (self.freeze,) if isinstance(self.freeze, str) else tuple(self.freeze)
        unknown = [part for part in self.freeze if part not in FREEZABLE]
        if unknown:
            raise DataError(f"freeze: unknown part {unknown[0]!r}; the parts are {', '.join(FREEZABLE)}")
        if set(self.freeze) == set(FREEZABLE):
            raise DataError(f"freeze: {', '.join(FREEZABLE)} frozen together leave nothing to train")
        if self.conv_dropout is not None and not 0 <= self.conv_dropout < 1:
            raise DataError(f"conv_dropout is a probability in [0, 1), not {self.conv_dropout}")
        for name, low, high in (
            ("batch_size", 1, None),
            ("epochs", 0, None),
            ("constant_epochs", 0, None),
            ("workers", 0, None),
            ("examples", 0, None),
            ("beam_width", 0, MAX_BEAM_WIDTH),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise DataError(f"{name} must be a whole number >= {low}, not {value!r}")
            if high is not None and value > high:
                raise DataError(f"{name} is {value}; it must be at most {high}")

    @property
    def threads(self) -> int:
        """The threads ``workers`` asks for, at most one per CPU core (0: one per core)."""
        cores = os.cpu_count() or 1
        return min(self.workers, cores) if self.workers > 0 else cores

    @property
    def augmentation(self) -> Augmentation:
        """What is done at random to each training clip (its crops, after any word clip is cut)."""
        return Augmentation(
            self.mirror,
            self.frame_jitter,
            self.time_mask,
            self.shift,
            self.scale,
            self.rotation,
            self.colour,
            self.greyscale,
        )

    @property
    def model_config(self) -> ModelConfig:
        """``config`` as a :class:`ModelConfig`."""
        return get_preset(self.config) if isinstance(self.config, str) else self.config

    @property
    def cache_dir(self) -> Path:
        """Where decoded crops go."""
        return self.cache if self.cache is not None else self.output.parent / "cache"

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form, stored with checkpoints as ``trained_on``."""
        d = asdict(self)
        d["data"], d["output"] = str(self.data), str(self.output)
        d["cache"] = str(self.cache) if self.cache else None
        d["init"] = str(self.init) if self.init else None
        d["config"] = self.model_config.name
        if isinstance(self.vocabulary, Vocabulary):
            d["vocabulary"] = self.vocabulary.to_json()
        elif self.vocabulary is not None:
            d["vocabulary"] = str(self.vocabulary)
        return d


@dataclass
class TrainResult:
    """Where a finished training run left its files, and its per-epoch history."""

    output: Path
    best: Path | None
    last: Path
    history: list[dict[str, Any]]


def training_clips(options: TrainOptions) -> tuple[list[Clip], list[Clip]]:
    """The (train, validation) clips ``options`` select: every clip of ``options.data`` (the first
    ``max_clips``), split by :func:`lipread.data.dataset.split_clips`; with ``train_on_validation`` the
    validation clips are trained on too, and with ``val_fraction >= 1`` as well every clip is validated.

    Raises:
        DataError: no clips, or a split that leaves one side empty.
    """
    # The first max_clips are taken from every clip, as training_vocabulary took them, and only then are
    # those the vocabulary cannot write left out (and reported): a clip beyond them is not reported as
    # skipped for a character that only the first ones' alphabet lacks.
    from .alphabet import accepting_all, missing_characters  # alphabet reads TrainOptions from here

    vocabulary = options.model_config.vocabulary
    clips = find_clips(options.data, vocabulary=accepting_all(vocabulary))[: options.max_clips]
    unwritable = {id(c): missing_characters([c.text], vocabulary) for c in clips}
    for clip in clips:
        if unwritable[id(clip)]:
            why = f"character {unwritable[id(clip)][0]!r} is not in the {vocabulary.name!r} vocabulary"
            report_skipped(clip.origin or clip.video, why)
    clips = [c for c in clips if not unwritable[id(c)]]
    if options.train_on_validation and options.val_fraction >= 1:
        return list(clips), list(clips)
    try:
        train, val = split_clips(clips, options.split, options.val_fraction, options.split_seed)
    except DataError as e:
        raise DataError(f"{options.data}: {e}") from None
    if options.train_on_validation:
        train = sorted(train + val, key=lambda c: c.key)
    return train, val


def learning_rate(epoch: int, lr: float, constant_epochs: int = 30, decay: float = 0.1) -> float:
    """The learning rate for 0-based ``epoch``: ``lr`` until ``constant_epochs``, then ``x exp(-decay)`` per epoch."""
    return lr * math.exp(-decay * max(0, epoch - constant_epochs + 1)) if epoch >= constant_epochs else lr


def word_frames(clip: Clip, fps: float = 25.0) -> tuple[tuple[str, int, int], ...]:
    """Each spoken word of ``clip`` as ``(word, first frame, end frame)`` (end exclusive), from its
    alignment at ``fps`` frames per second; ``()`` for a clip without an alignment file."""
    if clip.alignment is None:
        return ()
    return _word_frames(str(clip.alignment), fps)


@functools.lru_cache(maxsize=65536)
def _word_frames(path: str, fps: float) -> tuple[tuple[str, int, int], ...]:
    words = load_alignment(path).words
    return tuple((w.word, round(w.start * fps), max(round(w.end * fps), round(w.start * fps) + 1)) for w in words)


def word_excerpt(
    crops: np.ndarray,
    words: tuple[tuple[str, int, int], ...],
    rng: np.random.Generator,
    probability: float,
    max_words: int = 3,
    margin: int = 2,
) -> tuple[np.ndarray, str | None]:
    """LipNet's word-level training examples, cut out of a sentence clip.

    With probability ``probability``, picks a run of 1 to ``max_words`` consecutive words of ``words``
    (as :func:`word_frames` gives them) and returns its frames, with ``margin`` frames of context on
    either side, and its text. Otherwise returns ``(crops, None)``: the whole clip and its own sentence.
    No random number is drawn when ``probability`` is 0, so runs without word clips are unchanged.

    Args:
        crops: one clip's crops ``(T, H, W, C)``.
    """
    span = excerpt_span(words, len(crops), rng, probability, max_words, margin)
    if span is None:
        return crops, None
    start, end, text = span
    return crops[start:end], text


def excerpt_span(
    words: tuple[tuple[str, int, int], ...],
    num_frames: int,
    rng: np.random.Generator,
    probability: float,
    max_words: int = 3,
    margin: int = 2,
) -> tuple[int, int, str] | None:
    """The choice :func:`word_excerpt` makes, for a clip of ``num_frames`` frames: ``(first frame, end frame
    (exclusive), text)`` of the excerpt, or None for the whole clip. It draws the same random numbers."""
    if probability <= 0 or not words:
        return None
    if rng.random() >= probability:
        return None
    n = int(rng.integers(1, min(max_words, len(words)) + 1))
    i = int(rng.integers(0, len(words) - n + 1))
    start = max(0, words[i][1] - margin)
    end = min(num_frames, words[i + n - 1][2] + margin)
    if end - start < 2:
        return None
    return start, end, " ".join(w for w, _, _ in words[i : i + n])


def emission_mask(
    words: tuple[tuple[str, int, int], ...], num_frames: int, vocabulary: Vocabulary, tolerance: int
) -> np.ndarray:
    """Which labels a CTC alignment tied to word times may emit at each frame: ``bool (num_frames, V)``.

    The blank may be emitted anywhere. The characters of a word (as :func:`word_frames` gives it:
    ``(word, first frame, end frame)``) may be emitted from ``tolerance`` frames before its first frame to
    ``tolerance`` frames after its last; the space between two words from ``tolerance`` frames before the
    earlier of the first word's end and the next word's start to ``tolerance`` frames after the later of
    them. A label that no word allows at a frame is forbidden there. With no words, everything is allowed.

    Raises:
        DataError: a word the vocabulary cannot spell.
    """
    mask = np.zeros((num_frames, vocabulary.size), dtype=bool)
    if not words:
        mask[:] = True
        return mask
    mask[:, 0] = True
    space = vocabulary.space_id

    def allow(ids: list[int], first: int, end: int) -> None:
        lo, hi = max(0, first), min(num_frames, end)
        if lo < hi:
            mask[lo:hi, ids] = True

    for k, (word, first, end) in enumerate(words):
        try:
            ids = vocabulary.encode(word)
        except ValueError as e:
            raise DataError(f"word {word!r} of an alignment: {e}") from None
        allow(ids, first - tolerance, end + tolerance)
        if space is not None and k + 1 < len(words):
            nxt = words[k + 1][1]
            allow([space], min(end, nxt) - tolerance, max(end, nxt) + tolerance + 1)
    return mask


def alignment_exists(mask: np.ndarray, labels: np.ndarray | list[int]) -> bool:
    """Whether CTC can align ``labels`` (ids, blank 0) to frames whose allowed labels are ``mask``
    ``bool (T, V)``: a path of one label (or the blank) per frame, emitting only allowed labels, that
    collapses to ``labels``."""
    labels = np.asarray(labels, dtype=np.intp)
    if mask.shape[0] == 0:
        return len(labels) == 0
    ext = np.zeros(2 * len(labels) + 1, dtype=np.intp)  # blank, l1, blank, l2, ..., blank
    ext[1::2] = labels
    # A state can be entered from two states back when it is a label other than the one two back.
    skip = np.zeros(len(ext), dtype=bool)
    skip[3::2] = labels[1:] != labels[:-1]
    reach = np.zeros(len(ext), dtype=bool)
    reach[:2] = True  # before the first frame: entering the first blank or the first label
    for t in range(mask.shape[0]):
        came = reach.copy()
        came[1:] |= reach[:-1]
        came[2:] |= reach[:-2] & skip[2:]
        reach = came & mask[t, ext] if t else reach & mask[t, ext]
    return bool(reach[-1] or (len(ext) > 1 and reach[-2]))


def allowed_labels(
    words: tuple[tuple[str, int, int], ...],
    clip_frames: int,
    source: np.ndarray,
    labels: np.ndarray | list[int],
    vocabulary: Vocabulary,
    tolerance: int,
) -> np.ndarray:
    """Each frame's allowed labels ``bool (len(source), V)`` for a training example whose frames came from
    frames ``source`` of a clip of ``clip_frames`` frames with ``words`` (:func:`word_frames`): the clip's
    :func:`emission_mask` at those frames; every label everywhere (plain CTC) when ``labels`` have no
    alignment within it (:func:`alignment_exists`)."""
    mask = emission_mask(words, clip_frames, vocabulary, tolerance)[source]
    return mask if alignment_exists(mask, labels) else np.ones_like(mask)


def validation_report(references: list[str], greedy: list[str], beam: list[str] | None = None) -> dict[str, float]:
    """Metrics after an epoch: ``{greedy_cer, greedy_wer, greedy_sentence_accuracy, beam_...}``."""
    out = {f"greedy_{k}": v for k, v in summarise(references, greedy).items()}
    if beam is not None:
        out.update({f"beam_{k}": v for k, v in summarise(references, beam).items()})
    return out


def selection_score(metrics: dict[str, Any], val_loss: float) -> tuple[float, float]:
    """How epochs are ranked for ``best.*`` checkpoints: lower validation greedy WER, ties by lower loss."""
    return (metrics["greedy_wer"], val_loss)


def epoch_summary(record: dict[str, Any]) -> str:
    """One log line for an epoch's history record (``epoch``, ``lr``, losses, metrics, speed)."""
    parts = [f"epoch {record['epoch']}", f"lr {record['lr']:.2e}", f"train loss {record['train_loss']:.4f}"]
    if record.get("val_loss") is not None:
        parts.append(f"val loss {record['val_loss']:.4f}")
    for key in ("greedy_cer", "greedy_wer", "beam_cer", "beam_wer", "beam_sentence_accuracy"):
        value = record["metrics"].get(key)
        if value is not None and not math.isnan(value):
            parts.append(f"{key} {value:.4f}")
    parts.append(f"{record['seconds']:.1f}s ({record['clips_per_second']:.1f} clips/s)")
    return " | ".join(parts)


def format_examples(references: list[str], predictions: list[str], limit: int = 3) -> str:
    """Example predictions next to the truth, as the LipNet notebook's ``ProduceExample`` printed them."""
    lines = []
    for ref, hyp in list(zip(references, predictions))[:limit]:
        lines += [f"Original:   {ref}", f"Prediction: {hyp}", "~" * 80]
    return "\n".join(lines)
