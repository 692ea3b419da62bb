"""Write the help texts of the ``lipread`` command into the CLI reference, ``docs/cli.md``.

Each block of the page, from ``<!-- lipread-help: NAME -->`` to ``<!-- /lipread-help: Python X.Y -->``, is
rewritten in place with ``lipread NAME --help`` (``lipread --help`` for ``NAME`` = ``lipread``) in a fenced
``text`` block, as the checkout's own parser formats it at 80 columns, the width the documentation site's code
box shows without cutting lines. An opening marker without a closing one becomes a block. The closing marker
records the Python that wrote the block: argparse's layout changes between Python versions (3.13 writes
``-o, --output OUTPUT`` where 3.11 writes ``-o OUTPUT, --output OUTPUT``), so a block is only called stale by a
Python of the version that wrote it.

Run it after changing an option or a help string::

    python tools/write_cli_docs.py            # rewrite docs/cli.md
    python tools/write_cli_docs.py --check    # exit status 1, naming the stale blocks, when it would change

The documentation build (``docs/_build/hooks.py``) fails on a stale block, and ``tests/test_docs.py`` fails when
``docs/cli.md`` is not what this tool writes.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository root (this file is ``tools/write_cli_docs.py``)."""

PAGE = ROOT / "docs" / "cli.md"
"""The CLI reference."""

WIDTH = 80
"""Columns of the help texts (argparse's ``COLUMNS``): what the site's code box shows without cutting lines."""

MARKER = re.compile(r"<!-- lipread-help: ([\w-]+) -->")
"""The opening marker of a block; its group is the sub-command (``lipread`` for the command itself)."""

BLOCK = re.compile(
    r"<!-- lipread-help: (?P<name>[\w-]+) -->"
    r"(?:(?P<body>(?:(?!<!-- /?lipread-help).)*?)<!-- /lipread-help: Python (?P<python>\d+\.\d+) -->)?",
    re.DOTALL,
)
"""A block: the opening marker, then (unless it is a bare marker) the text up to its closing marker."""

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
"""The version of the Python running this module, as the closing markers record it."""


@dataclass(frozen=True)
class Block:
    """A help block of a page.

    Attributes:
        name: the sub-command (``lipread``: the command itself).
        python: the Python version that wrote it (``None``: a bare opening marker, never written).
        current: whether it holds what :func:`block` would write now.
    """

    name: str
    python: str | None
    current: bool


def parsers() -> dict[str, argparse.ArgumentParser]:
    """The ``lipread`` command's parser (key ``lipread``) and each sub-command's, by name."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from lipread.cli import build_parser

    root = build_parser()
    sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    return {"lipread": root, **sub.choices}


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value


def help_text(name: str) -> str:
    """``lipread NAME --help`` as argparse formats it at :data:`WIDTH` columns, without colour.

    Raises:
        ValueError: ``name`` is neither ``lipread`` nor a sub-command.
    """
    known = parsers()
    if name not in known:
        raise ValueError(f"<!-- lipread-help: {name} -->: no such sub-command; known: {', '.join(sorted(known))}")
    # PYTHON_COLORS and NO_COLOR keep Python 3.14's coloured help out of the text.
    with _environment(COLUMNS=str(WIDTH), PYTHON_COLORS="0", NO_COLOR="1"):
        return known[name].format_help().rstrip()


def block(name: str) -> str:
    """The whole block for ``name``, markers included, as this Python writes it."""
    return (
        f"<!-- lipread-help: {name} -->\n\n```text\n{help_text(name)}\n```\n\n<!-- /lipread-help: Python {PYTHON} -->"
    )


def blocks(page: str) -> list[Block]:
    """The help blocks of ``page``, in order."""
    found = []
    for match in BLOCK.finditer(page):
        name, python = match.group("name"), match.group("python")
        found.append(Block(name, python, python is not None and match.group(0) == block(name)))
    return found


def stale(page: str) -> list[str]:
    """The names of the blocks of ``page`` that this Python would write differently and can judge: those
    written by this Python's version, and bare markers. A block written by another version whose text
    differs is left out (the difference may be argparse's); see :func:`unjudged`."""
    return [b.name for b in blocks(page) if not b.current and b.python in (None, PYTHON)]


def unjudged(page: str) -> list[str]:
    """The names of the blocks of ``page`` written by another Python version whose text differs from this one's."""
    return [b.name for b in blocks(page) if not b.current and b.python not in (None, PYTHON)]


def render(page: str) -> str:
    """``page`` with every help block (and every bare opening marker) written anew."""
    return BLOCK.sub(lambda m: block(m.group("name")), page)


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the page (default ``docs/cli.md``), or with ``--check`` report its stale blocks; the exit status
    is 1 when ``--check`` finds any."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("page", nargs="?", type=Path, default=PAGE, help="the page (default: docs/cli.md)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit status 1 when a block is stale")
    args = parser.parse_args(argv)
    text = args.page.read_text(encoding="utf-8")
    if args.check:
        names = stale(text)
        if names:
            print(f"{args.page}: stale help of {', '.join(names)}; run python tools/write_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    new = render(text)
    if new != text:
        args.page.write_text(new, encoding="utf-8")
        print(f"wrote {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
