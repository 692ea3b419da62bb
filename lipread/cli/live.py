"""``lipread live``: read the lips in a camera, a stream or a video file, printing each utterance as it ends.

Output formats, one line per utterance, printed as soon as the utterance is final:

- ``txt`` (default): ``start<TAB>end<TAB>sentence`` (seconds from the start of the stream, two decimals).
- ``json``: one JSON object per utterance: ``start``, ``end``, ``text``, ``words`` (``word``, ``start``,
  ``end``, ``confidence``), ``confidence``, and the transcript's other fields (``backend``, ``model``,
  ``decoder``, ...; see :meth:`lipread.live.stream.Segment.to_dict`).

Reading goes on until the source ends. Ctrl-C (SIGINT) stops taking frames, reads the utterance in progress,
prints it and exits with status 0; a second Ctrl-C stops at once (status 130). A source that fails on the way
(a camera that stops delivering frames, a stream that drops for good) ends the same way, then its error is
reported and the exit status is 1. How utterances are found, and what the settings mean: :mod:`lipread.live`.
"""

from __future__ import annotations

import argparse
import json
import signal
from typing import Any

from ..models import DEFAULT_MODEL
from ..report import report_error, report_warning
from .parsing import frame_rate, non_negative, positive, source_name, within
from .transcribe import add_model_arguments, add_precision_argument

__all__ = ["add_parser", "run"]

FORMATS = ("txt", "json")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``live``."""
    from ..live.stream import FPS, HOP_RANGE, MAX_SECONDS, LiveSettings

    defaults = LiveSettings()
    p = subparsers.add_parser(
        "live",
        help="read the lips in a camera, stream or video, utterance by utterance",
        description=(
            "Read the lips in a camera, a stream or a video file as it plays, printing each utterance as soon as "
            "it ends. Ctrl-C reads the utterance in progress and stops."
        ),
    )
    p.add_argument(
        "source",
        metavar="SOURCE",
        type=source_name,
        help="a camera index (0, 1, ...), a stream address OpenCV can open (rtsp://...), or a video file",
    )
    p.add_argument("--realtime", action="store_true", help="play a video file at its frame rate, as a camera would")
    p.add_argument("--format", choices=FORMATS, default="txt", help="output format")
    add_model_arguments(p)
    add_precision_argument(p)
    p.add_argument(
        "--pause",
        type=within(float, 1 / FPS, MAX_SECONDS, " s"),
        default=defaults.pause,
        help="seconds without speech (or without a face) that end an utterance",
    )
    p.add_argument(
        "--longest",
        type=within(float, 1 / FPS, MAX_SECONDS, " s"),
        default=defaults.longest,
        help=f"longest utterance, in seconds (at most {MAX_SECONDS:g})",
    )
    p.add_argument(
        "--hop",
        type=within(int, *HOP_RANGE),
        default=defaults.hop,
        help="frames between two runs of the model over the latest 3 s (8 to 50: fewer react sooner, cost more)",
    )
    p.add_argument(
        "--context",
        type=within(float, 0.0, MAX_SECONDS, " s"),
        default=defaults.context,
        help="seconds kept after an utterance when it is read (an utterance may wait for them)",
    )
    p.add_argument(
        "--lead",
        type=within(float, 0.0, MAX_SECONDS, " s"),
        default=defaults.lead,
        help="seconds kept before an utterance when it is read (already seen: no wait)",
    )
    p.add_argument(
        "--min-confidence",
        type=non_negative(float, 1.0),
        default=defaults.min_confidence,
        help="utterances read with a lower confidence are dropped (lip twitches)",
    )
    p.add_argument("--fps", type=frame_rate, help="the source's frame rate (default: the rate it states)")
    p.add_argument(
        "--threads", type=positive(int), help="inference threads of the onnx backend (default: one per physical core)"
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Read the source until it ends or Ctrl-C; 1 when the source failed on the way, else 0."""
    from ..api import Transcriber
    from ..live.source import open_source
    from ..live.stream import LiveSettings
    from ..transcription.domain import WARNING as DOMAIN_WARNING
    from ..transcription.loading import with_precision

    settings = LiveSettings(args.pause, args.longest, args.hop, args.context, args.min_confidence, args.lead)
    opts: dict[str, Any] = {} if args.threads is None else {"threads": args.threads}
    runner = Transcriber(
        with_precision(args.model or DEFAULT_MODEL, args.precision), args.backend, args.decoder, args.beam_width, **opts
    )
    source = open_source(args.source, realtime=args.realtime, fps=args.fps)

    def interrupted(signum: int, frame: Any) -> None:
        source.stop()  # the stream ends: the utterance in progress is read and printed
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops at once

    previous = signal.signal(signal.SIGINT, interrupted)
    read, told = 0, set()
    try:
        for segment in runner.stream(source.frames(), args.fps or source.fps, settings, source.name):
            read += 1
            # on stderr, before the line they are about, as transcribe tells a clip's; one that says the same of
            # every utterance (colour missing from a grey camera) only the first time
            for warning in segment.details.get("warnings", ()):
                if warning not in told:
                    told.add(warning)
                    report_warning(f"{segment.start:.2f}-{segment.end:.2f} s: {warning}", source.name)
            if segment.details.get("in_domain") is False:
                report_warning(f"{segment.start:.2f}-{segment.end:.2f} s: {DOMAIN_WARNING}", source.name)
            if args.format == "json":
                line = json.dumps(segment.to_dict())
            else:
                line = f"{segment.start:.2f}\t{segment.end:.2f}\t{segment.text}"
            print(line, flush=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    for note in source.notes:  # a file cut short: the utterances after its end are missing
        report_warning(note, source.name)
    if not read and source.kind == "file" and source.error is None:  # said, rather than an empty answer
        why = "no speech was seen (or no face), " + (
            f"the video is too short, or what was read fell below --min-confidence {args.min_confidence:g}"
            if args.min_confidence > 0
            else "or the video is too short"
        )
        report_warning(f"no utterance was read: {why}", source.name)
    if source.error is not None:
        report_error(source.error)
        return 1
    return 0
