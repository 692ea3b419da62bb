"""``lipread backends``: every backend lipread knows, whether it is installed, what it can do, how to add it."""

from __future__ import annotations

import argparse
from typing import Any

from ..backend import backend_infos


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``backends`` on the ``lipread`` command's sub-parsers."""
    return subparsers.add_parser(
        "backends",
        help="list backends: installed or not, capabilities, the extra that installs each",
        description="List the backends lipread knows of (nothing is imported to find out).",
    )


def run(args: argparse.Namespace) -> int:
    """Print the table of backends; always returns 0."""
    rows = [("backend", "installed", "capabilities", "install with", "framework")]
    for info in backend_infos():
        rows.append(
            (
                info.name,
                "yes" if info.installed else "no",
                ", ".join(info.capabilities) or "-",
                f'pip install "lipread[{info.extra}]"',
                info.description,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return 0
