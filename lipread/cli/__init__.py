"""The ``lipread`` command: the entry point and its parser (:mod:`~lipread.cli.app`), the parser class and
argument types every sub-command shares (:mod:`~lipread.cli.parsing`), and one module per sub-command
(``transcribe``, ``info``, ``preview``, ``backends``, ``eval``, ``train``, ``export``, ``import``), each with
``add_parser(subparsers)`` and ``run(args) -> int``.

The top of the package: it may import anything below it, nothing imports it (but ``python -m lipread``).
No sub-command imports a framework at module level, so ``lipread --help`` stays fast.
"""

from __future__ import annotations

from .app import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
