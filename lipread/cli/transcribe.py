"""``lipread transcribe``: read the lips in videos and print the sentences, JSON, or write subtitles.

Output formats:

- ``txt`` (default): the sentence for a single video file; ``path<TAB>sentence`` per line otherwise (a tab or
  line break in a path written as ``\\t``, ``\\n`` or ``\\r``, so that each video stays one line of two fields).
- ``json``: one JSON object per line and input: ``path``, ``text``, ``confidence``, ``words`` (``word``,
  ``start``, ``end``, ``confidence``; seconds), ``backend``, ``model``, ``decoder``, ``warnings``,
  ``domain_score`` and ``in_domain`` (:mod:`lipread.transcription.domain`; null for a model without training
  statistics).

Whatever the format, each of a transcript's warnings (frames without a face, colour missing, frame rate
resampled, clip cut short: :attr:`lipread.api.Transcript.warnings`) is printed on stderr as
``lipread: warning: <file>: <what was noticed>``; warnings do not change the exit status. So is, for a clip
that looks unlike the model's training clips (``in_domain`` false), ``this video looks unlike what the model was
trained on; the text is probably wrong``.
- ``srt`` / ``vtt``: one subtitle file per input, ``<stem>.srt`` / ``<stem>.vtt`` in ``--output-dir``
  (default: the current folder, never beside the input, which may be read-only); the paths written are
  printed. Two inputs with the same stem get ``<stem>-2``, ``<stem>-3``, ... (see
  :mod:`lipread.transcription.subtitles`).

A progress bar (more than one video) is drawn on stderr only when stderr is a terminal, unless
``--progress`` or ``--no-progress`` says otherwise (:mod:`lipread.progress`).

Folders are searched recursively, through linked folders too, for files with a video extension and for frame
folders (folders of numbered images, :func:`lipread.video.reader.is_frame_folder`), each read as one clip at
``--fps`` (default 25); an input that is itself a frame folder is one clip
(:func:`lipread.video.discovery.find_videos`). An input that cannot be read is reported on stderr with the reason
and the others are still transcribed; the exit status is then 1.

Several clips are read by ``--workers`` threads (default one per core) while the model runs on the clips before
them, on half the cores unless ``--threads`` says otherwise, and printed in input order
(:mod:`lipread.transcription.pipeline`). Memory does not grow with the number of clips.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path
from typing import Any

from ..config import DEFAULT_BATCH_SIZE, MAX_BEAM_WIDTH
from ..data.text_file import read_word_list
from ..decoding.decoders import DECODERS, DEFAULT_BEAM_WIDTH
from ..errors import DecodingError, LipreadError
from ..models import DEFAULT_MODEL
from ..progress import add_progress_argument
from ..report import report_error, report_warning
from ..weights import writable_folder
from .parsing import UsageError, file_path, frame_rate, non_negative, positive

__all__ = [
    "add_fps_argument",
    "add_model_arguments",
    "add_parser",
    "add_precision_argument",
    "add_throughput_arguments",
    "model_options",
    "run",
    "warn_fps_for_files",
]

FORMATS = ("txt", "json", "srt", "vtt")
PRECISIONS = ("fp32", "int8")
"""``--precision``: :data:`lipread.transcription.loading.PRECISIONS`, named here so that building the parser
does not import the transcription stages."""


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--backend``, ``--decoder`` and ``--beam-width``, shared with ``lipread eval``."""
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"shipped model name, checkpoint or .onnx file (default: {DEFAULT_MODEL})",
    )
    p.add_argument("--backend", help="onnx, torch or tensorflow (default: onnx, then torch, then tensorflow)")
    p.add_argument(
        "--decoder",
        choices=DECODERS,
        help="CTC decoder (default: the one the model names, grammar for lipnet-grid-s1; else beam)",
    )
    p.add_argument(
        "--beam-width",
        type=positive(int, MAX_BEAM_WIDTH, "wider beams only cost memory"),
        default=DEFAULT_BEAM_WIDTH,
        help=f"beam width (default: {DEFAULT_BEAM_WIDTH})",
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``transcribe``."""
    p = subparsers.add_parser(
        "transcribe",
        help="read the lips in videos",
        description="Read the lips in videos (files, or folders searched recursively) and print the sentences.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        type=file_path,
        metavar="VIDEO_OR_FOLDER",
        help="video files, frame folders (numbered images, one clip each), or folders of either",
    )
    add_model_arguments(p)
    add_fps_argument(p)
    p.add_argument(
        "--lexicon",
        type=file_path,
        metavar="FILE",
        help="word list (one per line) for --decoder lexicon, which it implies (without it the lexicon decoder uses "
        "the words the model was trained on, or the GRID words for a model that stores none)",
    )
    p.add_argument("--format", choices=FORMATS, default="txt", help="output format (default: txt)")
    p.add_argument(
        "--output-dir", type=file_path, metavar="DIR", help="where srt/vtt files go (default: current folder)"
    )
    add_throughput_arguments(p)
    add_progress_argument(p)
    return p


def add_precision_argument(p: argparse.ArgumentParser) -> None:
    """``--precision``, shared with ``lipread eval`` and ``lipread live`` (each passes ``args.model`` through
    :func:`lipread.transcription.loading.with_precision`)."""
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="int8: a shipped model's int8 ONNX file (<name>.int8.onnx), about 2x the clips per second on a "
        "CPU and reading within a word or two of fp32's on the validation clips; fp32 reads as the checkpoint does "
        "in every backend (default: fp32)",
    )


def add_throughput_arguments(p: argparse.ArgumentParser) -> None:
    """``--precision`` (:func:`add_precision_argument`), ``--batch-size``, ``--workers`` and ``--threads``, shared
    with ``lipread eval`` (which passes the threads through :func:`model_options`)."""
    add_precision_argument(p)
    p.add_argument(
        "--batch-size",
        type=positive(int),
        default=DEFAULT_BATCH_SIZE,
        help=f"clips (or windows of a long clip) per forward pass; larger pays on a GPU, costing about 80 MB "
        f"a clip (default: {DEFAULT_BATCH_SIZE})",
    )
    p.add_argument(
        "--workers",
        type=non_negative(int, 256, "more threads than clips in flight do nothing"),
        default=0,
        help="threads decoding videos and locating mouths while the model runs (default: 0, one per core)",
    )
    p.add_argument(
        "--threads",
        type=positive(int),
        help="inference threads of the onnx backend (default: for one clip one per physical core; for several, "
        "half the cores, the others reading clips)",
    )


def model_options(threads: int | None, model: Any, backend: str | None, clips: int) -> dict[str, Any]:
    """The backend options for ``--threads``: itself when given; else, for several clips on the onnx backend,
    :func:`lipread.transcription.pipeline.model_threads` (the other cores prepare clips); else none."""
    from ..transcription.loading import backend_for
    from ..transcription.pipeline import model_threads

    if threads is not None:
        return {"threads": threads}
    try:
        onnx = backend_for(model, backend) == "onnx"
    except LipreadError:  # no backend for this model: said when it loads, after the inputs are checked
        return {}
    return {"threads": model_threads()} if clips > 1 and onnx else {}


def add_fps_argument(p: argparse.ArgumentParser) -> None:
    """``--fps``: the frame rate of frame folders (video files keep their own)."""
    p.add_argument(
        "--fps",
        type=frame_rate,
        help="frame rate of frame folders (default: 25, GRID's); video files keep their own",
    )


def warn_fps_for_files(fps: float | None, files: list[Path]) -> None:
    """Say once that ``--fps`` leaves the video files among ``files`` at their own rate (it is for frame folders)."""
    if fps is not None and any(not path.is_dir() for path in files):
        report_warning(f"--fps {fps:g} is the frame rate of frame folders; video files keep their own")


_FIELD_BREAKS = str.maketrans({"\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _one_field(path: str | None) -> str:
    """``path`` as one field of a ``txt`` line: its tabs and line breaks written as ``\\t``, ``\\n``, ``\\r``."""
    return (path or "<frames>").translate(_FIELD_BREAKS)


def _subtitle_path(folder: Path, stem: str, suffix: str, used: set[Path]) -> Path:
    path, n = folder / f"{stem}.{suffix}", 1
    while path in used:
        n += 1
        path = folder / f"{stem}-{n}.{suffix}"
    used.add(path)
    return path


_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC)})
"""Errors writing a subtitle file that stop the run: the disk is full or read-only, for every file to come."""


def run(args: argparse.Namespace) -> int:
    """Transcribe every input; 1 when any failed, else 0."""
    from ..api import PreparedClip, Transcriber
    from ..progress import progress_bar
    from ..transcription.domain import WARNING as DOMAIN_WARNING
    from ..transcription.loading import with_precision
    from ..transcription.pipeline import transcribe_stream
    from ..transcription.subtitles import write_subtitles
    from ..video.discovery import find_videos

    if args.lexicon is not None and args.decoder not in (None, "lexicon"):
        raise UsageError(f"--lexicon is only used with --decoder lexicon, not with --decoder {args.decoder}")
    if args.output_dir is not None and args.format not in ("srt", "vtt"):
        raise UsageError(f"--output-dir is only used with --format srt or vtt, not with --format {args.format}")
    files, problems = find_videos(args.inputs)
    for item, reason in problems:
        report_error(reason, item)
    if not files:
        return 1
    warn_fps_for_files(args.fps, files)
    out_dir = args.output_dir if args.output_dir is not None else Path.cwd()
    if args.format in ("srt", "vtt") and out_dir.exists() and not out_dir.is_dir():
        raise LipreadError(f"{out_dir}: --output-dir is not a folder")
    if args.format in ("srt", "vtt"):
        try:
            writable_folder(out_dir)  # before any clip is read: subtitles that cannot be written stop the run now
        except OSError as e:
            raise LipreadError(f"{out_dir}: --output-dir: {e.strerror or e}") from None
    lexicon = None if args.lexicon is None else read_word_list(args.lexicon, error=LipreadError)
    model = with_precision(args.model, args.precision)
    opts = model_options(args.threads, model, args.backend, len(files))
    try:
        runner = Transcriber(
            model,
            args.backend,
            args.decoder,  # None with a word list: Transcriber reads it with the lexicon decoder
            args.beam_width,
            lexicon,
            None,
            args.batch_size,
            args.workers,
            **opts,
        )
    except DecodingError as e:  # the decoder name and beam width are checked by the parser: the word list is bad
        if args.lexicon is None:  # the GRID words or grammar, which a model of another alphabet cannot spell
            raise DecodingError(f"{args.model}: {e}") from None
        raise DecodingError(f"{args.lexicon}: {e}") from None
    single = len(args.inputs) == 1 and files == list(args.inputs)
    used: set[Path] = set()
    failed = len(problems)
    with progress_bar(total=len(files), unit="video", progress=args.progress, disable=len(files) <= 1) as bar:
        # Clips are read in worker threads while the model runs; results come in input order.
        def prepare(path: Path) -> PreparedClip:
            return runner.prepare(path, args.fps if path.is_dir() else None)

        for path, t in transcribe_stream(runner, files, prepare, runner.workers):
            bar.update(1)
            if isinstance(t, LipreadError):
                failed += 1
                report_error(t, path, bar=bar)
                continue
            for warning in t.warnings:  # on stderr, before the result they are about
                report_warning(warning, t.path or "<frames>", bar=bar)
            if t.in_domain is False:
                report_warning(DOMAIN_WARNING, t.path or "<frames>", bar=bar)
            if args.format == "json":
                line = json.dumps(t.to_dict())
            elif args.format == "txt":
                line = t.text if single else f"{_one_field(t.path)}\t{t.text}"
            else:
                target = _subtitle_path(out_dir, Path(t.path or "frames").stem, args.format, used)
                try:
                    line = str(write_subtitles(t.words, target, args.format))
                except OSError as e:
                    error = LipreadError(f"{target}: cannot write subtitles: {e.strerror or e}")
                    if e.errno in _DISK_ERRORS:  # no later file can be written either
                        raise error from None
                    failed += 1  # this file only (a folder in its place, say): the others are still written
                    report_error(error, bar=bar)
                    continue
            bar.write(line, file=sys.stdout)
    return 1 if failed else 0
