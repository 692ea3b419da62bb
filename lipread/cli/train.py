"""``lipread train``: train a model on GRID-style data with any backend that can train."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..config import MAX_BEAM_WIDTH, PRESETS, ModelConfig, get_preset
from ..data.restart import GREY_FOLDER, RECIPE, RECIPE_EPOCHS, RESTART_FOLDER, WarmRestart, stages, train_in_stages
from ..data.training import TrainOptions
from ..errors import BackendError, DataError, LipreadError
from ..progress import add_progress_argument
from ..report import report_warning
from ..weights import writable_folder
from .parsing import file_path, non_negative, positive, with_crop, within

__all__ = ["CURVES", "add_parser", "draw_run_curves", "options_from_args", "restarts_from_args", "run"]

_DEFAULTS = TrainOptions(data=Path("."), output=Path("."))
_RESTART, _GREY = RECIPE

CURVES = "curves.png"
"""The figure of a run's curves that ``lipread train`` draws into its run folder at the end."""


def _tolerance(text: str) -> int | None:
    """``--align-tolerance``: frames >= 0, or ``none`` for plain CTC."""
    return None if text.strip().lower() == "none" else non_negative(int)(text)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` and its flags (one per :class:`~lipread.data.training.TrainOptions` field)."""
    d = _DEFAULTS
    p = subparsers.add_parser(
        "train",
        help="train a model on GRID-style data",
        description="Train a LipNet model. Checkpoints, canonical .safetensors models and history.jsonl go "
        "to the output folder; --resume continues an interrupted run exactly where it stopped. "
        "The defaults are the recipe that trained the shipped lipnet-grid-s1 on one speaker: 68 epochs from "
        f"scratch, a warm restart of 30 epochs from their best weights in <output>/{RESTART_FOLDER}, then a "
        f"fine-tune of 12 epochs on clips of which a fifth are made grey, in <output>/{GREY_FOLDER} (its model "
        "card lists the commands). "
        "Under `torchrun --nproc_per_node=N -m lipread train ...` the torch backend trains on N processes.",
    )
    p.add_argument(
        "data",
        type=file_path,
        help="GRID root folder (s<N>/*.mp4 or s<N>/<clip>/ frame folders with alignments/s<N>/*.align, or the "
        "official layout), a manifest (.csv, .jsonl: video, text, start, end, speaker) or an LRS-style folder",
    )
    p.add_argument("-o", "--output", type=file_path, required=True, help="run folder for checkpoints and history")
    p.add_argument("--backend", default="torch", help="backend that trains (default: torch)")
    model = p.add_mutually_exclusive_group()  # one network: a preset's, or a config file's
    model.add_argument("--preset", choices=sorted(PRESETS), default="lipnet", help="model preset (default: lipnet)")
    model.add_argument(
        "--model-config", type=file_path, metavar="JSON", help="a ModelConfig JSON file (instead of --preset)"
    )
    p.add_argument(
        "--vocabulary",
        type=file_path,
        metavar="FILE",
        help="the model's characters, in class order: a UTF-8 text file, on one line or one per line (default: "
        "for a manifest or an LRS folder the characters of its texts, space first, the rest by code point; "
        "for GRID data and with --init the model's own); texts with other characters are refused",
    )
    p.add_argument(
        "--crop",
        choices=("lipnet", "aligned"),
        help="the mouth crop of an RGB model: lipnet (an upright box from the face detector) or aligned (the face "
        "brought to a mean face by its landmarks first); the model remembers it (default: the preset's)",
    )
    p.add_argument(
        "--split", choices=("random", "unseen", "overlapped"), default=d.split, help="train/validation split"
    )
    p.add_argument(
        "--val-fraction",
        type=within(float, 0.0, 1.0),
        default=d.val_fraction,
        help="validation share of a random split, 0 to 1",
    )
    p.add_argument(
        "--epochs",
        type=positive(int),
        default=RECIPE_EPOCHS,
        help="total epochs, the warm restart's and the grey fine-tune's included (a resumed run continues up to this)",
    )
    p.add_argument("--batch-size", type=positive(int), default=d.batch_size, help="clips per step (per process)")
    p.add_argument("--lr", type=positive(float), default=d.lr, help="Adam learning rate")
    p.add_argument(
        "--constant-epochs", type=non_negative(int), default=d.constant_epochs, help="epochs at the full learning rate"
    )
    p.add_argument("--decay", type=non_negative(float), default=d.decay, help="after that, lr *= exp(-decay) per epoch")
    _add_stage_flags(
        p,
        "restart",
        _RESTART,
        f"training goes on in <output>/{RESTART_FOLDER} from the best weights so far with a new optimiser at "
        "--restart-lr for --restart-constant-epochs, then decaying by --decay (0: no restart)",
    )
    _add_stage_flags(
        p,
        "grey",
        _GREY,
        f"training goes on in <output>/{GREY_FOLDER} from the best weights so far with a new optimiser at --grey-lr "
        "for --grey-constant-epochs, then decaying by --decay, with a share of --grey-share of the clips made grey; "
        "its best epoch is the run's best model, so that it reads black-and-white video (0: no grey fine-tune)",
    )
    p.add_argument(
        "--grey-share",
        type=within(float, 0.0, 1.0),
        default=_GREY.greyscale,
        metavar="P",
        help="the grey fine-tune's share of training clips made grey, drawn anew every epoch",
    )
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=d.mirror, help="random left-right flips")
    p.add_argument("--frame-jitter", type=float, default=d.frame_jitter, help="per-frame drop/duplicate probability")
    p.add_argument(
        "--time-mask",
        type=non_negative(int),
        default=d.time_mask,
        metavar="FRAMES",
        help="replace up to FRAMES frames per second of each clip, in one window, by the clip's mean frame",
    )
    p.add_argument(
        "--shift", type=float, default=d.shift, metavar="F", help="random shift of the mouth box, fraction of its size"
    )
    p.add_argument("--scale", type=float, default=d.scale, metavar="F", help="random zoom of the mouth box, 1 +- F")
    p.add_argument("--rotation", type=float, default=d.rotation, metavar="DEG", help="random rotation, +- DEG")
    p.add_argument(
        "--colour", type=float, default=d.colour, metavar="F", help="random brightness, contrast, saturation, 1 +- F"
    )
    p.add_argument("--greyscale", type=float, default=d.greyscale, metavar="P", help="probability of a grey clip")
    p.add_argument(
        "--mixup",
        type=float,
        default=d.mixup,
        metavar="ALPHA",
        help="blend each training clip with another of its batch, weights from Beta(ALPHA, ALPHA), and the two "
        "sentences' CTC losses the same way (0: off; torch backend only)",
    )
    p.add_argument(
        "--word-clips",
        type=float,
        default=d.word_clips,
        metavar="P",
        help="probability of training on a run of 1-3 words cut from a clip instead of the whole clip",
    )
    p.add_argument(
        "--align-tolerance",
        type=_tolerance,
        default=d.align_tolerance,
        metavar="FRAMES",
        help="tie CTC alignments to the word times of the .align files, with this tolerance in frames, so that "
        "word times follow the speaker and training starts reading sooner; 'none' for plain CTC (clips without "
        "word times always train with plain CTC)",
    )
    p.add_argument(
        "--init",
        type=file_path,
        metavar="CHECKPOINT",
        help="start from the weights of this .safetensors checkpoint (fine-tuning) instead of random ones",
    )
    p.add_argument(
        "--conv-dropout",
        type=float,
        metavar="P",
        default=_DEFAULTS.conv_dropout,
        help="spatial dropout after each convolution block, in place of the preset's (LipNet's 0.5 never "
        "converged on one speaker's 810 clips)",
    )
    p.add_argument("--cache", type=file_path, help="folder for decoded crops (default: <output>/../cache)")
    p.add_argument("--resume", action="store_true", help="continue from <output>/last.ckpt")
    p.add_argument("--device", default=d.device, help="auto, cpu or cuda")
    p.add_argument(
        "--amp", action=argparse.BooleanOptionalAction, default=d.amp, help="mixed precision (default: on CUDA)"
    )
    p.add_argument(
        "--workers", type=non_negative(int), default=d.workers, help="threads for decoding and batches (0: all cores)"
    )
    p.add_argument("--max-clips", type=positive(int), help="use only the first N clips")
    p.add_argument("--train-on-validation", action="store_true", help="also train on the validation clips")
    p.add_argument(
        "--beam-width",
        type=non_negative(int, MAX_BEAM_WIDTH, "wider beams only cost memory"),
        default=d.beam_width,
        help="beam for validation metrics (0: greedy only)",
    )
    p.add_argument("--examples", type=non_negative(int), default=d.examples, help="example predictions shown per epoch")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of init, shuffling and augmentation")
    p.add_argument(
        "--split-seed", type=int, default=d.split_seed, help="seed of the random split (the validation clips)"
    )
    add_progress_argument(p)
    p.add_argument(
        "--time-limit",
        type=positive(float),
        metavar="MINUTES",
        help="stop after the epoch that passes this (default: no limit)",
    )
    p.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of a third-party backend (the built-in ones take none)",
    )
    p.add_argument(
        "--plot",
        action=argparse.BooleanOptionalAction,
        help=f"draw the loss, CER and WER per epoch into <output>/{CURVES} when the run ends, as lipread plot "
        'does (default: on; it needs matplotlib, pip install "lipread[plot]"; a figure that cannot be drawn, '
        "matplotlib missing too, is a warning, never a failed run; --plot stops at once when it cannot be drawn)",
    )
    return p


def _extra(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DataError(f"--extra {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    """The :class:`TrainOptions` the parsed flags describe.

    Raises:
        DataError: ``--model-config`` is missing or not a valid model configuration.
    """
    config: ModelConfig | str = args.preset
    if args.model_config is not None:
        try:
            config = ModelConfig.loads(args.model_config.read_text())
        except OSError as e:
            raise DataError(f"{args.model_config}: cannot read model config: {e.strerror}") from None
        except ValueError as e:
            reason = str(e).removeprefix("not a valid model config: ")
            raise DataError(f"{args.model_config}: not a valid model config: {reason}") from None
    if args.crop is not None:
        config = with_crop(get_preset(config) if isinstance(config, str) else config, args.crop)
    return TrainOptions(
        data=args.data,
        output=args.output,
        config=config,
        split=args.split,
        val_fraction=args.val_fraction,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        constant_epochs=args.constant_epochs,
        decay=args.decay,
        mirror=args.mirror,
        frame_jitter=args.frame_jitter,
        time_mask=args.time_mask,
        shift=args.shift,
        scale=args.scale,
        rotation=args.rotation,
        colour=args.colour,
        greyscale=args.greyscale,
        mixup=args.mixup,
        word_clips=args.word_clips,
        align_tolerance=args.align_tolerance,
        init=args.init,
        conv_dropout=args.conv_dropout,
        cache=args.cache,
        resume=args.resume,
        device=args.device,
        amp=args.amp,
        workers=args.workers,
        max_clips=args.max_clips,
        train_on_validation=args.train_on_validation,
        beam_width=args.beam_width,
        examples=args.examples,
        seed=args.seed,
        split_seed=args.split_seed,
        progress=args.progress,
        time_limit=args.time_limit,
        extra=_extra(args.extra),
        vocabulary=args.vocabulary,
    )


def _add_stage_flags(p: argparse.ArgumentParser, prefix: str, stage: WarmRestart, what: str) -> None:
    """``--PREFIX-at``, ``--PREFIX-lr`` and ``--PREFIX-constant-epochs``: a stage of the recipe, with ``stage``'s
    values as defaults; ``what`` says what the stage does after ``--PREFIX-at``'s epoch."""
    p.add_argument(
        f"--{prefix}-at",
        type=non_negative(int),
        default=stage.at,
        metavar="EPOCH",
        help=f"after this epoch (when --epochs goes beyond it), a {stage.name}: {what}",
    )
    p.add_argument(
        f"--{prefix}-lr", type=positive(float), default=stage.lr, metavar="LR", help=f"the {stage.name}'s learning rate"
    )
    p.add_argument(
        f"--{prefix}-constant-epochs",
        type=non_negative(int),
        default=stage.constant_epochs,
        metavar="EPOCHS",
        help=f"the {stage.name}'s epochs at its full learning rate",
    )


def restarts_from_args(args: argparse.Namespace) -> tuple[WarmRestart, WarmRestart]:
    """The warm restart and the grey fine-tune that the parsed ``--restart-*`` and ``--grey-*`` flags describe."""
    return (
        WarmRestart(args.restart_at, args.restart_lr, args.restart_constant_epochs),
        WarmRestart(args.grey_at, args.grey_lr, args.grey_constant_epochs, args.grey_share, GREY_FOLDER),
    )


def run(args: argparse.Namespace) -> int:
    """Train; prints where the models went. Returns 0."""
    from ..backend import get_backend

    options = options_from_args(args)
    restarts = restarts_from_args(args)
    runs = stages(options, restarts)  # refuses two stages after the same epoch before anything is written
    backend = get_backend(args.backend)
    if "train" not in backend.capabilities:
        raise BackendError(f"backend {backend.name!r} cannot train; use --backend torch or --backend tensorflow")
    if (options.output / "last.ckpt").exists() and not options.resume:  # it would be written over, epoch by epoch
        raise DataError(
            f"{options.output}: holds a run already (last.ckpt); --resume continues it, and a new run needs another "
            "--output (or that folder emptied)"
        )
    fresh = not options.output.exists()
    writable_folder(options.output)  # before any clip is decoded: a run whose results cannot be written stops now
    try:
        if args.plot:  # asked for by name: stop now, not after hours of training, when it cannot be drawn
            from .plot import require_matplotlib

            require_matplotlib(options.output / CURVES)
        result = train_in_stages(backend.train, options, restarts)
    except LipreadError:  # no data, a device it does not have: a folder made for a run that never trained goes
        # (under torchrun, by the first process only, as it alone writes the run's files)
        if fresh and os.environ.get("RANK", "0") == "0" and not any(options.output.rglob("last.ckpt")):
            shutil.rmtree(options.output, ignore_errors=True)
        raise
    # Under torchrun every process gets here; only process 0 (the one that wrote the history) draws.
    if args.plot is not False and os.environ.get("RANK", "0") == "0":
        for folder in dict.fromkeys([*(r.output for r in runs), result.output]):  # each stage's run
            curves = draw_run_curves(folder) if (folder / "history.jsonl").is_file() else None
            if curves is not None:
                print(f"curves: {curves}")
    if result.best is not None:  # the models last: scripts read the last line for the model
        print(f"best model: {result.best}")
    print(f"last model: {result.last}")
    return 0


def draw_run_curves(output: Path) -> Path | None:
    """Draw a finished run's curves (:func:`lipread.cli.plot.draw_curves` of its ``history.jsonl``) into
    ``output/curves.png`` and return that path; None, after one warning line on stderr, when they cannot be
    drawn (matplotlib missing, no epoch recorded, the file not writable): the run itself has finished."""
    from .plot import draw_curves, read_history

    out = output / CURVES
    try:
        draw_curves(read_history(output), out, title=output.resolve().name)
    # Any failure of the figure, whatever its kind: the checkpoints are written, so the run has succeeded.
    except Exception as e:
        text = (str(e) or type(e).__name__).removeprefix(f"{out}: ")
        report_warning(f"curves not drawn: {text}", out)
        return None
    return out
