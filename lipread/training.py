"""What every backend's trainer shares: the options, the learning-rate schedule, augmentation of mouth
crops, and the per-epoch validation report. The trainers themselves live in the backends."""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .align import load_alignment
from .config import ModelConfig, get_preset
from .dataset import Clip, find_clips, split_clips
from .errors import DataError
from .metrics import summarise

__all__ = [
    "TrainOptions",
    "TrainResult",
    "augment",
    "epoch_summary",
    "format_examples",
    "learning_rate",
    "selection_score",
    "training_clips",
    "validation_report",
    "word_excerpt",
    "word_frames",
]


@dataclass
class TrainOptions:
    """Options of ``lipread train`` (identical for every backend).

    Attributes:
        data: GRID root folder (any layout :func:`lipread.dataset.find_clips` understands).
        output: run folder: checkpoints (``last.ckpt``, ``best.ckpt``), canonical models
            (``last.safetensors``, ``best.safetensors``) and ``history.jsonl``.
        config: the model to train (a preset name or a :class:`ModelConfig`).
        split: ``"random"`` (seeded ``val_fraction`` of the clips), ``"unseen"`` or ``"overlapped"``.
        epochs: total epochs to reach (a resumed run continues up to this number).
        batch_size: clips per step (per process under distributed training).
        lr: Adam learning rate.
        constant_epochs, decay: the schedule: ``lr`` for ``constant_epochs`` epochs, then multiplied by
            ``exp(-decay)`` every epoch (the seed notebook's ``scheduler``).
        mirror: randomly flip crops horizontally (probability 0.5 per clip).
        frame_jitter: probability per frame of deleting it, and (separately) of duplicating it.
        word_clips: probability that a training clip is replaced by a run of 1 to 3 of its words, cut out
            with the frame times of its alignment (LipNet's word-level examples; 0 switches them off).
        conv_dropout: spatial dropout after every convolution block in place of the preset's rates (None:
            the preset's; 0: none). LipNet's 0.5 was set for tens of thousands of clips. Only training
            changes; the model and its checkpoint are the preset's.
        cache: folder for decoded crops (``<output>/../cache`` when None).
        resume: continue from ``<output>/last.ckpt``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        amp: automatic mixed precision (None: on for CUDA, off on CPU).
        workers: threads for decoding and batch assembly (0: one per CPU core).
        max_clips: use only the first N clips of the index (quick experiments, tests).
        train_on_validation: train on the validation clips too (memorisation tests).
        beam_width: beam for the per-epoch beam-search metrics (0 skips beam decoding).
        examples: example predictions printed after each epoch.
        seed: seeds model init, split, shuffling and augmentation.
        progress: show progress bars.
        time_limit: minutes; stop cleanly after the epoch during which this much time has passed (the run
            can be continued later with ``resume``). None: no limit.

    Raises:
        DataError: ``frame_jitter`` or ``word_clips`` outside 0..1, ``conv_dropout`` outside [0, 1).
    """

    data: Path
    output: Path
    config: ModelConfig | str = "lipnet"
    split: str = "random"
    val_fraction: float = 0.1
    epochs: int = 100
    batch_size: int = 8
    lr: float = 1e-4
    constant_epochs: int = 30
    decay: float = 0.1
    mirror: bool = True
    frame_jitter: float = 0.05
    word_clips: float = 0.0
    conv_dropout: float | None = None
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
    progress: bool = True
    time_limit: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = Path(self.data)
        self.output = Path(self.output)
        if self.cache is not None:
            self.cache = Path(self.cache)
        for name in ("frame_jitter", "word_clips"):
            if not 0 <= getattr(self, name) <= 1:
                raise DataError(f"{name} is a probability between 0 and 1, not {getattr(self, name)}")
        if self.conv_dropout is not None and not 0 <= self.conv_dropout < 1:
            raise DataError(f"conv_dropout is a probability in [0, 1), not {self.conv_dropout}")

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
        d["config"] = self.model_config.name
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
    ``max_clips``), split by :func:`lipread.dataset.split_clips`; with ``train_on_validation`` the
    validation clips are trained on too, and with ``val_fraction >= 1`` as well every clip is validated.

    Raises:
        DataError: no clips, or a split that leaves one side empty.
    """
    clips = find_clips(options.data)
    if options.max_clips is not None:
        clips = clips[: options.max_clips]
    if options.train_on_validation and options.val_fraction >= 1:
        return list(clips), list(clips)
    train, val = split_clips(clips, options.split, options.val_fraction, options.seed)
    if options.train_on_validation:
        train = sorted(train + val, key=lambda c: c.key)
    return train, val


def learning_rate(epoch: int, lr: float, constant_epochs: int = 30, decay: float = 0.1) -> float:
    """The learning rate for 0-based ``epoch``: ``lr`` until ``constant_epochs``, then ``x exp(-decay)`` per epoch."""
    return lr * math.exp(-decay * max(0, epoch - constant_epochs + 1)) if epoch >= constant_epochs else lr


def augment(crops: np.ndarray, rng: np.random.Generator, mirror: bool = True, frame_jitter: float = 0.05) -> np.ndarray:
    """LipNet's augmentation of one clip's crops ``(T, H, W, C)`` (any dtype).

    With probability 0.5 the clip is mirrored left-right; then every frame is deleted with probability
    ``frame_jitter`` and duplicated with probability ``frame_jitter`` (at least one frame is kept).
    """
    if mirror and rng.random() < 0.5:
        crops = crops[:, :, ::-1]
    if frame_jitter > 0:
        t = int(crops.shape[0])
        keep = rng.random(t) >= frame_jitter
        if not keep.any():
            keep[rng.integers(t)] = True
        repeats = keep.astype(np.int64) + (rng.random(t) < frame_jitter) * keep
        crops = np.repeat(crops, repeats, axis=0)
    return np.ascontiguousarray(crops)


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
    if probability <= 0 or not words:
        return crops, None
    if rng.random() >= probability:
        return crops, None
    n = int(rng.integers(1, min(max_words, len(words)) + 1))
    i = int(rng.integers(0, len(words) - n + 1))
    start = max(0, words[i][1] - margin)
    end = min(len(crops), words[i + n - 1][2] + margin)
    if end - start < 2:
        return crops, None
    return crops[start:end], " ".join(w for w, _, _ in words[i : i + n])


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
    """Example predictions next to the truth, as the seed notebook's ``ProduceExample`` printed them."""
    lines = []
    for ref, hyp in list(zip(references, predictions))[:limit]:
        lines += [f"Original:   {ref}", f"Prediction: {hyp}", "~" * 80]
    return "\n".join(lines)
