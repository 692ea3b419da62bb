"""The documentation covers what the code offers: every sub-command, every error class, every page in the nav.

These checks need no MkDocs; the ``docs`` nox session builds the site itself with ``--strict``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest
from script_module import load_script

import lipread.errors
from lipread.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def load_hooks() -> ModuleType:
    """The build's hook module (``docs/_build/hooks.py``), which checks the CLI help in the reference."""
    return load_script(DOCS / "_build" / "hooks.py")


def test_every_sub_command_is_in_the_cli_reference() -> None:
    cli_docs = load_hooks().cli_docs
    commands = set(cli_docs.parsers()) - {"lipread"}
    assert len(commands) == len(COMMANDS)
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    documented = set(cli_docs.MARKER.findall(page))
    assert documented == commands | {"lipread"}
    for name in commands:
        assert f"## lipread {name}\n" in page
        text = cli_docs.help_text(name)
        assert text.startswith(f"usage: lipread {name} ")


def test_the_cli_reference_holds_the_current_help() -> None:
    """docs/cli.md is what ``python tools/write_cli_docs.py`` writes: every help text as the code has it now."""
    cli_docs = load_hooks().cli_docs
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    stale = cli_docs.stale(page)
    assert not stale, f"docs/cli.md: stale help of {', '.join(stale)}; run: python tools/write_cli_docs.py"
    if cli_docs.unjudged(page):
        pytest.skip(f"docs/cli.md's help was written by another Python version than {cli_docs.PYTHON}")
    assert cli_docs.render(page) == page
    for block in cli_docs.blocks(page):  # no line wider than the site's code box
        assert max(len(line) for line in cli_docs.help_text(block.name).splitlines()) <= cli_docs.WIDTH, block.name


def test_help_blocks_are_written_in_place() -> None:
    cli_docs = load_hooks().cli_docs
    bare = "before\n\n<!-- lipread-help: export -->\n\nafter\n"
    out = cli_docs.render(bare)
    assert out.startswith("before\n\n<!-- lipread-help: export -->\n\n```text\nusage: lipread export ")
    assert out.endswith(f"```\n\n<!-- /lipread-help: Python {cli_docs.PYTHON} -->\n\nafter\n")
    assert "--output" in out
    assert cli_docs.render(out) == out and cli_docs.stale(out) == [] and cli_docs.stale(bare) == ["export"]
    edited = out.replace("--output", "--outptu", 1)
    assert cli_docs.stale(edited) == ["export"] and cli_docs.render(edited) == out
    # Two blocks, the first of them bare: each is written, neither swallows the other.
    two = "<!-- lipread-help: info -->\n" + out
    assert cli_docs.render(two) == cli_docs.block("info") + "\n" + out
    # Written by another Python: different text is not called stale, only unjudged.
    other = edited.replace(f"Python {cli_docs.PYTHON} -->", "Python 2.7 -->")
    assert cli_docs.stale(other) == [] and cli_docs.unjudged(other) == ["export"]


def test_the_build_fails_on_stale_help() -> None:
    hooks = load_hooks()
    current = hooks.cli_docs.render("<!-- lipread-help: export -->\n")
    assert hooks.on_page_markdown(current) == current
    with pytest.raises(Exception, match=r"stale; run: python tools/write_cli_docs\.py"):
        hooks.on_page_markdown(current.replace("--output", "--outptu"))
    with pytest.raises(Exception, match="no such sub-command"):
        hooks.on_page_markdown(hooks.cli_docs.render("<!-- lipread-help: export -->\n").replace("export", "exprot"))


def test_the_tool_checks_and_writes_a_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli_docs = load_hooks().cli_docs
    page = tmp_path / "cli.md"
    page.write_text("# CLI\n\n<!-- lipread-help: info -->\n", encoding="utf-8")
    assert cli_docs.main([str(page), "--check"]) == 1
    assert "stale help of info" in capsys.readouterr().err
    assert cli_docs.main([str(page)]) == 0
    assert page.read_text(encoding="utf-8") == "# CLI\n\n" + cli_docs.block("info") + "\n"
    assert cli_docs.main([str(page), "--check"]) == 0


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


def test_benchmark_scripts_are_listed_with_their_whole_first_paragraph() -> None:
    hooks = load_hooks()
    listing = hooks.benchmark_list()
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        listed = f"- `benchmarks/{script.name}`: " in listing
        assert listed == (script.name not in ("common.py", "pyctcdecode_worker.py")), script.name
    # a first paragraph over two docstring lines is not cut at the first
    line = next(x for x in listing.splitlines() if "benchmarks/cold_start.py" in x)
    assert line.endswith("imports neither PyTorch nor TensorFlow.")
