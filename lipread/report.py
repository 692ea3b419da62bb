"""How lipread reports a failure to the person at the terminal: the one format every command uses.

Every error line is ``lipread: error: <file>: <what is wrong>`` on standard error: the file (or folder, or
the option when no file is involved) first, then the problem. :func:`error_line` makes that line and
:func:`report_error` prints it; the ``lipread`` command prints a fatal :class:`~lipread.errors.LipreadError`
this way (exit status 1), and commands that work through many files (``transcribe``, ``eval``, ``info``, the
indexing of a data set, training data) print each bad file this way (:func:`report_skipped` for an item
left out) and go on. Usage errors found by the argument parser (exit status 2) end with the same
``lipread: error: ...`` line after the usage summary (:class:`lipread.cli.parsing.CommandParser`).

A warning (something lipread noticed that may make a result wrong, while the work went on: a transcript's
``warnings``) is the line ``lipread: warning: <file>: <what was noticed>`` (:func:`report_warning`); it does not
change the exit status.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["PREFIX", "WARNING_PREFIX", "counted", "error_line", "report_error", "report_skipped", "report_warning"]

PREFIX = "lipread: error: "
"""The start of every error line the ``lipread`` command prints."""

WARNING_PREFIX = "lipread: warning: "
"""The start of every warning line the ``lipread`` command prints."""


def error_line(error: BaseException | str, path: object = None) -> str:
    """``lipread: error: <path>: <message>`` for ``error`` (an exception or a message).

    ``path`` (a file name as text, bytes or a path; None: none) is put in front of the message unless the
    message already starts with it, or with a file inside it (lipread's own errors start with their file),
    so a file is never named twice. A name that is only a word of the message (a folder called ``frames``
    and "frame rate resampled: ... frames repeated") is still put in front.
    """
    text = str(error)
    if path is not None:
        name = _name(path)
        rest = text[len(name) : len(name) + 1] if text.startswith(name) else None
        if rest is None or rest not in (":", "/", os.sep, " ", "["):
            text = f"{name}: {text}"
    return PREFIX + text


def _name(path: object) -> str:
    return os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path)


def report_error(error: BaseException | str, path: object = None, *, bar: Any = None) -> None:
    """Print :func:`error_line` on stderr; through ``bar.write`` when a (tqdm) progress bar is drawn, so the
    bar is not torn apart by the line."""
    line = error_line(error, path)
    if bar is not None:
        bar.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr, flush=True)


def report_skipped(path: object, reason: BaseException | str, *, bar: Any = None) -> None:
    """Report an item that batch work (training data, a data set's index) leaves out, then goes on:
    ``lipread: error: <path>: skipped: <reason>`` (a reason that starts with ``<path>: `` loses that start)."""
    name, text = _name(path), str(reason)
    text = text.removeprefix(f"{name}: ")
    report_error(f"{name}: skipped: {text}", bar=bar)


def report_warning(warning: str, path: object = None, *, bar: Any = None) -> None:
    """Print ``lipread: warning: <path>: <warning>`` on stderr (through ``bar.write`` when a progress bar is
    drawn), naming ``path`` unless the warning already starts with it."""
    line = WARNING_PREFIX + error_line(warning, path).removeprefix(PREFIX)
    if bar is not None:
        bar.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr, flush=True)


def counted(n: int, noun: str) -> str:
    """``"1 frame"``, ``"75 frames"``: a count with its noun, singular for one (nouns that take an ``s``)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
