"""MkDocs hooks of the documentation build.

The help texts of the CLI reference (``docs/cli.md``) are in the page itself, each between
``<!-- lipread-help: NAME -->`` and ``<!-- /lipread-help: Python X.Y -->``, written by
``python tools/write_cli_docs.py``. The build checks them against the checkout's own parser and fails, naming
them, when a block is stale or a name is not a sub-command, so the reference cannot drift from the code. (A
block written by another Python version is only reported, as argparse's layout differs between versions.)

``<!-- lipread-benchmarks -->`` becomes a list of the scripts in ``benchmarks/``, each with the first line
of its docstring.

A ``--8<-- "PATH"`` snippet line (``pymdownx.snippets``, paths from the repository root) whose file does not
exist in the checkout being built becomes a note saying so, instead of silently including nothing.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCHMARKS = "<!-- lipread-benchmarks -->"
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.MULTILINE)


ROOT = Path(__file__).resolve().parents[2]
"""The repository root (this file is ``docs/_build/hooks.py``)."""

log = logging.getLogger("mkdocs.hooks.lipread")


def _load_cli_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lipread_write_cli_docs", ROOT / "tools" / "write_cli_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


cli_docs = _load_cli_docs()
"""``tools/write_cli_docs.py``, which writes the help blocks this build checks."""


def on_config(config: Any, **kwargs: Any) -> Any:
    """Make the checkout's ``lipread`` importable first, so a build documents the code beside it."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return config


def check_help(markdown: str, where: str = "page") -> None:
    """Raise when a help block of ``markdown`` is stale or names no sub-command; log a block written by another
    Python version whose text differs from this one's.

    Raises:
        mkdocs.exceptions.PluginError: naming the stale blocks and the command that rewrites them
            (``ValueError`` where MkDocs is not installed).
    """
    try:
        names = cli_docs.stale(markdown)
        unjudged = cli_docs.unjudged(markdown)
        message = f"{where}: the CLI help of {', '.join(names)} is stale; run: python tools/write_cli_docs.py"
    except ValueError as e:  # a marker naming no sub-command
        names, unjudged, message = [""], [], f"{where}: {e}"
    if names:
        try:
            from mkdocs.exceptions import PluginError
        except ImportError:
            raise ValueError(message) from None
        raise PluginError(message)
    if unjudged:
        log.info(
            "%s: the help of %s was written by another Python (argparse's layout differs) and differs from "
            "this one's; not checked",
            where,
            ", ".join(unjudged),
        )


def _missing_snippet(match: re.Match[str]) -> str:
    path = match.group(1)
    if (ROOT / path).is_file():
        return match.group(0)
    return (
        f'!!! note "Not in this build"\n    This copy of the documentation was built from a checkout without `{path}`.'
    )


def is_benchmark(script: Path) -> bool:
    """Whether ``script`` is a benchmark a user runs: it runs as a program, and is not a worker another
    benchmark starts (``*_worker.py``); ``common.py``, which they import, does not run."""
    text = script.read_text(encoding="utf-8")
    return '__name__ == "__main__"' in text and not script.stem.endswith("_worker")


def benchmark_list() -> str:
    """A Markdown list of the benchmarks in ``benchmarks/`` (:func:`is_benchmark`), each with the first
    paragraph of its docstring."""
    items = []
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        if not is_benchmark(script):
            continue
        doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
        summary = " ".join(doc.strip().split("\n\n")[0].split()) if doc.strip() else "(no description)"
        items.append(f"- `benchmarks/{script.name}`: {summary}")
    return "\n".join(items) or "This checkout has no benchmark scripts."


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Check the help blocks (:func:`check_help`); replace the benchmark marker with the scripts, missing
    snippets with a note."""
    page = kwargs.get("page")
    check_help(markdown, f"docs/{page.file.src_uri}" if page is not None else "page")
    markdown = SNIPPET.sub(_missing_snippet, markdown)
    if BENCHMARKS in markdown:
        markdown = markdown.replace(BENCHMARKS, benchmark_list())
    return markdown
