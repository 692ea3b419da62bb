"""The test matrix runs on the pinned versions: every distribution installed in a nox session's environment is
pinned in ``constraints.txt`` at the version installed (nox sets ``LIPREAD_PINNED`` in the pinned sessions)."""

from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

import pytest

UNPINNED = {"lipread", "pip", "setuptools", "wheel"}
"""lipread itself, and the tools every virtual environment starts with."""


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """``name -> version`` for every ``name==version`` line of a pip constraints file."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if match:
            found[_name(match[1])] = match[2]
    return found


def test_pins_parse_names_and_versions(tmp_path: Path) -> None:
    file = tmp_path / "c.txt"
    file.write_text("# header\nOpenCV_Python.Headless==5.1.0.95\n    # via lipread\ntorch==2.13.0+cpu\n-e .\n")
    assert pins(file) == {"opencv-python-headless": "5.1.0.95", "torch": "2.13.0+cpu"}


def test_every_installed_distribution_is_pinned() -> None:
    pinned = os.environ.get("LIPREAD_PINNED")
    if not pinned:
        pytest.skip("not a pinned nox session (LIPREAD_PINNED unset)")
    wanted = pins(Path(pinned))
    installed = {_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {
        name: (version, wanted.get(name, "not pinned"))
        for name, version in installed.items()
        if name not in UNPINNED and wanted.get(name) != version
    }
    assert not wrong, f"installed (version, pin) that differ from {pinned}: {wrong}"
