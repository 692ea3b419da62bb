"""Shared fixtures: the GRID data in ``../shared/data`` beside the checkout (tests skip when it is absent)."""

from __future__ import annotations

from collections.abc import Callable
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


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    """A ``--model-config`` file of a narrow LipNet (4, 6 and 5 channels, one GRU layer of 8) that trains an
    epoch on a few clips in seconds."""
    from lipread.config import ConvBlock, get_preset

    base = get_preset("lipnet")
    blocks = tuple(
        ConvBlock(c, b.kernel, b.stride, b.padding, b.batchnorm, 0.0, b.pool) for c, b in zip((4, 6, 5), base.frontend)
    )
    path = tmp_path / "tiny.json"
    path.write_text(base.with_(frontend=blocks, rnn_hidden=8, rnn_layers=1).dumps())
    return path


@pytest.fixture
def train_tiny(
    grid_root: Path, tiny_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., int]:
    """``train_tiny(run, *flags)``: ``lipread train`` of the :func:`tiny_config` model on four clips of speaker 1
    (one validates) with the torch backend, single-threaded, into ``run``, as a user runs it; its exit status."""
    torch = pytest.importorskip("torch")
    from lipread.cli.app import main

    monkeypatch.delenv("RANK", raising=False)

    def train(run: Path, *flags: str) -> int:
        args = ["train", str(grid_root), "-o", str(run), "--model-config", str(tiny_config)]
        args += ["--cache", str(tmp_path / "cache"), "--max-clips", "4", "--val-fraction", "0.25", "--batch-size", "2"]
        args += ["--beam-width", "0", "--examples", "0", "--device", "cpu", "--workers", "1", "--no-progress", *flags]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # faster for this tiny model on a busy machine
        try:
            return int(main(args))
        finally:
            torch.set_num_threads(threads)

    return train
