"""The documentation build fences the ``>>>`` sessions of docstrings, so they render as code, not as quotes."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from script_module import load_script

ROOT = Path(__file__).resolve().parents[1]


def _extension() -> ModuleType:
    pytest.importorskip("griffe", reason="the docs extra is not installed")
    return load_script(ROOT / "docs" / "_build" / "doctest_blocks.py")


def test_top_level_sessions_are_fenced_up_to_the_blank_line() -> None:
    text = "Intro.\n\n>>> import lipread\n>>> lipread.demo_clip().name\n'pbap1a.mp4'\n\nAfter."
    assert _extension().fence_sessions(text) == (
        "Intro.\n\n```pycon\n>>> import lipread\n>>> lipread.demo_clip().name\n'pbap1a.mp4'\n```\n\nAfter."
    )


def test_a_session_at_the_end_is_closed() -> None:
    assert _extension().fence_sessions(">>> 1 + 1\n2") == "```pycon\n>>> 1 + 1\n2\n```"


def test_examples_sections_and_fenced_blocks_are_left_alone() -> None:
    fence = _extension().fence_sessions
    examples = "Examples:\n    >>> 1 + 1\n    2"
    fenced = "```pycon\n>>> 1 + 1\n2\n```"
    assert fence(examples) == examples
    assert fence(fenced) == fenced
