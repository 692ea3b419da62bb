"""``lipread adapt DATA -o RUN``: fine-tune a trained model on a few labelled clips of a new speaker, and write
it as ``RUN/model.safetensors`` and ``RUN/model.onnx`` (which ``lipread transcribe --model`` reads)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

from ..data.adapt import adapt_plan
from ..data.alphabet import accepting_all, missing_characters
from ..data.grid import is_grid_sentence
from ..data.training import FREEZABLE, TrainOptions
from ..errors import BackendError, DataError
from ..models import DEFAULT_MODEL, source_checkpoint
from ..progress import add_progress_argument
from ..weights import read_metadata, writable_folder
from .parsing import UsageError, file_path, non_negative, positive

__all__ = ["adapt", "add_parser", "options_from_args", "source_checkpoint"]

_NOTHING = "none"
"""``--freeze none``: every weight trains."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``adapt`` and its flags."""
    p = subparsers.add_parser(
        "adapt",
        help="fine-tune a model on a few clips of a new speaker",
        description="Fine-tune a trained model on a few labelled clips of a new speaker (every clip trains; "
        "there is no validation split) and write RUN/model.safetensors and RUN/model.onnx, which "
        "`lipread transcribe --model RUN/model.onnx` reads. What trains, the learning rate and the epochs "
        "follow from the number of clips: every weight trains, for about 180 clip passes (10 to 40 epochs); "
        "under 100 clips at 2e-4 and one clip per step, from 100 clips on at 1e-4 and 4 clips per step. "
        "docs/adapt.md is the walk-through.",
    )
    p.add_argument(
        "data",
        type=file_path,
        help="the clips: a manifest (.csv, .jsonl: video, text, optional start, end), an LRS-style folder or a "
        "GRID-style folder; videos may be files or folders of numbered frames",
    )
    p.add_argument("-o", "--output", type=file_path, required=True, help="run folder for the adapted model")
    p.add_argument(
        "--from",
        dest="source",
        default=DEFAULT_MODEL,
        metavar="MODEL",
        help="the model to start from: a shipped model's name or a .safetensors checkpoint",
    )
    p.add_argument("--epochs", type=positive(int), help="epochs (default: from the number of clips)")
    p.add_argument("--lr", type=positive(float), help="Adam learning rate (default: from the number of clips)")
    p.add_argument(
        "--freeze",
        nargs="+",
        choices=(*FREEZABLE, _NOTHING),
        metavar="PART",
        help=f"parts that keep their weights: {', '.join(FREEZABLE)}, or {_NOTHING} (default: {_NOTHING})",
    )
    p.add_argument("--backend", default="torch", help="backend that trains and exports (default: torch)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        help="mixed precision: float16 on CUDA, bfloat16 on CPU, about twice as fast there (default: on CUDA)",
    )
    p.add_argument(
        "--workers", type=non_negative(int), default=2, help="threads for decoding and batches (0: all cores)"
    )
    p.add_argument("--cache", type=file_path, help="folder for decoded mouth crops (default: RUN/cache)")
    p.add_argument("--seed", type=int, default=0, help="seed of shuffling and augmentation")
    add_progress_argument(p)
    return p


def options_from_args(args: argparse.Namespace) -> tuple[TrainOptions, str]:
    """The training ``args`` describe, and the line that says what it will do.

    Raises:
        CheckpointError: ``--from`` is neither a shipped model nor a readable checkpoint.
        DataError: no clips, or texts with characters the model cannot write (named).
    """
    from ..data.dataset import find_clips

    init = source_checkpoint(args.source)
    config = read_metadata(init)["config"]
    # Every clip, to name what is missing. The clips left out (bad rows) are reported once, by the training's
    # own reading of the data; here only when none is left, which ends the command before the training.
    try:
        clips = find_clips(args.data, warn=False, vocabulary=accepting_all(config.vocabulary))
    except DataError:
        clips = find_clips(args.data, vocabulary=accepting_all(config.vocabulary))  # reports, then raises
    missing = missing_characters((c.text for c in clips), config.vocabulary)
    if missing:
        shown = " ".join(repr(c) for c in missing)
        raise DataError(
            f"{args.data}: the texts use {len(missing)} character(s) that {args.source} cannot write: {shown} "
            f"(its alphabet: {''.join(config.vocabulary.characters)!r}); adapt a model whose alphabet has them, "
            "or train one on these texts with `lipread train`"
        )
    if config.decoder in ("grammar", "lexicon") and not all(is_grid_sentence(c.text) for c in clips):
        # The GRID grammar and word list would force other sentences into GRID ones: read them with a beam.
        config = config.with_(decoder=None)
    for name in ("model.safetensors", "model.onnx"):  # found now, not after the training
        if (args.output / name).is_dir():
            raise DataError(f"{args.output / name}: is a folder; the adapted model is written there")
    freeze = tuple(p for p in args.freeze or () if p != _NOTHING)
    try:
        plan = dataclasses.replace(adapt_plan(len(clips), args.epochs, args.lr), freeze=freeze)
    except ValueError as e:
        raise DataError(f"{args.data}: {e}") from None
    options = TrainOptions(
        data=args.data,
        output=args.output,
        config=config,
        split="random",
        val_fraction=0.0,  # every clip trains
        epochs=plan.epochs,
        batch_size=plan.batch_size,
        lr=plan.lr,
        constant_epochs=plan.constant_epochs,
        decay=plan.decay,
        align_tolerance=None,  # the plan was measured with plain CTC (docs/adapt.md)
        init=init,
        freeze=plan.freeze,
        cache=args.cache if args.cache is not None else args.output / "cache",
        device=args.device,
        amp=args.amp,
        workers=args.workers,
        beam_width=0,
        examples=0,
        seed=args.seed,
        progress=args.progress,
    )
    decoder = config.decoder or "beam"
    return options, f"adapting {args.source} to {plan.describe()}; the model will read with the {decoder} decoder"


def adapt(options: TrainOptions, backend_name: str = "torch") -> tuple[Path, Path]:
    """Train as ``options`` say, then keep the last epoch's weights as ``model.safetensors`` in the run
    folder and export them as ``model.onnx`` next to it (weights that 16 bits hold exactly, such as frozen
    ones that came 16-bit, stay 16-bit). The training checkpoint ``last.ckpt`` is removed; ``history.jsonl``
    stays.

    Returns:
        ``(model.safetensors, model.onnx)``.

    Raises:
        BackendError: the backend cannot train or export.
        DataError: no clip could be used; the run folder is removed again when this call made it.
    """
    from ..backend import get_backend
    from ..onnx.half import store_exact_16_bit

    backend = get_backend(backend_name)
    if not {"train", "export"} <= backend.capabilities:
        raise BackendError(f"backend {backend.name!r} cannot train and export; use --backend torch")
    fresh = not options.output.exists()
    out = writable_folder(options.output)  # before any clip is decoded
    try:
        result = backend.train(options)
    except DataError:  # no clip could be used: nothing trained, so a folder made for it (and its cache) goes
        if fresh:
            shutil.rmtree(out, ignore_errors=True)
        raise
    checkpoint = out / "model.safetensors"
    os.replace(result.last, checkpoint)
    (out / "last.ckpt").unlink(missing_ok=True)  # a finished adaptation is not resumed; it is 3x the model
    onnx = backend.export_onnx(backend.load(checkpoint), out / "model.onnx")
    store_exact_16_bit(onnx, onnx)
    return checkpoint, onnx


def run(args: argparse.Namespace) -> int:
    """Adapt; prints what trains and where the model went. Returns 0."""
    parts = list(dict.fromkeys(p for p in args.freeze or () if p != _NOTHING))
    if parts and _NOTHING in args.freeze:
        raise UsageError(f"--freeze {_NOTHING} trains every weight; it does not go with {' '.join(parts)}")
    options, plan = options_from_args(args)
    print(plan, flush=True)
    checkpoint, onnx = adapt(options, args.backend)
    print(f"adapted model: {onnx} (checkpoint {checkpoint})")
    return 0
