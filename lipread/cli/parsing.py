"""Sub-commands of the ``lipread`` command line, one module each (see :mod:`lipread.cli`), and what they share:
the argument parser class that reports usage errors in lipread's one error format, and argument types that
reject bad numbers as usage errors (exit status 2) instead of letting them fail later."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from ..config import ModelConfig
from ..errors import DataError, LipreadError
from ..report import error_line

__all__ = [
    "CommandParser",
    "HelpFormatter",
    "UsageError",
    "file_path",
    "frame_rate",
    "non_negative",
    "positive",
    "with_crop",
    "within",
]

N = TypeVar("N", int, float)


class UsageError(LipreadError):
    """Options that do not go together, found after parsing: reported as the parser reports a bad option (the
    command's usage, then the error line; exit status 2), since the command line, not a file, is wrong."""


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows every option's default: ``(default: X)`` is added where the help text does not
    already state one, for options whose default is a value (not None, not an off switch)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or not action.option_strings
            or default is None
            or default is argparse.SUPPRESS
            or (default is False and action.nargs == 0)
        ):
            return action.help
        return f"{text} (default: %(default)s)"


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose usage errors end with ``lipread: error: <message>`` (after the usage summary),
    the line every other lipread error has, instead of argparse's ``lipread COMMAND: error: ...``; exit status 2.
    Its help shows every option's default (:class:`HelpFormatter`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, error_line(message) + "\n")

    def _print_message(self, message: str, file: Any = None) -> None:
        # argparse ignores an OSError here, so `lipread --help > /dev/full` lost its text and exited 0; the
        # error goes on to main, which says that the output could not be written.
        if message:
            (file or sys.stderr).write(message)


def _number(kind: Callable[[str], N], text: str) -> N:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {'a whole number' if kind is int else 'a number'}: {text!r}") from None


def positive(kind: Callable[[str], N], most: N | None = None, why: str = "") -> Callable[[str], N]:
    """An argparse type: ``kind(text)``, which must be greater than zero (and at most ``most``, if given;
    ``why`` says why, in the usage error)."""

    def convert(text: str) -> N:
        value = _number(kind, text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"must be at most {most}{f' ({why})' if why else ''}, not {text}")
        return value

    return convert


def non_negative(kind: Callable[[str], N], most: N | None = None, why: str = "") -> Callable[[str], N]:
    """An argparse type: ``kind(text)``, which must be zero or more (and at most ``most``, if given)."""

    def convert(text: str) -> N:
        value = _number(kind, text)
        if not value >= 0:
            raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"must be at most {most}{f' ({why})' if why else ''}, not {text}")
        return value

    return convert


def frame_rate(text: str) -> float:
    """An argparse type: a frame rate in frames per second, finite and within
    :data:`lipread.transcription.frames.SOURCE_FPS_RANGE` (the rates lipread reads)."""
    from ..transcription.frames import SOURCE_FPS_RANGE

    value = _number(float, text)
    low, high = SOURCE_FPS_RANGE
    if not (math.isfinite(value) and low <= value <= high):
        raise argparse.ArgumentTypeError(f"a frame rate from {low:g} to {high:g} fps, not {text}")
    return value


_ADDRESS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")
"""The start of a web or stream address (``https://``, ``rtsp://``), which a path would turn into another name;
a scheme has two letters or more, so that a Windows drive (``C://videos``) is a path."""


def file_path(text: str) -> Path:
    """An argparse type: a file or folder path, not empty (``Path("")`` would silently be the current folder) and
    not an address (``Path`` would make ``https://host/x.mp4`` the local name ``https:/host/x.mp4``)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path")
    if _ADDRESS.match(text) and not os.path.exists(text):
        raise argparse.ArgumentTypeError(
            f"{text} is an address, not a file: lipread reads files on this machine and downloads nothing "
            "(lipread live reads a stream's address)"
        )
    return Path(text)


def source_name(text: str) -> str:
    """An argparse type: a camera index, a stream address or a file, not empty (an empty name would be read as
    the current folder)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty source")
    return text


def within(kind: Callable[[str], N], low: N, high: N, unit: str = "") -> Callable[[str], N]:
    """An argparse type: ``kind(text)``, from ``low`` to ``high`` (``unit`` follows the numbers in the error)."""

    def convert(text: str) -> N:
        value = _number(kind, text)
        if not low <= value <= high:  # NaN fails this too
            raise argparse.ArgumentTypeError(f"must be from {low:g}{unit} to {high:g}{unit}, not {text}")
        return value

    return convert


def with_crop(config: ModelConfig, crop: str) -> ModelConfig:
    """``config`` reading the mouth crop ``--crop`` names (``"lipnet"`` or ``"aligned"``).

    Raises:
        DataError: ``config`` is not an RGB model (the notebook's grey crop has no other).
    """
    if config.channels != 3:
        raise DataError(f"--crop {crop}: only for RGB models; {config.name!r} reads the notebook's grey crop")
    return config.with_(crop=crop)
