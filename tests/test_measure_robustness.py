"""tools/measure_robustness.py: the changes it makes to a clip, and one run of it on two clips."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from script_module import load_script

TOOL = Path(__file__).resolve().parents[1] / "tools" / "measure_robustness.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_script(TOOL)


def test_the_changes_keep_the_pictures_and_change_only_what_they_say(tool: ModuleType) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (10, 288, 360, 3), dtype=np.uint8)
    changes = tool.CHANGES
    assert changes["as filmed"](frames) is frames
    assert np.array_equal(changes["mirrored"](frames)[:, :, ::-1], frames)
    placed = changes["small in frame"](frames)
    assert placed.shape == (10, 540, 960, 3) and np.array_equal(placed[:, 126:414, 300:660], frames)
    assert placed.sum() == frames.sum()  # black around them
    still = changes["still lead-in"](frames)
    assert len(still) == 60 and np.array_equal(still[25:35], frames)
    assert (still[:25] == frames[0]).all() and (still[35:] == frames[-1]).all()
    darker = changes["darker"](frames)
    assert (darker <= frames).all() and darker.max() <= 153


def test_it_reads_clips_with_each_change(tool: ModuleType, grid_root: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("onnxruntime")
    assert tool.main([str(grid_root), "--clips", "2"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "%" in line]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == list(tool.CHANGES)
    assert all(row.endswith(" of 2 |") for row in rows)
