"""tools/average_weights.py: checkpoints of one model averaged tensor by tensor."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from script_module import load_script

from lipread.config import get_preset
from lipread.weights import Checkpoint

TOOL = Path(__file__).resolve().parents[1] / "tools" / "average_weights.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_script(TOOL)


def checkpoint(weight: np.ndarray, steps: int = 3, preset: str = "lipnet") -> Checkpoint:
    return Checkpoint(get_preset(preset), {"w": weight, "steps": np.array(steps, np.int64)})


def test_floating_tensors_are_averaged_and_others_kept(tool: ModuleType) -> None:
    a = np.array([[1.0, 2.0]], np.float32)
    b = np.array([[3.0, -2.0]], np.float16)  # a float16 checkpoint is averaged as float32
    c = np.array([[5.0, 9.0]], np.float32)
    out = tool.average([checkpoint(a), checkpoint(b), checkpoint(c)])
    np.testing.assert_array_equal(out["w"], [[3.0, 3.0]])
    assert out["w"].dtype == np.float32
    assert out["steps"] == 3 and out["steps"].dtype == np.int64


def test_one_checkpoint_averages_to_itself(tool: ModuleType) -> None:
    w = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_array_equal(tool.average([checkpoint(w)])["w"], w)


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (Checkpoint(get_preset("lipnet-notebook"), {"w": np.zeros((1, 2), np.float32)}), "different models"),
        (Checkpoint(get_preset("lipnet"), {"v": np.zeros((1, 2), np.float32)}), "different tensors"),
        (checkpoint(np.zeros((1, 2), np.float32), steps=4), "steps"),
    ],
)
def test_checkpoints_that_cannot_be_averaged_are_refused(tool: ModuleType, other: Checkpoint, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tool.average([checkpoint(np.ones((1, 2), np.float32)), other])
    with pytest.raises(ValueError, match="no checkpoints"):
        tool.average([])
