"""Training LipNet with TensorFlow / Keras 3: ``model.fit`` over a ``tf.data`` pipeline, CTC loss, Adam.

The same options and files as the PyTorch trainer (``lipread train --backend tensorflow``):

- data: :func:`lipread.data.dataset.find_clips` and :func:`lipread.data.dataset.split_clips` (seeded by
  ``options.split_seed``; with ``train_on_validation`` every clip is trained on and, when ``val_fraction >= 1``,
  every clip is also validated on). Mouth crops are decoded once into ``options.cache_dir`` by
  :meth:`lipread.data.dataset.CropCache.fill` in ``options.workers`` threads and then held in memory as uint8.
- pipeline: per epoch a permutation seeded by ``(seed, epoch)``; each clip may be cut to a run of its words
  (:func:`lipread.data.training.excerpt_span`), is augmented (:class:`lipread.data.augmentation.Augmentation`; the
  generator is seeded by ``(seed, epoch, clip)``, so an interrupted run resumes exactly) and standardised
  (:func:`lipread.video.preprocess.normalise`) in parallel ``tf.data`` map calls, zero-padded into batches with
  their lengths, and prefetched.
- loss: CTC (:func:`ctc_loss`), the per-clip negative log-likelihood averaged over the batch, blank 0,
  infinite losses zeroed; with ``align_tolerance``, only over alignments tied to the word times
  (:func:`lipread.data.training.emission_mask`). Adam with ``options.lr``, scheduled by
  :func:`lipread.data.training.learning_rate`. ``init`` starts from a canonical checkpoint's weights.
- after every epoch: validation loss, greedy and beam-search CER/WER (:func:`lipread.data.training.validation_report`),
  example predictions, then, written atomically in ``options.output``:

  - ``last.ckpt``: everything needed to continue with ``resume`` (every model and optimiser variable, the
    epoch, history and best score), a safetensors file (no pickle);
  - ``last.safetensors``: the canonical checkpoint of the same weights;
  - ``best.ckpt`` / ``best.safetensors``: the same for the epoch with the lowest validation greedy WER
    (ties: lower validation loss);
  - ``history.jsonl``: one JSON object per epoch: ``epoch`` (1-based), ``lr``, ``train_loss``,
    ``val_loss``, ``metrics``, ``seconds``, ``clips_per_second``;

  and, once, ``words.txt``: the word list the checkpoints store for the ``lexicon`` decoder, one word per
  line: the training clips' words, and those of the ``init`` model (:func:`lipread.data.alphabet.run_words`).

Devices and distribution: with ``device="auto"`` and several GPUs visible the run uses
``tf.distribute.MirroredStrategy`` (one replica per GPU, each taking ``batch_size`` clips per step, so a
step covers ``batch_size x GPUs`` clips; gradients are all-reduced and the CTC loss is scaled by Keras so
it stays the per-clip mean). With one GPU or none it uses the default strategy;
``device="cpu"`` pins everything to the CPU, ``device="cuda"`` requires a GPU. Mixed precision is on for
GPUs unless ``amp=False`` (``mixed_float16``, with loss scaling) and off on the CPU unless ``amp=True``
(``mixed_bfloat16``); the log-probabilities and the loss stay float32.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from lipread.config import ModelConfig
from lipread.data.alphabet import run_words, with_training_vocabulary, write_word_list
from lipread.data.dataset import Clip, CropCache
from lipread.data.resume import check_resume, clips_digest, other_backend_hint
from lipread.data.training import (
    TrainOptions,
    TrainResult,
    allowed_labels,
    epoch_summary,
    excerpt_span,
    format_examples,
    learning_rate,
    selection_score,
    training_clips,
    validation_report,
    word_frames,
)
from lipread.decoding import beam_search_batch, greedy_decode_batch
from lipread.errors import CheckpointError, DataError
from lipread.progress import progress_bar, show_progress
from lipread.report import counted, report_skipped
from lipread.video.preprocess import normalise
from lipread.vocab import too_short
from lipread.weights import atomic_write, load_checkpoint, save_checkpoint, writable_folder

from ._tensorflow import keras, tf
from .convert import canonical_to_keras
from .model import TFModel, build_keras_model, keras_variables

__all__ = ["CTCLoss", "ctc_loss", "select_strategy", "train"]

CKPT_FORMAT = "lipread-tf-train"
CKPT_VERSION = "1"


def ctc_loss(
    labels: tf.Tensor,
    label_lengths: tf.Tensor,
    logprobs: tf.Tensor,
    lengths: tf.Tensor,
    allowed: tf.Tensor | None = None,
) -> tf.Tensor:
    """Per-clip CTC negative log-likelihood ``float32 (B,)``; blank 0; infinite losses zeroed.

    Args:
        labels: ``int (B, L)`` label ids, padded with anything past ``label_lengths``.
        label_lengths: ``int (B,)``.
        logprobs: ``float (B, T, V)`` log-probabilities.
        lengths: ``int (B,)`` valid frames per clip.
        allowed: ``bool (B, T, V)``: the labels each frame may emit (see
            :func:`lipread.data.training.emission_mask`); only alignments that keep to them count. None: all.

    A clip whose labels cannot fit in its frames (CTC needs one frame per label plus one per repeated
    pair) has an infinite loss; it is computed with an empty label instead and then zeroed, so its gradient
    is zero rather than NaN.
    """
    labels = tf.cast(labels, tf.int32)
    label_lengths = tf.cast(label_lengths, tf.int32)
    lengths = tf.cast(lengths, tf.int32)
    logprobs = tf.cast(logprobs, tf.float32)
    valid = tf.sequence_mask(label_lengths, tf.shape(labels)[1])
    repeats = tf.reduce_sum(tf.cast((labels[:, 1:] == labels[:, :-1]) & valid[:, 1:], tf.int32), axis=1)
    feasible = label_lengths + repeats <= lengths
    kept = 0.0
    if allowed is not None:
        # tf.nn.ctc_loss normalises its inputs per frame, so the forbidden labels' probability, which the
        # loss must count as lost, is added back: -log sum over the allowed labels of each valid frame.
        logprobs = tf.where(allowed, logprobs, tf.constant(-1e30, tf.float32))
        in_clip = tf.sequence_mask(lengths, tf.shape(logprobs)[1])
        kept = tf.reduce_sum(tf.where(in_clip, tf.reduce_logsumexp(logprobs, axis=-1), 0.0), axis=1)
    loss = tf.nn.ctc_loss(
        labels,
        logprobs,
        tf.where(feasible, label_lengths, 0),
        lengths,
        logits_time_major=False,
        blank_index=0,
    )
    loss -= kept
    return tf.where(feasible & tf.math.is_finite(loss), loss, tf.zeros_like(loss))


_compiled_ctc_loss = tf.function(ctc_loss, reduce_retracing=True)

_BITS = 24
"""Allowed labels packed per integer of ``y_true`` (see :class:`CTCLoss`): Keras hands ``y_true`` over as
float32, which holds integers exactly only below ``2 ** 24``."""


class CTCLoss(keras.losses.Loss):
    """:func:`ctc_loss` as a Keras loss, averaged over the batch.

    ``y_true`` packs per clip ``[frames, label length, label ids...]`` (``(B, 2 + L)``, zero-padded);
    ``y_pred`` is the model's ``(B, T, V)`` log-probabilities. With ``tied``, each clip's label ids are
    followed by its allowed labels (:func:`lipread.data.training.emission_mask`): per frame ``ceil(V / 24)``
    integers whose bit ``v % 24`` of integer ``v // 24`` says whether label ``v`` is allowed.
    """

    def __init__(self, name: str = "ctc", tied: bool = False) -> None:
        super().__init__(name=name)
        self.tied = tied

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        """Per-clip losses ``float32 (B,)`` (Keras averages them) for packed ``y_true`` and ``(B, T, V)`` ``y_pred``."""
        y = tf.cast(tf.round(y_true), tf.int32)  # Keras hands y_true over as float32 (exact below 2**24)
        allowed = None
        if self.tied:
            frames, classes = tf.shape(y_pred)[1], y_pred.shape[-1]
            words = -(-classes // _BITS)
            at = 2 + y[:, 1:2] + tf.range(frames * words)[None]
            packed = tf.gather(y, tf.minimum(at, tf.shape(y)[1] - 1), batch_dims=1)
            packed = tf.reshape(packed, (-1, frames, words))
            label = tf.range(classes)
            bits = tf.bitwise.right_shift(tf.gather(packed, label // _BITS, axis=2), label % _BITS)
            in_clip = tf.sequence_mask(y[:, 0], frames)[:, :, None]
            allowed = (tf.bitwise.bitwise_and(bits, 1) > 0) | ~in_clip
        return ctc_loss(y[:, 2:], y[:, 1], y_pred, y[:, 0], allowed)


@dataclass
class Examples:
    """Clips in memory: crops ``uint8 (T, H, W, C)``, sentences, label ids."""

    clips: list[Clip] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def texts(self) -> list[str]:
        """The clips' sentences, in order."""
        return [c.text for c in self.clips]


def _load_examples(options: TrainOptions, config: ModelConfig, workers: int) -> tuple[Examples, Examples]:
    """Decode (or read from the cache) every clip, encode its sentence; broken or too short clips are left out."""
    train_clips, val_clips = training_clips(options)
    every = list(dict.fromkeys(train_clips + val_clips))
    cache = CropCache(options.cache_dir, config)
    with progress_bar(total=len(every), desc="decoding clips", unit="clip", progress=options.progress) as bar:
        good, bad = cache.fill(every, workers, bar.update)
    for clip, reason in bad:
        report_skipped(clip.origin or clip.video, reason)
    loaded: dict[Clip, tuple[np.ndarray, np.ndarray]] = {}
    for clip in good:
        try:
            labels = np.asarray(config.vocabulary.encode(clip.text), np.int32)
        except ValueError as e:
            report_skipped(clip.origin or clip.video, e)
            continue
        if len(labels) == 0:
            report_skipped(clip.origin or clip.video, "empty sentence")
            continue
        crops = cache.get(clip)
        if short := too_short(len(crops), labels.tolist()):
            report_skipped(clip.origin or clip.video, short)
        else:
            loaded[clip] = (crops, labels)

    def pick(clips: list[Clip]) -> Examples:
        out = Examples()
        for c in clips:
            if c in loaded:
                out.clips.append(c)
                out.crops.append(loaded[c][0])
                out.labels.append(loaded[c][1])
        return out

    train, val = pick(train_clips), pick(val_clips)
    if not train:
        raise DataError(f"{options.data}: no usable training clips")
    return train, val


def _pack(frames: np.ndarray, labels: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """``[frames, label length, labels...]`` as ``int32``, then ``allowed`` ``bool (T, V)`` bit-packed if
    given: one clip's ``y_true`` for :class:`CTCLoss`."""
    head = np.concatenate([[len(frames), len(labels)], labels]).astype(np.int32)
    if allowed is None:
        return head
    t, v = allowed.shape
    padded = np.zeros((t, -(-v // _BITS) * _BITS), dtype=np.int64)
    padded[:, :v] = allowed
    weights = np.int64(1) << np.arange(_BITS, dtype=np.int64)
    packed = (padded.reshape(t, -1, _BITS) * weights).sum(axis=2)
    return np.concatenate([head, packed.ravel().astype(np.int32)])


def _dataset(
    examples: Examples, options: TrainOptions, config: ModelConfig, start: int, global_batch: int, workers: int
) -> tf.data.Dataset:
    """Batches for epochs ``start..options.epochs-1``, each epoch's batches apart (no batch spans two)."""
    n = len(examples)
    epochs = np.arange(start, options.epochs, dtype=np.int64)
    orders = np.stack([np.random.default_rng([options.seed, int(e)]).permutation(n) for e in epochs])
    shape = (config.height, config.width, config.channels)

    def load(epoch: np.int64, index: np.int64) -> tuple[np.ndarray, np.int32, np.ndarray]:
        rng = np.random.default_rng([options.seed, int(epoch), int(index)])
        crops, words = examples.crops[index], word_frames(examples.clips[index])
        source = np.arange(len(crops))  # each frame's index in the clip's crops
        labels = examples.labels[index]
        span = excerpt_span(words, len(crops), rng, options.word_clips)
        if span is not None:
            start, end, text = span
            crops, source = crops[start:end], source[start:end]
            labels = np.asarray(config.vocabulary.encode(text), np.int32)
        crops, kept = options.augmentation(crops, rng)
        allowed = None
        if options.align_tolerance is not None:
            clip_frames, tolerance = len(examples.crops[index]), options.align_tolerance
            allowed = allowed_labels(words, clip_frames, source[kept], labels, config.vocabulary, tolerance)
        x = normalise(crops)
        return x, np.int32(len(x)), _pack(x, labels, allowed)

    def example(epoch: tf.Tensor, index: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        x, length, y = tf.numpy_function(load, [epoch, index], [tf.float32, tf.int32, tf.int32], stateful=False)
        x.set_shape((None, *shape))
        length.set_shape(())
        y.set_shape((None,))
        return {"frames": x, "lengths": length}, y

    def epoch_batches(epoch: tf.Tensor, order: tf.Tensor) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices(order)
        ds = ds.map(lambda i: example(epoch, i), num_parallel_calls=workers, deterministic=True)
        return ds.padded_batch(global_batch)

    ds = tf.data.Dataset.from_tensor_slices((epochs, orders)).flat_map(epoch_batches)
    options_ = tf.data.Options()
    options_.threading.private_threadpool_size = max(1, workers)
    options_.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options_).prefetch(tf.data.AUTOTUNE)


def select_strategy(device: str = "auto") -> tf.distribute.Strategy:
    """The distribution strategy for ``device``: MirroredStrategy over every GPU when there are several
    (``"auto"`` or ``"cuda"``), the default strategy for one GPU or none, the CPU alone for ``"cpu"``.

    Raises:
        DataError: ``"cuda"`` without a GPU, or an unknown device.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if device == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if device not in ("auto", "cuda"):
        raise DataError(f"unknown device {device!r} for the tensorflow backend; use 'auto', 'cpu' or 'cuda'")
    if device == "cuda" and not gpus:
        raise DataError("device 'cuda' was asked for, but TensorFlow sees no GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    return tf.distribute.get_strategy()


@contextmanager
def _dtype_policy(name: str) -> Iterator[None]:
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _build(config: ModelConfig, options: TrainOptions, strategy: tf.distribute.Strategy) -> keras.Model:
    """The Keras model, compiled with CTC loss and Adam, its optimiser variables created."""
    on_gpu = bool(tf.config.list_logical_devices("GPU")) and options.device != "cpu"
    amp = options.amp if options.amp is not None else on_gpu
    policy = ("mixed_float16" if on_gpu else "mixed_bfloat16") if amp else "float32"
    with strategy.scope(), _dtype_policy(policy):
        model = build_keras_model(config, seed=options.seed, conv_dropout=options.conv_dropout)
        loss = CTCLoss(tied=options.align_tolerance is not None)
        model.compile(optimizer=keras.optimizers.Adam(options.lr), loss=loss, jit_compile=False)
        model.optimizer.build(model.trainable_variables)
    return model


# ----------------------------------------------------------------------------------------------------
# Training checkpoints
# ----------------------------------------------------------------------------------------------------


@dataclass
class _State:
    """What a checkpoint restores besides the variables."""

    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best: tuple[float, float] | None = None  # (greedy WER, val loss) of the best epoch
    clips: str = ""  # which clips the run trains and validates on (lipread.data.resume.clips_digest)


def _variables(model: keras.Model) -> dict[str, list[keras.Variable]]:
    return {"model": list(model.variables), "optimizer": list(model.optimizer.variables)}


def _checkpoint_bytes(model: keras.Model, config: ModelConfig, state: _State, options: TrainOptions) -> bytes:
    from safetensors.numpy import save

    tensors, paths = {}, {}
    for group, variables in _variables(model).items():
        paths[group] = [v.path for v in variables]
        for i, v in enumerate(variables):
            tensors[f"{group}/{i:04d}"] = np.asarray(v.numpy())
    metadata = {
        "format": CKPT_FORMAT,
        "version": CKPT_VERSION,
        "config": config.dumps(),
        "options": json.dumps(options.to_json(), default=str),
        "epoch": str(state.epoch),
        "history": json.dumps(state.history),
        "best": json.dumps(list(state.best) if state.best is not None else None),
        "clips": state.clips,
        "paths": json.dumps(paths),
    }
    return save(tensors, metadata=metadata)


def load_training_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """Read a ``last.ckpt`` / ``best.ckpt``: (metadata, tensors).

    Raises:
        CheckpointError: missing, unreadable, or not a lipread TensorFlow training checkpoint.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: training checkpoint not found")
    other = other_backend_hint(path, "tensorflow")
    if other:
        raise CheckpointError(f"{path}: not a TensorFlow training checkpoint{other}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            if metadata.get("format") != CKPT_FORMAT:
                raise CheckpointError(f"{path}: not a lipread TensorFlow training checkpoint")
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable training checkpoint: {e}") from None
    if metadata.get("version") != CKPT_VERSION:
        raise CheckpointError(f"{path}: training checkpoint version {metadata.get('version')!r} is not supported")
    return metadata, tensors


def _restore(path: Path, model: keras.Model, config: ModelConfig, options: TrainOptions, clips: str) -> _State:
    metadata, tensors = load_training_checkpoint(path)
    check_resume(path, metadata.get("options"), options, metadata.get("clips"), clips)
    saved = ModelConfig.loads(metadata["config"])
    if saved != config:  # (the word list may grow; the network may not)
        raise CheckpointError(
            f"{path}: was trained with model {saved.name!r} and another configuration than {config.name!r}; "
            "use a new output folder or the same model"
        )
    for group, variables in _variables(model).items():
        stored = sorted(k for k in tensors if k.startswith(group + "/"))
        if len(stored) != len(variables):
            raise CheckpointError(f"{path}: holds {len(stored)} {group} variables, this run has {len(variables)}")
        for i, v in enumerate(variables):
            value = tensors[f"{group}/{i:04d}"]
            if tuple(value.shape) != tuple(v.shape):
                raise CheckpointError(f"{path}: {group} variable {v.path!r} has shape {value.shape}, needs {v.shape}")
            v.assign(value)
    best = json.loads(metadata["best"])
    return _State(int(metadata["epoch"]), json.loads(metadata["history"]), tuple(best) if best else None, clips)


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    atomic_write(path, "".join(json.dumps(h) + "\n" for h in history).encode())


# ----------------------------------------------------------------------------------------------------
# Validation and the per-epoch callback
# ----------------------------------------------------------------------------------------------------


def _validate(
    model: TFModel, examples: Examples, batch_size: int, beam_width: int
) -> tuple[float, list[str], list[str] | None]:
    """Validation loss (mean per-clip NLL), greedy and beam predictions (in ``examples`` order)."""
    config = model.config
    total = 0.0
    greedy: list[str] = []
    beam: list[str] | None = [] if beam_width > 0 else None
    for start in range(0, len(examples), batch_size):
        crops = examples.crops[start : start + batch_size]
        labels = examples.labels[start : start + batch_size]
        lengths = np.array([len(c) for c in crops], np.int32)
        frames = np.zeros((len(crops), lengths.max(), *crops[0].shape[1:]), np.float32)
        for b, c in enumerate(crops):
            frames[b, : len(c)] = normalise(c)
        padded = np.zeros((len(labels), max(len(x) for x in labels)), np.int32)
        for b, x in enumerate(labels):
            padded[b, : len(x)] = x
        lp = model.logprobs(frames, lengths)
        label_lengths = np.array([len(x) for x in labels], np.int32)
        total += float(tf.reduce_sum(_compiled_ctc_loss(padded, label_lengths, lp, lengths)))
        greedy += [h.text for h in greedy_decode_batch(lp, lengths, config.vocabulary)]
        if beam is not None:
            beams = beam_search_batch(lp, lengths, beam_width=beam_width, vocabulary=config.vocabulary)
            beam += [b[0].text if b else "" for b in beams]
    return total / max(1, len(examples)), greedy, beam


class _EpochEnd(keras.callbacks.Callback):
    """Sets the learning rate before each epoch; validates, checkpoints and logs after it."""

    def __init__(
        self,
        config: ModelConfig,
        options: TrainOptions,
        state: _State,
        val: Examples,
        clips_per_epoch: int,
        started: float,
    ) -> None:
        super().__init__()
        self.config, self.options, self.state, self.val = config, options, state, val
        self.clips_per_epoch = clips_per_epoch
        self.started = started
        self.epoch_started = 0.0
        self.lr = options.lr
        self.inference: TFModel | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.inference = TFModel(self.config, self.model)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        o = self.options
        self.lr = learning_rate(epoch, o.lr, o.constant_epochs, o.decay)
        self.model.optimizer.learning_rate.assign(self.lr)
        self.epoch_started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        o, state = self.options, self.state
        train_seconds = time.monotonic() - self.epoch_started
        state.epoch = epoch + 1
        record: dict[str, Any] = {"epoch": state.epoch, "lr": self.lr, "train_loss": float((logs or {})["loss"])}
        metrics: dict[str, Any] = {}
        improved = False
        inference = self.inference or TFModel(self.config, self.model)
        greedy: list[str] = []
        if len(self.val):
            val_loss, greedy, beam = _validate(inference, self.val, o.batch_size, o.beam_width)
            metrics = validation_report(self.val.texts, greedy, beam)
            record["val_loss"] = val_loss
            score = selection_score(metrics, val_loss)
            improved = state.best is None or score < state.best
            if improved:
                state.best = score
        else:
            record["val_loss"] = None
        record["metrics"] = metrics
        record["seconds"] = time.monotonic() - self.epoch_started
        record["clips_per_second"] = self.clips_per_epoch / max(train_seconds, 1e-9)
        state.history.append(record)
        self._save(inference, metrics, improved)
        _write_history(o.output / "history.jsonl", state.history)
        tqdm.write(epoch_summary(record))
        if len(self.val) and o.examples > 0:
            tqdm.write(format_examples(self.val.texts, greedy, o.examples))
        limit = o.time_limit * 60 if o.time_limit is not None else None
        if limit is not None and time.monotonic() - self.started >= limit and state.epoch < o.epochs:
            tqdm.write(f"time limit of {o.time_limit} min reached after epoch {state.epoch}; continue with --resume")
            self.model.stop_training = True

    def _save(self, inference: TFModel, metrics: dict[str, Any], improved: bool) -> None:
        out = self.options.output
        blob = _checkpoint_bytes(self.model, self.config, self.state, self.options)
        tensors = inference.state_dict()
        trained_on, scores = self.options.to_json(), {**metrics, "epoch": self.state.epoch}
        # last.ckpt, the file --resume reads, goes last: a crash before it makes the resumed run redo this
        # epoch, so no other file of the epoch can be missing after a resume.
        if improved:
            save_checkpoint(out / "best.safetensors", tensors, self.config, trained_on=trained_on, metrics=scores)
            atomic_write(out / "best.ckpt", blob)
        save_checkpoint(out / "last.safetensors", tensors, self.config, trained_on=trained_on, metrics=scores)
        atomic_write(out / "last.ckpt", blob)


def train(options: TrainOptions, strategy: tf.distribute.Strategy | None = None) -> TrainResult:
    """Train a LipNet as ``options`` say and return where the checkpoints are.

    Args:
        options: what to train on, how long, and where to write.
        strategy: the ``tf.distribute`` strategy (None: :func:`select_strategy` for ``options.device``).

    Raises:
        DataError: no clips, an unusable split, or an unavailable device.
        CheckpointError: ``resume`` with no or an incompatible ``last.ckpt``.
    """
    started = time.monotonic()
    options = with_training_vocabulary(options)  # the data's own alphabet for a manifest or an LRS folder
    config = options.model_config
    out = options.output
    workers = options.threads
    strategy = strategy if strategy is not None else select_strategy(options.device)
    writable_folder(out)  # (an OSError naming ``out`` and why, before any clip is decoded)
    last_ckpt = out / "last.ckpt"
    if options.resume and not last_ckpt.is_file():
        raise CheckpointError(f"{last_ckpt}: nothing to resume from (no checkpoint in {out})")

    train_set, val_set = _load_examples(options, config, workers)
    config = config.with_(words=run_words(train_set.texts, options.init))
    write_word_list(out, config.words or ())
    replicas = strategy.num_replicas_in_sync
    tqdm.write(f"training on {counted(len(train_set), 'clip')}, validating on {len(val_set)}; {replicas} replica(s)")

    keras.utils.set_random_seed(options.seed)
    model = _build(config, options, strategy)
    clips = clips_digest(train_set.clips, val_set.clips)
    state = _State(clips=clips)
    if options.init is not None and not options.resume:
        weights = canonical_to_keras(config, load_checkpoint(options.init, expect=config).tensors)
        for key, variable in keras_variables(model, config).items():
            variable.assign(weights[key])
        tqdm.write(f"starting from the weights of {options.init}")
    if options.resume:
        state = _restore(last_ckpt, model, config, options, clips)
        tqdm.write(f"resuming from {last_ckpt} after epoch {state.epoch}")
        if state.epoch >= options.epochs:  # said, rather than a run that ends without a word
            done = f"it has trained {state.epoch} of --epochs {options.epochs}"
            tqdm.write(f"{done}: nothing more to train (a larger --epochs goes on)")
        _write_history(out / "history.jsonl", state.history)

    if state.epoch < options.epochs:
        global_batch = options.batch_size * replicas
        steps = -(-len(train_set) // global_batch)
        dataset = _dataset(train_set, options, config, state.epoch, global_batch, workers)
        callback = _EpochEnd(config, options, state, val_set, len(train_set), started)
        # Keras draws its bar on stdout: the same rule as for lipread's own bars, for that stream.
        keras_bar = show_progress(options.progress, sys.stdout)
        model.fit(
            dataset,
            epochs=options.epochs,
            initial_epoch=state.epoch,
            steps_per_epoch=steps,
            # An explicit progress bar, so that it finishes its line before the epoch summary is printed.
            callbacks=[keras.callbacks.ProgbarLogger(), callback] if keras_bar else [callback],
            shuffle=False,
            verbose=1 if keras_bar else 0,
        )
    best = out / "best.safetensors"
    return TrainResult(out, best if best.is_file() else None, out / "last.safetensors", state.history)
