"""``lipread demo``: read the demo clip that ships with the package and print the sentence with word times.

The clip (:func:`lipread.data.demo.demo_clip`) is GRID speaker 1 saying "place blue at p one again", one of the
validation clips the shipped model was never trained on, so the command shows what the model reads after a plain
install, with no data to fetch. Beside each word the model read, the output shows when the speaker said the word
in the same position, from the clip's GRID alignment (when both have as many words).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .transcribe import add_model_arguments

__all__ = ["add_parser", "format_demo", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``demo``."""
    p = subparsers.add_parser(
        "demo",
        help="read the demo clip that ships with lipread",
        description="Transcribe the demo clip that ships with lipread (GRID speaker 1, a clip the shipped model "
        "was not trained on) and print the sentence with each word's time, beside when it was said.",
    )
    add_model_arguments(p)
    return p


def format_demo(transcript: Any, spoken: Sequence[Any], clip_name: str) -> str:
    """The text ``lipread demo`` prints.

    Args:
        transcript: a :class:`lipread.api.Transcript` of the demo clip.
        spoken: the words the speaker said, each with ``word``, ``start`` and ``end`` in seconds (the clip's
            GRID alignment, :attr:`lipread.data.align.Alignment.words`).
        clip_name: the clip's file name, shown in the first line.
    """
    said = " ".join(w.word for w in spoken)
    paired = len(spoken) == len(transcript.words)
    lines = [
        f"clip:   {clip_name} (GRID speaker 1, CC BY 4.0; the model never trained on it)",
        f"model:  {transcript.model} (backend {transcript.backend}, decoder {transcript.decoder})",
        f"said:   {said}",
        f"read:   {transcript.text}  (confidence {transcript.confidence:.2f})",
        "",
        f"{'word':<8} {'start':>6} {'end':>6} {'confidence':>10}   said at",
    ]
    for i, w in enumerate(transcript.words):
        at = f"{spoken[i].start:.2f}-{spoken[i].end:.2f} s ({spoken[i].word})" if paired else "-"
        lines.append(f"{w.word:<8} {w.start:>5.2f}s {w.end:>5.2f}s {w.confidence:>10.2f}   {at}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print what the model reads in the demo clip; 0."""
    from ..api import transcribe
    from ..data.align import load_alignment
    from ..data.demo import demo_alignment, demo_clip

    clip = demo_clip()
    transcript = transcribe(clip, args.model, args.backend, args.decoder, args.beam_width)
    print(format_demo(transcript, load_alignment(demo_alignment()).words, clip.name))
    return 0
