"""A griffe extension for the documentation build: Sphinx-style roles in docstrings become links.

lipread's docstrings refer to other objects as ``:func:`name```, ``:class:`~lipread.errors.VideoError```
and so on. Each role is resolved in the scope of the object whose docstring holds it and rendered as an
optional cross-reference: a link when the target has an API page, plain code otherwise (private helpers,
modules without a page). A leading ``~`` shows only the last component of the name.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):`(~?)([\w.]+)`")
PACKAGES = ("lipread", "lipread_torch", "lipread_tf")


def _target(obj: griffe.Object, name: str) -> str | None:
    """The full path ``name`` refers to in ``obj``'s scope, or None."""
    head, _, rest = name.partition(".")
    if head in PACKAGES:
        return name
    try:
        base = obj.resolve(head)
    except Exception:  # griffe raises NameResolutionError, or alias errors for imports it cannot follow
        return None
    return f"{base}.{rest}" if rest else base


class SphinxRoles(griffe.Extension):
    """Rewrites the roles of every docstring into optional autorefs (see the module docstring)."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite one object's docstring."""
        self._rewrite(obj)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite the package's own docstring (``on_object`` is not called for a top-level package)."""
        self._rewrite(pkg)

    def _rewrite(self, obj: griffe.Object) -> None:
        docstring = obj.docstring
        if docstring is None or "`" not in docstring.value:
            return

        def link(match: re.Match[str]) -> str:
            short, name = match.group(1), match.group(2)
            shown = name.rsplit(".", 1)[-1] if short else name
            target = _target(obj, name)
            if target is None:
                return f"`{shown}`"
            return f'<autoref identifier="{target}" optional><code>{shown}</code></autoref>'

        docstring.value = ROLE.sub(link, docstring.value)
