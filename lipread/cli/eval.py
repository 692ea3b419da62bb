"""``lipread eval``: character and word error rates, sentence accuracy and word-timing error on GRID data.

The data is any layout :func:`lipread.data.dataset.find_clips` reads: GRID folders (with videos or frame
folders), a manifest file, an LRS-style folder. Frame folders are read at ``--fps`` (default 25).

``--split val`` (the default; ``random`` is the same) evaluates the validation part of the default random
split (:func:`lipread.data.dataset.split_clips` with seed 0 and fraction 0.1), the clips the shipped model was not
trained on; ``--split all`` evaluates every clip. Clips are read by ``--workers`` threads while the model runs, as
in ``lipread transcribe`` (:mod:`lipread.transcription.pipeline`).

Word timing: for each clip with a GRID ``.align`` file whose predicted word count equals the reference's,
predicted and reference words are paired by position and the absolute differences of their start and end
times are collected; the medians over all pairs are reported in milliseconds.

Errors by word slot: over the clips whose reference is a GRID sentence, the share of each slot's words
(command, colour, preposition, letter, digit, adverb) that the transcript substitutes or leaves out, by an
optimal word alignment (:func:`lipread.data.metrics.missed_words`). ``--confusion FILE.png`` draws which letter
was read for each letter said (the letter slot is the hardest to lip-read), with matplotlib
(:func:`lipread.cli.plot.draw_letter_confusion`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import DEFAULT_BATCH_SIZE
from ..decoding.decoders import DEFAULT_BEAM_WIDTH
from ..errors import DataError, LipreadError, VideoError
from ..models import DEFAULT_MODEL
from ..progress import add_progress_argument
from ..report import counted, report_error, report_warning
from ..transcription.subtitles import TimedText
from .parsing import file_path, positive
from .transcribe import (
    add_fps_argument,
    add_model_arguments,
    add_throughput_arguments,
    model_options,
)

__all__ = ["add_parser", "boundary_errors", "evaluate", "run"]

SPLITS = ("val", "random", "all")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eval``."""
    p = subparsers.add_parser(
        "eval",
        help="measure CER/WER/sentence accuracy on a GRID folder",
        description="Transcribe GRID clips and compare with their sentences (and word alignments, if any).",
    )
    p.add_argument(
        "data",
        type=file_path,
        help="GRID folder (videos or frame folders), manifest (.csv, .jsonl) or LRS-style folder "
        "(any layout lipread.data.dataset.find_clips understands)",
    )
    add_model_arguments(p)
    add_fps_argument(p)
    p.add_argument(
        "--split",
        choices=SPLITS,
        default="val",
        help="val (or random): the held-out 10%% of the seed-0 random split; all: every clip (default: val)",
    )
    p.add_argument("--max-clips", type=positive(int), metavar="N", help="evaluate only the first N clips of the split")
    add_throughput_arguments(p)
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument(
        "--confusion",
        type=file_path,
        metavar="FILE",
        help="also draw the confusion matrix of the GRID letter slot into FILE (.png, .svg, .pdf; needs "
        'pip install "lipread[plot]")',
    )
    add_progress_argument(p)
    return p


def boundary_errors(predicted: Sequence[TimedText], reference: Sequence[TimedText]) -> tuple[list[float], list[float]]:
    """Absolute start and end differences (seconds) of words paired by position.

    Returns two empty lists when the word counts differ (the pairing would be meaningless).
    """
    if len(predicted) != len(reference):
        return [], []
    starts = [abs(p.start - r.start) for p, r in zip(predicted, reference)]
    ends = [abs(p.end - r.end) for p, r in zip(predicted, reference)]
    return starts, ends


def _median_ms(values: list[float]) -> float | None:
    return round(statistics.median(values) * 1000, 1) if values else None


def evaluate(
    data: Path,
    model: str = DEFAULT_MODEL,
    backend: str | None = None,
    decoder: str | None = None,
    beam_width: int = DEFAULT_BEAM_WIDTH,
    split: str = "val",
    max_clips: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool | None = False,
    fps: float | None = None,
    workers: int = 0,
    **opts: Any,
) -> dict[str, Any]:
    """Evaluate a model on GRID clips; returns the JSON-ready results :func:`run` prints.

    ``progress``: a progress bar on stderr (False: none; None: only when stderr is a terminal, see
    :func:`lipread.progress.show_progress`). ``fps``: the frame rate of frame folders (default 25).
    ``workers``: threads reading clips while the model runs (0: one per core, see
    :mod:`lipread.transcription.pipeline`).

    Keys: ``data``, ``split``, ``clips`` (evaluated), ``failed`` (unreadable, reported on stderr),
    ``model``, ``backend``, ``decoder``, ``beam_width``, ``cer``, ``wer``, ``sentence_accuracy``,
    ``timed_clips``, ``median_start_error_ms``, ``median_end_error_ms`` (None without usable alignments),
    ``slot_error_rates`` (``{slot: rate}`` over :data:`lipread.data.grid.SLOT_NAMES`; None when no reference is a
    GRID sentence), ``letter_confusion`` (``{spoken letter: {read word: count}}`` of the GRID letter slot,
    :func:`lipread.data.confusion.slot_counts`; empty when no reference is a GRID sentence).

    Raises:
        DataError: no clips, a split that leaves no validation clips, or no clip could be read.
    """
    from ..api import Transcriber
    from ..data.align import load_alignment
    from ..data.alphabet import accepting_all, missing_characters
    from ..data.confusion import slot_counts, slot_pairs
    from ..data.dataset import Clip, find_clips, split_clips
    from ..data.grid import SLOT_NAMES, is_grid_sentence
    from ..data.metrics import missed_words, summarise
    from ..progress import progress_bar
    from ..transcription.pipeline import transcribe_stream

    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use {', '.join(SPLITS)}")

    def selected(clips: list[Clip]) -> list[Clip]:
        if split != "all":
            found = len(clips)
            try:
                clips = split_clips(clips, "random", val_fraction=0.1, seed=0)[1]
            except DataError:  # worded for training; here nothing trains
                clips = []
            if not clips:
                raise DataError(
                    f"{data}: {found} clip{'s hold' if found != 1 else ' holds'} no validation clips (a tenth of "
                    "them, rounded); evaluate every clip with --split all"
                )
        clips = clips if max_clips is None else clips[: max(0, max_clips)]
        if not clips:
            raise DataError(f"{data}: no clips to evaluate in split {split!r}")
        return clips

    clips = selected(find_clips(data))  # a data set that cannot be evaluated is said before a model is loaded
    runner = Transcriber(model, backend, decoder, beam_width, None, None, batch_size, workers, **opts)
    if any(c != c.lower() for c in runner.config.vocabulary.characters):  # a cased model: texts as it writes them
        clips = selected(find_clips(data, warn=False, vocabulary=accepting_all(runner.config.vocabulary)))
    missing = missing_characters((c.text for c in clips), runner.config.vocabulary)
    if missing:  # the rates still mean something for the rest of the text; say why they are high
        shown = " ".join(repr(c) for c in missing)
        report_warning(
            f"the texts use {len(missing)} character(s) that {model} cannot write: {shown}; "
            "every one of them counts as an error",
            data,
        )
    refs: list[str] = []
    hyps: list[str] = []
    starts: list[float] = []
    ends: list[float] = []
    timed = failed = 0
    slot_misses = [0] * len(SLOT_NAMES)
    grid_refs = 0
    notes = _ClipNotes()
    with progress_bar(total=len(clips), unit="clip", progress=progress, disable=len(clips) <= 1) as bar:
        # Clips are read in worker threads while the model runs; results come in input order.
        for clip, t in transcribe_stream(runner, clips, lambda c: _prepare(runner, c, fps), runner.workers):
            bar.update(1)
            if isinstance(t, LipreadError):
                failed += 1
                report_error(t, clip.origin or clip.video, bar=bar)
                continue
            for note in t.warnings:  # a part cut short, a rate the file does not state, ...
                notes.report(note, clip.origin or clip.video, bar)
            refs.append(clip.text)
            hyps.append(t.text)
            if is_grid_sentence(clip.text):
                grid_refs += 1
                missed, _ = missed_words(clip.text.split(), t.text.split())
                slot_misses = [a + b for a, b in zip(slot_misses, missed)]
            if clip.alignment is not None:
                start_errors, end_errors = boundary_errors(t.words, load_alignment(clip.alignment).words)
                timed += bool(start_errors)
                starts += start_errors
                ends += end_errors
    notes.summarise(data)
    if not refs:
        what = "its one clip could not be read" if len(clips) == 1 else f"none of its {len(clips)} clips could be read"
        raise DataError(f"{data}: {what}")
    grid_pairs = [(r, h) for r, h in zip(refs, hyps) if is_grid_sentence(r)]
    return {
        "data": str(data),
        "split": split,
        "clips": len(refs),
        "failed": failed,
        "model": runner.model_name,
        "backend": runner.backend,
        "decoder": runner.decoder.name,
        "beam_width": None if runner.decoder.name == "greedy" else beam_width,
        **summarise(refs, hyps),
        "timed_clips": timed,
        "median_start_error_ms": _median_ms(starts),
        "median_end_error_ms": _median_ms(ends),
        "slot_error_rates": {n: m / grid_refs for n, m in zip(SLOT_NAMES, slot_misses)} if grid_refs else None,
        "letter_confusion": slot_counts(slot_pairs([r for r, _ in grid_pairs], [h for _, h in grid_pairs], 3)),
    }


class _ClipNotes:
    """The warnings of the clips read, each kind (its first three words) told for the first
    :attr:`SHOWN` clips and then counted: a data set of 900 clips at another frame rate says so three times
    and once more with the count, not 900 times."""

    SHOWN = 3

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def report(self, note: str, where: object, bar: Any) -> None:
        kind = " ".join(note.split()[:3])
        self.counts[kind] += 1
        if self.counts[kind] <= self.SHOWN:
            report_warning(note, where, bar=bar)

    def summarise(self, data: object) -> None:
        for kind, n in self.counts.items():
            if n > self.SHOWN:
                report_warning(f"{counted(n - self.SHOWN, 'more clip')} warned as above ({kind} ...)", data)


def _prepare(runner: Any, clip: Any, fps: float | None) -> Any:
    """``runner.prepare`` of a clip: its video (a frame folder at ``fps``), or the part ``start``/``end`` cut."""
    from ..video.reader import frame_rate, read_frames

    folder_fps = fps if clip.video.is_dir() else None
    if clip.start is None and clip.end is None:
        return runner.prepare(clip.video, folder_fps)
    rate = folder_fps or frame_rate(clip.video)
    first, count = clip.frame_span(rate)
    try:
        frames = read_frames(clip.video, count, first)
        prepared = runner.prepare(frames, rate)
    except VideoError as e:  # it names the frames it was given, or reads as a damaged file: name the part
        raise clip.part_error(e) from None
    if count is not None and len(frames) < count:
        return dataclasses.replace(prepared, notes=(*prepared.notes, clip.short_part_note(len(frames), count)))
    return prepared


def _report(r: dict[str, Any]) -> str:
    beam = "" if r["beam_width"] is None else f", beam width {r['beam_width']}"
    unreadable = f", {r['failed']} unreadable" if r["failed"] else ""
    lines = [
        f"data: {r['data']} (split {r['split']}: {r['clips']} clip{'s' if r['clips'] != 1 else ''}{unreadable})",
        f"model: {r['model']} (backend {r['backend']}, decoder {r['decoder']}{beam})",
        f"CER: {100 * r['cer']:.2f}%",
        f"WER: {100 * r['wer']:.2f}%",
        f"sentence accuracy: {100 * r['sentence_accuracy']:.2f}%",
    ]
    if r["timed_clips"]:
        lines.append(
            f"word boundaries: median error {r['median_start_error_ms']:g} ms at starts, "
            f"{r['median_end_error_ms']:g} ms at ends "
            f"({counted(r['timed_clips'], 'clip')} with alignments and matching word counts)"
        )
    else:
        line = "word boundaries: no clip with an alignment and a matching word count"
        speaker = Path(str(r["data"]))
        alignments = speaker.parent / "alignments" / speaker.name
        if re.fullmatch(r"s\d+", speaker.name) and alignments.is_dir():  # a GRID speaker folder given alone
            line += f" (the alignments in {alignments} are read when the folder above, {speaker.parent}, is given)"
        lines.append(line)
    if r["slot_error_rates"] is not None:
        rates = ", ".join(f"{slot} {100 * rate:.1f}%" for slot, rate in r["slot_error_rates"].items())
        lines.append(f"word errors by slot: {rates}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the evaluation; 1 when a clip could not be read, else 0."""
    if args.confusion is not None:
        from .plot import check_image_path

        check_image_path(args.confusion)  # before the clips are read, not after
    from ..transcription.loading import with_precision

    model = os.fspath(with_precision(args.model, args.precision))
    opts = model_options(args.threads, model, args.backend, clips=2)  # an evaluation reads many clips
    result = evaluate(
        args.data,
        model,
        args.backend,
        args.decoder,
        args.beam_width,
        args.split,
        args.max_clips,
        args.batch_size,
        progress=args.progress,
        fps=args.fps,
        workers=args.workers,
        **opts,
    )
    print(json.dumps(result) if args.json else _report(result))
    if args.confusion is not None:
        from .plot import draw_letter_confusion

        draw_letter_confusion(result["letter_confusion"], args.confusion)
    return 1 if result["failed"] else 0
