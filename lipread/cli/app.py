"""The ``lipread`` command. Each sub-command lives in its own module under :mod:`lipread.cli`,
exposing ``add_parser(subparsers)`` and ``run(args) -> int``; none imports a framework at module level."""

from __future__ import annotations

import argparse
import errno
import importlib
import io
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import LipreadError
from ..report import report_error, report_warning
from .parsing import CommandParser, UsageError

__all__ = ["main"]

PACKAGES = ("lipread", "lipread_torch", "lipread_tf")
"""The packages this distribution installs."""

COMMANDS = (
    "demo",
    "transcribe",
    "live",
    "info",
    "preview",
    "backends",
    "eval",
    "plot",
    "data",
    "train",
    "adapt",
    "export",
    "import_",
)
"""Sub-command modules in the order ``lipread --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = CommandParser(prog="lipread", description="Read lips: video of a speaking face in, text out.")
    parser.add_argument("--version", action="version", version=f"lipread {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for name in COMMANDS:
        module = importlib.import_module(f"lipread.cli.{name}")
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run, _parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 a lipread error, 2 bad usage).

    Every error is one line on stderr, ``lipread: error: <file>: <what is wrong>`` (:mod:`lipread.report`),
    never a traceback: a :class:`~lipread.errors.LipreadError`, or an ``OSError`` about a file (one that cannot
    be read or written). Usage errors (exit status 2) print the usage summary, then a line in that format.
    """
    for stream in (sys.stdout, sys.stderr):  # file names of any bytes are printed as they are, never an error
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="surrogateescape")
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        if not getattr(args, "_run", None):
            if unknown:
                parser.error(f"unrecognized arguments: {' '.join(unknown)}")
            parser.print_help()
            return 2
        command: CommandParser = args._parser  # its usage goes with the errors of its command line
        if unknown:
            command.error(f"unrecognized arguments: {' '.join(unknown)}")
        with warnings.catch_warnings():
            warnings.showwarning = _in_lipread_format(warnings.showwarning)
            try:
                return int(args._run(args) or 0)
            except UsageError as e:  # the command's usage and the error line, exit status 2
                command.error(str(e))
    except LipreadError as e:
        report_error(e)
        return 1
    except BrokenPipeError:  # the reader of our output left (`lipread transcribe ... | head -1`): stop quietly
        _silence_stdout()
        return 1
    except OSError as e:  # a file the user named cannot be read or written (a bug's OSError names no file)
        if e.filename is not None:
            report_error(e.strerror or str(e), e.filename)
        elif e.errno in _FULL:  # the output went to a full disk or a dead device: no file is named, but no bug
            _silence_stdout()
            report_error(f"cannot write the output: {e.strerror or e}")
        else:
            raise
        return 1
    except KeyboardInterrupt:  # also while the parser is built (its sub-commands imported)
        print("lipread: interrupted", file=sys.stderr)
        return 130


_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG})
"""Errors of writing to standard output or error that say where the output goes, not what lipread did."""


_PACKAGES = tuple(str(Path(__file__).resolve().parents[2] / name) + os.sep for name in PACKAGES)
"""Where lipread's own modules are: their warnings are lipread's, in its one format."""


def _in_lipread_format(show: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that shows a warning lipread's own code raised (a cache it cannot write) as
    ``lipread: warning: ...``, not with Python's file, line and source, and any other warning with ``show``."""

    def shown(message: Warning | str, category: type[Warning], filename: str, lineno: int, *rest: Any) -> None:
        if os.path.realpath(filename).startswith(_PACKAGES):
            report_warning(str(message))
        else:
            show(message, category, filename, lineno, *rest)

    return shown


def _silence_stdout() -> None:
    """Point standard output at the null device, so that the flush at exit cannot fail a second time."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
