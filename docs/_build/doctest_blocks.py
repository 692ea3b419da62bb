"""A griffe extension for the documentation build: interactive examples in docstrings render as code.

A docstring may show a session at its top level, outside an ``Examples:`` section::

    >>> import lipread
    >>> lipread.demo_clip().name
    'pbap1a.mp4'

Markdown reads each ``>`` as a quote, so the page would show the lines as three nested quotes. This extension
puts every such run (from a ``>>>`` line at the left margin to the next blank line) into a fenced ``pycon``
block, which renders as highlighted code. Runs inside an ``Examples:`` section (indented) and inside fenced
blocks are left alone: the Google-style parser already renders the first as code.
"""

from __future__ import annotations

from typing import Any

import griffe

FENCE = "```"


def fence_sessions(text: str) -> str:
    """``text`` with each top-level ``>>>`` run in a ``pycon`` fenced block (see the module docstring)."""
    out: list[str] = []
    in_fence = in_session = False
    for line in text.splitlines():
        if in_session and not line.strip():
            out.append(FENCE)
            in_session = False
        elif not in_session and not in_fence and line.startswith(">>>"):
            out.append(f"{FENCE}pycon")
            in_session = True
        elif not in_session and line.lstrip().startswith(FENCE):
            in_fence = not in_fence
        out.append(line)
    if in_session:
        out.append(FENCE)
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Fences the top-level ``>>>`` sessions of every docstring (see the module docstring)."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite one object's docstring."""
        self._rewrite(obj)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite the package's own docstring (``on_object`` is not called for a top-level package)."""
        self._rewrite(pkg)

    def _rewrite(self, obj: griffe.Object) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_sessions(obj.docstring.value)
