"""``lipread transcribe``: read the lips in videos and print the sentences, JSON, or write subtitles.

Output formats:

- ``txt`` (default): the sentence for a single video file; ``path<TAB>sentence`` per line otherwise.
- ``json``: one JSON object per line and input: ``path``, ``text``, ``confidence``, ``words`` (``word``,
  ``start``, ``end``, ``confidence``; seconds), ``backend``, ``model``.
- ``srt`` / ``vtt``: one subtitle file per input, ``<stem>.srt`` / ``<stem>.vtt`` in ``--output-dir``
  (default: the current folder, never beside the input, which may be read-only); the paths written are
  printed. Two inputs with the same stem get ``<stem>-2``, ``<stem>-3``, ... (see :mod:`lipread.subtitles`).

Folders are searched recursively for files with a video extension. An input that cannot be read is
reported on stderr with the reason and the others are still transcribed; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..decoding import DECODERS, DEFAULT_BEAM_WIDTH
from ..errors import LipreadError
from ..models import DEFAULT_MODEL

__all__ = ["add_model_arguments", "add_parser", "expand_inputs", "run"]

FORMATS = ("txt", "json", "srt", "vtt")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--backend``, ``--decoder`` and ``--beam-width``, shared with ``lipread eval``."""
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"shipped model name, checkpoint or .onnx file (default: {DEFAULT_MODEL})",
    )
    p.add_argument("--backend", help="onnx, torch or tensorflow (default: onnx, then torch, then tensorflow)")
    p.add_argument("--decoder", choices=DECODERS, default="beam", help="CTC decoder (default: beam)")
    p.add_argument(
        "--beam-width", type=int, default=DEFAULT_BEAM_WIDTH, help=f"beam width (default: {DEFAULT_BEAM_WIDTH})"
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``transcribe``."""
    p = subparsers.add_parser(
        "transcribe",
        help="read the lips in videos",
        description="Read the lips in videos (files, or folders searched recursively) and print the sentences.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="VIDEO_OR_FOLDER", help="video files or folders of videos")
    add_model_arguments(p)
    p.add_argument("--lexicon", type=Path, metavar="FILE", help="word list (one per line) for --decoder lexicon")
    p.add_argument("--format", choices=FORMATS, default="txt", help="output format (default: txt)")
    p.add_argument("--output-dir", type=Path, metavar="DIR", help="where srt/vtt files go (default: current folder)")
    p.add_argument("--batch-size", type=int, default=8, help="clips per forward pass (default: 8)")
    p.add_argument("--threads", type=int, help="inference threads (onnx backend)")
    return p


def expand_inputs(inputs: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(video files, [(input, reason)] for folders without videos), folders searched recursively."""
    from ..video import VIDEO_EXTENSIONS

    files: list[Path] = []
    problems: list[tuple[Path, str]] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
            if not found:
                problems.append((item, f"no videos found ({', '.join(VIDEO_EXTENSIONS)})"))
            files += found
        else:
            files.append(item)
    return files, problems


def _batches(items: list[Path], size: int) -> Iterator[list[Path]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _subtitle_path(folder: Path, stem: str, suffix: str, used: set[Path]) -> Path:
    path, n = folder / f"{stem}.{suffix}", 1
    while path in used:
        n += 1
        path = folder / f"{stem}-{n}.{suffix}"
    used.add(path)
    return path


def run(args: argparse.Namespace) -> int:
    """Transcribe every input; 1 when any failed, else 0."""
    from tqdm import tqdm

    from ..api import Transcriber
    from ..subtitles import write_subtitles

    files, problems = expand_inputs(list(args.inputs))
    for item, reason in problems:
        print(f"lipread: {item}: {reason}", file=sys.stderr)
    if not files:
        return 1
    opts: dict[str, Any] = {} if args.threads is None else {"threads": args.threads}
    lexicon = None
    if args.lexicon is not None:
        try:
            lexicon = args.lexicon.read_text(encoding="utf-8").split()
        except (OSError, UnicodeDecodeError) as e:
            raise LipreadError(f"{args.lexicon}: cannot read the word list: {e}") from None
    runner = Transcriber(
        args.model, args.backend, args.decoder, args.beam_width, lexicon, None, args.batch_size, **opts
    )
    single = len(args.inputs) == 1 and not args.inputs[0].is_dir() and len(files) == 1
    out_dir = args.output_dir if args.output_dir is not None else Path.cwd()
    used: set[Path] = set()
    failed = len(problems)
    with tqdm(total=len(files), unit="video", disable=len(files) <= 1, file=sys.stderr) as bar:
        for batch in _batches(files, args.batch_size):
            prepared = []
            for path in batch:
                try:
                    prepared.append(runner.prepare(path))
                except LipreadError as e:
                    failed += 1
                    bar.write(f"lipread: {e}" if str(path) in str(e) else f"lipread: {path}: {e}", file=sys.stderr)
            for t in runner.run(prepared):
                if args.format == "json":
                    line = json.dumps(t.to_dict())
                elif args.format == "txt":
                    line = t.text if single else f"{t.path}\t{t.text}"
                else:
                    target = _subtitle_path(out_dir, Path(t.path or "frames").stem, args.format, used)
                    try:
                        line = str(write_subtitles(t.words, target, args.format))
                    except OSError as e:
                        raise LipreadError(f"{target}: cannot write subtitles: {e.strerror or e}") from None
                bar.write(line, file=sys.stdout)
            bar.update(len(batch))
    return 1 if failed else 0
