"""tools/confidence_penalty.py: the entropy of the frame posteriors, the experiment behind training.md's row."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from script_module import load_script

torch = pytest.importorskip("torch", reason="the experiment trains with PyTorch")

TOOL = Path(__file__).resolve().parents[1] / "tools" / "confidence_penalty.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_script(TOOL)


def _reference(logits: np.ndarray, length: int) -> float:
    """The entropy of each frame's softmax, summed over the first ``length`` frames, in float64."""
    p = np.exp(logits[:length] - logits[:length].max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return float(-(p * np.log(np.where(p > 0, p, 1.0))).sum())


@settings(deadline=None, max_examples=30)
@given(
    seed=st.integers(0, 2**32 - 1),
    lengths=st.lists(st.integers(1, 12), min_size=1, max_size=4),
    scale=st.sampled_from([0.1, 1.0, 30.0]),
)
def test_frame_entropy_sums_each_clips_valid_frames(
    tool: ModuleType, seed: int, lengths: list[int], scale: float
) -> None:
    logits = np.random.default_rng(seed).normal(0, scale, (len(lengths), max(lengths), 7))
    lp = torch.log_softmax(torch.from_numpy(logits), -1)
    found = tool.frame_entropy(lp, torch.tensor(lengths)).numpy()
    expected = [_reference(logits[b], n) for b, n in enumerate(lengths)]
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5)


def test_frame_entropy_bounds(tool: ModuleType) -> None:
    """Certain frames carry none, uniform frames log V each; frames past a clip's length count nothing."""
    certain = torch.full((1, 5, 4), -1e4)
    certain[..., 2] = 0.0
    uniform = torch.full((1, 5, 4), float(np.log(1 / 4)))
    lp = torch.cat([certain, uniform])
    np.testing.assert_allclose(tool.frame_entropy(lp, torch.tensor([5, 3])).numpy(), [0.0, 3 * np.log(4)], atol=1e-6)


def test_the_term_rewards_entropy_and_its_gradient_flattens_the_posteriors(tool: ModuleType) -> None:
    logits = torch.tensor([[[4.0, 0.0, -1.0], [0.0, 3.0, 0.0]]], requires_grad=True)
    lp = torch.log_softmax(logits, -1)
    batch = type("B", (), {"lengths": torch.tensor([2])})()
    term = tool._term(None, lp, batch, np.random.default_rng(0), None)
    assert term.item() < 0
    term.backward()
    assert logits.grad is not None
    with torch.no_grad():
        stepped = torch.log_softmax(logits - 0.1 * logits.grad, -1)
        assert tool.frame_entropy(stepped, torch.tensor([2])).item() > -term.item()
