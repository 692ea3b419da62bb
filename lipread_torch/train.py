"""Training LipNet with PyTorch: CTC loss, Adam, the LipNet schedule, per-epoch validation, checkpoints.

One process, or several under ``torchrun --nproc_per_node=N`` (``WORLD_SIZE > 1``): then every process
trains on its shard of each epoch through ``DistributedDataParallel``, and process 0 alone validates and
writes checkpoints, history and progress bars.

Files in ``options.output``:

- ``last.ckpt``: everything needed to continue (weights, optimiser, gradient scaler, epoch, history, best
  score, random-number-generator states), written atomically after every epoch. It holds only tensors,
  numbers, strings, lists and dicts, so ``torch.load(..., weights_only=True)`` reads it.
- ``last.safetensors``: the canonical checkpoint of the same weights.
- ``best.ckpt`` / ``best.safetensors``: the same for the epoch with the lowest validation greedy WER
  (ties: lower validation loss).
- ``history.jsonl``: one JSON object per epoch: ``epoch`` (1-based), ``lr``, ``train_loss``, ``val_loss``,
  ``metrics``, ``seconds``, ``clips_per_second``.
- ``words.txt``: the word list the checkpoints store for the ``lexicon`` decoder, one word per line: the
  training clips' words, and those of the ``init`` model (:func:`lipread.data.alphabet.run_words`).

``last.ckpt`` is written after the other files of its epoch, so a run killed at any moment leaves it at
the last epoch whose files are all complete; ``resume`` trains from there and rewrites the others.
Temporary files a killed run left behind are deleted when the next run starts.

Data: :func:`lipread.data.dataset.find_clips`, then :func:`lipread.data.dataset.split_clips` (seeded by
``options.split_seed``); with ``train_on_validation`` every clip is trained on and, when ``val_fraction >= 1``,
every clip is also validated on. Crops are decoded once into ``options.cache_dir`` and held in memory.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from lipread.config import ModelConfig
from lipread.data.alphabet import run_words, with_training_vocabulary, write_word_list
from lipread.data.dataset import Clip, CropCache
from lipread.data.resume import check_resume, clips_digest, other_backend_hint
from lipread.data.training import (
    TrainOptions,
    TrainResult,
    epoch_summary,
    format_examples,
    learning_rate,
    selection_score,
    training_clips,
    validation_report,
)
from lipread.decoding import beam_search_batch, greedy_decode_batch
from lipread.errors import CheckpointError, DataError
from lipread.progress import progress_bar, show_progress
from lipread.report import counted
from lipread.weights import atomic_write, leftover_temporaries, load_checkpoint, save_checkpoint, writable_folder

from .data import Batch, BatchLoader, Examples, epoch_batches, load_examples
from .distributed import Processes, start_processes
from .mixup import mix_batch
from .model import LipNet
from .wrapper import assign_canonical, canonical_state

__all__ = ["ctc_loss", "load_training_checkpoint", "train"]

CKPT_FORMAT = "lipread-torch-train"
CKPT_VERSION = 1


def ctc_loss(logprobs: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Per-clip CTC negative log-likelihood ``(B,)`` (computed in float32; infinite losses zeroed).

    With ``batch.allowed``, only alignments that emit each label where it is allowed count (the others'
    probability is lost, so the model learns to put its emissions there); a clip with no such alignment
    gets a zero loss.

    Args:
        logprobs: ``(B, T, V)`` log-probabilities.
        batch: the batch they were computed from (lengths, targets and allowed labels).
    """
    lp = logprobs.float()
    if batch.allowed is not None:
        lp = lp.masked_fill(~batch.allowed[:, : lp.shape[1]], float("-inf"))
    return F.ctc_loss(
        lp.transpose(0, 1),
        batch.targets,
        batch.lengths,
        batch.target_lengths,
        blank=0,
        reduction="none",
        zero_infinity=True,
    )


@dataclass
class _State:
    """What a checkpoint restores besides the weights and the optimiser."""

    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best: tuple[float, float] | None = None  # (greedy WER, val loss) of the best epoch
    clips: str = ""  # which clips the run trains and validates on (lipread.data.resume.clips_digest)


def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": list(random.getstate()[1]),
        "python_version": random.getstate()[0],
        "numpy": [name, torch.from_numpy(np.asarray(keys, np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate((state["python_version"], tuple(state["python"]), None))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _checkpoint_bytes(
    module: LipNet, optimiser: torch.optim.Optimizer, scaler: torch.amp.GradScaler, state: _State, options: TrainOptions
) -> bytes:
    payload = {
        "format": CKPT_FORMAT,
        "version": CKPT_VERSION,
        "config": module.config.dumps(),
        "options": json.dumps(options.to_json(), default=str),
        "epoch": state.epoch,
        "model": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "optimiser": optimiser.state_dict(),
        "scaler": scaler.state_dict(),
        "history": json.dumps(state.history),
        "best": list(state.best) if state.best is not None else None,
        "clips": state.clips,
        "rng": _rng_state(),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def load_training_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``last.ckpt`` / ``best.ckpt`` onto the CPU (with ``weights_only=True``: no code can run).

    Returns the stored dict: ``config`` (JSON string), ``epoch`` (epochs completed), ``model`` (the module's
    state dict), ``optimiser``, ``scaler``, ``history`` (JSON string), ``best``, ``rng``, ``options``.

    Raises:
        CheckpointError: missing, unreadable, or not a lipread training checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: training checkpoint not found")
    # torch.save writes zip archives. Anything else (a plain pickle, a truncated file) is refused before
    # torch sees it, and torch's own advice (re-running with weights_only=False, which could run code in
    # the file) never reaches the user.
    if not zipfile.is_zipfile(path):
        other = other_backend_hint(path, "torch")
        if other:
            raise CheckpointError(f"{path}: not a PyTorch training checkpoint{other}")
        raise CheckpointError(
            f"{path}: not a lipread training checkpoint (not a PyTorch zip archive: another kind of file, or truncated)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused an object
        raise CheckpointError(
            f"{path}: not a lipread training checkpoint (it holds Python objects other than tensors and plain "
            "data, which lipread never loads)"
        ) from None
    except Exception as e:  # torch raises many types for a corrupt or foreign file
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable training checkpoint: {reason}") from None
    if not isinstance(payload, dict) or payload.get("format") != CKPT_FORMAT:
        raise CheckpointError(f"{path}: not a lipread training checkpoint")
    if payload.get("version") != CKPT_VERSION:
        raise CheckpointError(f"{path}: training checkpoint version {payload.get('version')!r} is not supported")
    return payload


def _restore(
    path: Path,
    module: LipNet,
    optimiser: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    restore_rng: bool,
    options: TrainOptions,
    clips: str,
) -> _State:
    payload = load_training_checkpoint(path)
    check_resume(path, payload.get("options"), options, payload.get("clips"), clips)
    saved = ModelConfig.loads(payload["config"])
    if saved != module.config:  # (the word list may grow; the network may not)
        raise CheckpointError(
            f"{path}: was trained with model {saved.name!r} and another configuration than {module.config.name!r}; "
            "use a new output folder or the same model"
        )
    module.load_state_dict(payload["model"])
    optimiser.load_state_dict(payload["optimiser"])
    if payload["scaler"]:
        scaler.load_state_dict(payload["scaler"])
    if restore_rng:
        _set_rng_state(payload["rng"])
    best = payload["best"]
    return _State(int(payload["epoch"]), json.loads(payload["history"]), tuple(best) if best else None, clips)


def _load_data(options: TrainOptions, config: ModelConfig, d: Processes, workers: int) -> tuple[Examples, Examples]:
    train_clips, val_clips = training_clips(options)
    cache = CropCache(options.cache_dir, config)
    every = list(dict.fromkeys(train_clips + val_clips))
    # Process 0 decodes into the cache first; the others then only read it.
    if not d.main:
        d.barrier()
    with progress_bar(
        total=len(every), desc="decoding clips", unit="clip", progress=options.progress, disable=not d.main
    ) as bar:
        loaded = load_examples(cache, every, config.vocabulary, workers, bar.update)
    if d.main:
        d.barrier()
    index = {c: i for i, c in enumerate(loaded.clips)}

    def pick(clips: list[Clip]) -> Examples:
        keep = [index[c] for c in clips if c in index]
        return Examples(
            [loaded.clips[i] for i in keep],
            [loaded.crops[i] for i in keep],
            [loaded.targets[i] for i in keep],
            config.vocabulary,
        )

    train, val = pick(train_clips), pick(val_clips)
    if not train:
        raise DataError(f"{options.data}: no usable training clips")
    return train, val


def _decode(
    logprobs: np.ndarray, lengths: np.ndarray, config: ModelConfig, beam_width: int
) -> tuple[list[str], list[str] | None]:
    greedy = [h.text for h in greedy_decode_batch(logprobs, lengths, config.vocabulary)]
    if beam_width <= 0:
        return greedy, None
    beams = beam_search_batch(logprobs, lengths, beam_width=beam_width, vocabulary=config.vocabulary)
    return greedy, [b[0].text if b else "" for b in beams]


def _validate(
    module: LipNet, loader: BatchLoader, device: torch.device, amp: torch.dtype | None, beam_width: int
) -> tuple[float, list[str], list[str], list[str] | None]:
    """Validation loss (mean per-clip NLL), references, greedy and beam predictions."""
    module.eval()
    total, count = 0.0, 0
    refs: list[str] = []
    greedy: list[str] = []
    beam: list[str] | None = [] if beam_width > 0 else None
    texts = loader.examples.texts
    with torch.inference_mode():
        for batch in loader:
            batch = batch.to(device)
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                lp = module(batch.frames, batch.lengths)
            lp = lp.float()
            total += float(ctc_loss(lp, batch).sum())
            count += len(batch.indices)
            g, b = _decode(lp.cpu().numpy(), batch.lengths.cpu().numpy(), module.config, beam_width)
            refs += [texts[i] for i in batch.indices]
            greedy += g
            if beam is not None and b is not None:
                beam += b
    return total / max(1, count), refs, greedy, beam


def _amp_dtype(options: TrainOptions, device: torch.device) -> torch.dtype | None:
    """fp16 autocast on CUDA unless switched off; none on CPU unless ``amp=True`` (then bfloat16)."""
    use = options.amp if options.amp is not None else device.type == "cuda"
    if not use:
        return None
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    atomic_write(path, "".join(json.dumps(h) + "\n" for h in history).encode())


def train(options: TrainOptions) -> TrainResult:
    """Train a LipNet as ``options`` say and return where the checkpoints are.

    Raises:
        DataError: no clips, or an unusable split.
        CheckpointError: ``resume`` with no or an incompatible ``last.ckpt``.
    """
    started = time.monotonic()
    options = with_training_vocabulary(options)  # the data's own alphabet for a manifest or an LRS folder
    config = options.model_config
    d, device = start_processes(options.device)
    try:
        return _train(options, config, d, device, started)
    finally:
        d.end()


def _train(
    options: TrainOptions, config: ModelConfig, d: Processes, device: torch.device, started: float
) -> TrainResult:
    out = Path(options.output)
    workers = options.threads
    log: Callable[[str], None] = tqdm.write if d.main else (lambda _msg: None)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if d.main:
        writable_folder(out)  # (an OSError naming ``out`` and why, before any clip is decoded)
        _remove_temporaries(out)
    last_ckpt = out / "last.ckpt"
    if options.resume and not last_ckpt.is_file():
        raise CheckpointError(f"{last_ckpt}: nothing to resume from (no checkpoint in {out})")

    train_set, val_set = _load_data(options, config, d, workers)
    clips = counted(len(train_set), "clip")
    log(f"training on {clips}, validating on {len(val_set)}; device {device}, {d.world} process(es)")
    config = config.with_(words=run_words((clip.text for clip in train_set.clips), options.init))
    if d.main:
        write_word_list(out, config.words or ())

    torch.manual_seed(options.seed)
    module = LipNet(config, options.conv_dropout).to(device)
    if d.rank > 0:  # distinct dropout per process; the weights come from process 0 through DDP
        torch.manual_seed(options.seed * 1_000_003 + d.rank)
    amp = _amp_dtype(options, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    for name, parameter in module.named_parameters():  # frozen parts keep their (init) weights
        parameter.requires_grad_(name.split(".")[0] not in options.freeze)
    optimiser = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=options.lr)
    clips = clips_digest(train_set.clips, val_set.clips)
    state = _State(clips=clips)
    if options.init is not None and not options.resume:
        checkpoint = load_checkpoint(options.init, expect=config)
        assign_canonical(module, checkpoint.tensors, str(options.init))
        log(f"starting from the weights of {options.init}")
    if options.resume:
        state = _restore(last_ckpt, module, optimiser, scaler, restore_rng=d.main, options=options, clips=clips)
        if d.rank > 0:
            torch.manual_seed(options.seed * 1_000_003 + d.rank + 7919 * state.epoch)
        log(f"resuming from {last_ckpt} after epoch {state.epoch}")
        if state.epoch >= options.epochs:  # said, rather than a run that ends without a word
            done = f"it has trained {state.epoch} of --epochs {options.epochs}"
            log(f"{done}: nothing more to train (a larger --epochs goes on)")
        if d.main:
            _write_history(out / "history.jsonl", state.history)
    net: nn.Module = module
    if d.active:
        net = nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)

    pin = device.type == "cuda"
    pad = 8 if device.type == "cuda" else 1
    val_loader = BatchLoader(
        val_set,
        [np.arange(i, min(i + options.batch_size, len(val_set))) for i in range(0, len(val_set), options.batch_size)],
        None,
        workers=workers,
        pad_multiple=pad,
        pin=pin,
    )
    limit = options.time_limit * 60 if options.time_limit is not None else None

    while state.epoch < options.epochs:
        epoch = state.epoch
        t0 = time.monotonic()
        lr = learning_rate(epoch, options.lr, options.constant_epochs, options.decay)
        for group in optimiser.param_groups:
            group["lr"] = lr
        bar_label = f"epoch {epoch + 1}/{options.epochs}"
        batches = epoch_batches(len(train_set), options.batch_size, options.seed, epoch, d.rank, d.world)
        loader = BatchLoader(
            train_set,
            batches,
            [(options.seed, epoch, d.rank, k) for k in range(len(batches))],
            augmentation=options.augmentation,
            word_clips=options.word_clips,
            align_tolerance=options.align_tolerance,
            workers=workers,
            pad_multiple=pad,
            pin=pin,
        )
        seen, loss_sum = _train_epoch(
            net,
            loader,
            optimiser,
            scaler,
            device,
            amp,
            bar_label,
            d.main and show_progress(options.progress),
            (options.mixup, (options.seed, epoch, d.rank)),
        )
        train_seconds = time.monotonic() - t0
        d.sync_buffers(module)
        train_loss = d.mean(loss_sum / max(1, seen), device)
        state.epoch = epoch + 1

        if d.main:
            record: dict[str, Any] = {"epoch": state.epoch, "lr": lr, "train_loss": train_loss}
            metrics: dict[str, Any] = {}
            if len(val_set):
                val_loss, refs, greedy, beam = _validate(module, val_loader, device, amp, options.beam_width)
                metrics = validation_report(refs, greedy, beam)
                record["val_loss"] = val_loss
                score = selection_score(metrics, val_loss)
                improved = state.best is None or score < state.best
                if improved:
                    state.best = score
            else:
                record["val_loss"] = None
                improved = False
            record["metrics"] = metrics
            record["seconds"] = time.monotonic() - t0
            record["clips_per_second"] = seen * d.world / max(train_seconds, 1e-9)
            state.history.append(record)
            _save_epoch(out, module, optimiser, scaler, state, options, metrics, improved)
            _write_history(out / "history.jsonl", state.history)
            log(epoch_summary(record))
            if len(val_set) and options.examples > 0:
                log(format_examples(refs, greedy, options.examples))
        stop = limit is not None and time.monotonic() - started >= limit and state.epoch < options.epochs
        stop = d.broadcast_flag(stop, device if device.type == "cuda" else torch.device("cpu"))
        d.barrier()
        if stop:
            log(f"time limit of {options.time_limit} min reached after epoch {state.epoch}; continue with --resume")
            break

    if not d.main:
        # Only process 0 writes; the history it holds is the run's.
        state.history = _read_history(out / "history.jsonl")
    best = out / "best.safetensors"
    return TrainResult(out, best if best.is_file() else None, out / "last.safetensors", state.history)


def _train_epoch(
    net: nn.Module,
    loader: BatchLoader,
    optimiser: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    amp: torch.dtype | None,
    label: str,
    progress: bool,
    mixup: tuple[float, tuple[int, ...]] = (0.0, ()),
) -> tuple[int, float]:
    """One pass over ``loader``; returns (clips seen, summed per-clip loss).

    ``mixup`` is ``(alpha, seed)``: with ``alpha > 0`` every batch is blended by :func:`mix_batch`, its
    random draws seeded by ``seed`` and the step (the same on a resumed run)."""
    alpha, mix_seed = mixup
    net.train()
    seen = 0
    losses = torch.zeros((), device=device, dtype=torch.float64)  # summed on the device: no sync per step
    bar = progress_bar(loader, desc=label, unit="batch", leave=False, progress=progress)
    for step, batch in enumerate(bar):
        batch = batch.to(device)
        if alpha > 0:
            batch, partner, lam = mix_batch(batch, alpha, np.random.default_rng((*mix_seed, step)))
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            lp = net(batch.frames, batch.lengths)
        if alpha > 0:
            loss = (lam * ctc_loss(lp, batch) + (1 - lam) * ctc_loss(lp, partner)).mean()
        else:
            loss = ctc_loss(lp, batch).mean()
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        losses += loss.detach() * len(batch.indices)
        seen += len(batch.indices)
        if progress and (step % 5 == 0 or step == len(loader) - 1):
            bar.set_postfix(loss=f"{float(losses) / seen:.3f}")
    return seen, float(losses)


def _read_history(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _save_epoch(
    out: Path,
    module: LipNet,
    optimiser: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    state: _State,
    options: TrainOptions,
    metrics: dict[str, Any],
    improved: bool,
) -> None:
    blob = _checkpoint_bytes(module, optimiser, scaler, state, options)
    tensors = {k: v.detach().to("cpu", torch.float32).numpy() for k, v in canonical_state(module).items()}
    trained_on, scores = options.to_json(), {**metrics, "epoch": state.epoch}
    if improved:
        save_checkpoint(out / "best.safetensors", tensors, module.config, trained_on=trained_on, metrics=scores)
        atomic_write(out / "best.ckpt", blob)
    save_checkpoint(out / "last.safetensors", tensors, module.config, trained_on=trained_on, metrics=scores)
    atomic_write(out / "last.ckpt", blob)  # last: resuming redoes an epoch whose files are not all written


def _remove_temporaries(out: Path) -> None:
    """Delete the temporary files of :func:`lipread.weights.atomic_write` that a killed run left in ``out``."""
    for name in ("last.ckpt", "last.safetensors", "best.ckpt", "best.safetensors", "history.jsonl", "words.txt"):
        for tmp in leftover_temporaries(out / name):
            tmp.unlink(missing_ok=True)
