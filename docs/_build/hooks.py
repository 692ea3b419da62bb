"""MkDocs hooks of the documentation build.

``<!-- lipread-help: NAME -->`` in a page becomes the ``lipread NAME --help`` text (``lipread --help`` for
``NAME`` = ``lipread``), produced by the installed command's own parser, so the CLI reference cannot drift
from the code. An unknown name fails the build.

``<!-- lipread-benchmarks -->`` becomes a list of the scripts in ``benchmarks/``, each with the first line
of its docstring.

A ``--8<-- "PATH"`` snippet line (``pymdownx.snippets``, paths from the repository root) whose file does not
exist in the checkout being built becomes a note saying so, instead of silently including nothing.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
from pathlib import Path
from typing import Any

MARKER = re.compile(r"<!-- lipread-help: ([\w-]+) -->")
BENCHMARKS = "<!-- lipread-benchmarks -->"
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)
WIDTH = "100"


ROOT = Path(__file__).resolve().parents[2]
"""The repository root (this file is ``docs/_build/hooks.py``)."""


def on_config(config: Any, **kwargs: Any) -> Any:
    """Make the checkout's ``lipread`` importable first, so a build documents the code beside it."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return config


def _parsers() -> dict[str, argparse.ArgumentParser]:
    from lipread.cli import build_parser

    root = build_parser()
    sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    return {"lipread": root, **sub.choices}


def help_text(name: str) -> str:
    """``lipread NAME --help`` as argparse formats it at a fixed width of 100 columns."""
    parsers = _parsers()
    if name not in parsers:
        raise ValueError(f"<!-- lipread-help: {name} -->: no such sub-command; known: {', '.join(sorted(parsers))}")
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        return parsers[name].format_help().rstrip()
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def _missing_snippet(match: re.Match[str]) -> str:
    path = match.group(1)
    if (ROOT / path).is_file():
        return match.group(0)
    return (
        f'!!! note "Not in this build"\n    This copy of the documentation was built from a checkout without `{path}`.'
    )


def benchmark_list() -> str:
    """A Markdown list of ``benchmarks/*.py``, each with the first line of its docstring."""
    items = []
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
        summary = doc.strip().splitlines()[0] if doc.strip() else "(no description)"
        items.append(f"- `benchmarks/{script.name}`: {summary}")
    return "\n".join(items) or "This checkout has no benchmark scripts."


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace help markers with help texts, the benchmark marker with the scripts, missing snippets with a note."""
    markdown = SNIPPET.sub(_missing_snippet, markdown)
    if BENCHMARKS in markdown:
        markdown = markdown.replace(BENCHMARKS, benchmark_list())
    return MARKER.sub(lambda m: f"```text\n{help_text(m.group(1))}\n```", markdown)
