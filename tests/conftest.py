"""Shared fixtures: the GRID data in ``../shared/data`` beside the checkout (tests skip when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""``<checkout>/../shared/data``: the GRID clips the tests read (never copied into the project)."""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; skips the test when it is not there (e.g. on a user's machine)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared GRID data not found at {SHARED_DATA} (it lives beside the checkout in ../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def grid_root(shared_data: Path) -> Path:
    """GRID speaker 1 in the shared layout: ``s1/<name>.mp4`` and ``alignments/s1/<name>.align``."""
    root = shared_data / "grid"
    if not (root / "s1").is_dir():
        pytest.skip(f"GRID speaker 1 clips not found in {root / 's1'}")
    return root


@pytest.fixture(scope="session")
def grid_clip(grid_root: Path) -> Path:
    """One H.264 GRID clip of speaker 1 (``bbaf2n``: "bin blue at f two now"), 75 frames of 360x288."""
    path = grid_root / "s1" / "bbaf2n.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def mpg_clip(grid_root: Path) -> Path:
    """The same sentence as ``grid_clip`` in GRID's original MPEG-1 file."""
    path = grid_root / "mpg" / "bbaf2n.mpg"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path
