"""When lipread shows a progress bar: the one rule every command and trainer follows.

A bar is shown only where someone watches it: by default ("auto", ``progress=None``) only when the stream
it is drawn on (standard error) is a terminal, so that a log file or a pipe never fills with ``0%| | 0/10``
fragments. ``progress=True`` (``--progress``) forces bars on and ``progress=False`` (``--no-progress``)
forces them off.

tqdm is imported only when a bar is made, so importing this module costs nothing. Every ``lipread``
sub-command that shows a bar takes ``--progress/--no-progress`` (:func:`add_progress_argument`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import IO, Any

__all__ = ["add_progress_argument", "progress_bar", "show_progress"]


def show_progress(progress: bool | None = None, stream: IO[str] | None = None) -> bool:
    """Whether to show a progress bar.

    Args:
        progress: True or False forces the answer; None (auto) shows a bar only when ``stream`` is a terminal.
        stream: where the bar is drawn (None: ``sys.stderr`` as it is when called). A missing or closed
            stream is not a terminal.
    """
    if progress is not None:
        return bool(progress)
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if isatty is None:
        return False
    try:
        return bool(isatty())
    except (OSError, ValueError):  # a closed or detached stream
        return False


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    progress: bool | None = None,
    disable: bool = False,
    file: IO[str] | None = None,
    **kwargs: Any,
) -> Any:
    """A tqdm bar drawn on ``file`` (None: ``sys.stderr``), shown as :func:`show_progress` decides.

    A hidden bar still iterates, counts (``update``) and prints (``write``), so callers use it the same
    way either way.

    Args:
        iterable: what the bar iterates over, if anything.
        progress: True / False / None (auto), as for :func:`show_progress`.
        disable: hide the bar whatever ``progress`` says (e.g. for a single item).
        file: the stream the bar is drawn on.
        kwargs: passed to ``tqdm`` (``total``, ``desc``, ``unit``, ``leave``, ...).
    """
    from tqdm.auto import tqdm

    stream = sys.stderr if file is None else file
    return tqdm(iterable, file=stream, disable=disable or not show_progress(progress, stream), **kwargs)


def add_progress_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--progress/--no-progress`` to a sub-command: ``args.progress`` is True, False or None (auto)."""
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars on stderr (default: only when stderr is a terminal)",
    )
