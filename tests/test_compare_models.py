"""tools/compare_models.py: the WERs of two models on the same clips, their bootstrap intervals, and the paired
interval of their difference."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from script_module import load_script

TOOL = Path(__file__).resolve().parents[1] / "tools" / "compare_models.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_script(TOOL)


def errors(per_clip: list[int], words: int = 6) -> np.ndarray:
    return np.array([(e, words) for e in per_clip])


def test_the_same_readings_differ_by_nothing(tool: ModuleType) -> None:
    a = errors([0, 1, 2, 0, 3] * 18)
    result = tool.compare(a, a)
    assert result["wer_a"] == result["wer_b"] == pytest.approx(6 / 30)
    assert result["difference"] == 0 and result["difference_95"] == (0.0, 0.0)
    assert result["clips_differing"] == 0
    low, high = result["wer_a_95"]
    assert low < 6 / 30 < high  # resampling the clips spreads one model's WER


def test_a_model_worse_on_every_clip_is_resolved_and_one_worse_on_a_few_is_not(tool: ModuleType) -> None:
    base = errors([0, 1] * 45)
    everywhere = tool.compare(errors([1, 2] * 45), base)
    assert everywhere["difference"] == pytest.approx(90 / 540)
    assert everywhere["difference_95"][0] > 0  # the paired interval excludes no difference
    few = tool.compare(errors([1, 1] + [0, 1] * 44), base)
    assert few["difference"] == pytest.approx(1 / 540)
    assert few["difference_95"][0] <= 0 <= few["difference_95"][1]
    assert few["clips_differing"] == 1
