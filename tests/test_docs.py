"""The documentation covers what the code offers: every sub-command, every error class, every page in the nav.

These checks need no MkDocs; the ``docs`` nox session builds the site itself with ``--strict``.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType

import lipread.errors
from lipread.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def load_hooks() -> ModuleType:
    """The build's hook module (``docs/_build/hooks.py``), which renders the CLI help into the reference."""
    spec = importlib.util.spec_from_file_location("lipread_docs_hooks", DOCS / "_build" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_sub_command_is_in_the_cli_reference() -> None:
    hooks = load_hooks()
    commands = set(hooks._parsers()) - {"lipread"}
    assert len(commands) == len(COMMANDS)
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    documented = set(hooks.MARKER.findall(page))
    assert documented == commands | {"lipread"}
    for name in commands:
        assert f"## lipread {name}\n" in page
        text = hooks.help_text(name)
        assert text.startswith(f"usage: lipread {name} ")


def test_help_markers_become_help_text() -> None:
    hooks = load_hooks()
    out = hooks.on_page_markdown("before\n<!-- lipread-help: export -->\nafter")
    assert out.startswith("before\n```text\nusage: lipread export ")
    assert "--output" in out and out.endswith("```\nafter")


def test_missing_snippet_becomes_a_note(tmp_path: Path) -> None:
    hooks = load_hooks()
    present = '--8<-- "mkdocs.yml"'
    assert hooks.on_page_markdown(present) == present
    out = hooks.on_page_markdown('--8<-- "no/such/file.md"')
    assert out.startswith('!!! note "Not in this build"') and "`no/such/file.md`" in out


def test_every_error_class_is_in_troubleshooting() -> None:
    page = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    classes = [
        name
        for name, obj in inspect.getmembers(lipread.errors, inspect.isclass)
        if issubclass(obj, lipread.errors.LipreadError)
    ]
    assert len(classes) == len(lipread.errors.__all__)
    for name in classes:
        assert f"\n## {name}\n" in page, name


def test_every_nav_page_exists_and_every_page_is_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config[config.index("\nnav:") :]
    listed = set(re.findall(r"([\w/-]+\.md)\s*$", nav, re.MULTILINE))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert listed == pages


def test_examples_are_on_the_examples_page() -> None:
    page = (DOCS / "examples.md").read_text(encoding="utf-8")
    for script in sorted((ROOT / "examples").glob("*.py")):
        assert f'--8<-- "examples/{script.name}"' in page, script.name


def test_benchmark_scripts_are_listed() -> None:
    listing = load_hooks().benchmark_list()
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        assert f"- `benchmarks/{script.name}`: " in listing
