"""A demo clip that ships inside the package, so the first transcription needs no data.

The clip is ``pbap1a`` of GRID speaker 1 ("place blue at p one again", 75 frames, 3 s at 25 fps,
360x288 pixels, H.264 without audio, about 60 KB) with its GRID word alignment. It is one of the 90
validation clips of the seed-0 random split (``split_clips(clips, "random", 0.1, 0)``), which the shipped
model ``lipnet-grid-s1`` was never trained on.

The GRID audiovisual sentence corpus (M. Cooke, J. Barker, S. Cunningham and X. Shao, 2006, *The Journal
of the Acoustical Society of America* 120(5), 2421-2424) is published under the Creative Commons
Attribution 4.0 licence; ``demo_files/CREDITS.md`` beside the clip says where it comes from and how it was changed.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_NAME", "DEMO_SENTENCE", "demo_alignment", "demo_clip"]

FOLDER = Path(__file__).resolve().parent / "demo_files"
"""Where the demo files live."""

DEMO_NAME = "pbap1a"
"""The GRID name of the demo clip (speaker 1); its letters spell the sentence."""

DEMO_SENTENCE = "place blue at p one again"
"""What the speaker says in the demo clip."""


def demo_clip() -> Path:
    """The path of the demo video: GRID speaker 1 saying "place blue at p one again" (75 frames, 25 fps).

    Examples:
        >>> import lipread
        >>> lipread.demo_clip().name
        'pbap1a.mp4'
        >>> lipread.transcribe(lipread.demo_clip()).text  # doctest: +SKIP
        'place blue at p one again'
    """
    return FOLDER / f"{DEMO_NAME}.mp4"


def demo_alignment() -> Path:
    """The path of the demo clip's GRID ``.align`` file: when each word is spoken (GRID units, 25000 per second,
    read it with :func:`lipread.data.align.load_alignment`)."""
    return FOLDER / f"{DEMO_NAME}.align"
