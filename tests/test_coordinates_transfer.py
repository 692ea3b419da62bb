"""tools/coordinates_transfer.py: lip coordinates read on new speakers, the experiment behind adapt.md's paragraph;
and the coordinates-alone training it shares with tools/lip_coordinates.py."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from script_module import load_script

torch = pytest.importorskip("torch", reason="the experiment trains with PyTorch")

TOOLS = Path(__file__).resolve().parents[1] / "tools"


@pytest.fixture(scope="module")
def transfer() -> ModuleType:
    return load_script(TOOLS / "coordinates_transfer.py")


@pytest.fixture(scope="module")
def coordinates() -> ModuleType:
    return load_script(TOOLS / "lip_coordinates.py")


def points(rng: np.random.Generator, frames: int, offset: float) -> np.ndarray:
    """Random lip points of one clip, every point moved by ``offset`` (a speaker's resting mouth)."""
    return (rng.normal(size=(frames, 40, 2)) * 0.1 + np.linspace(-1, 1, 80).reshape(40, 2) * offset).astype(np.float32)


def test_standardised_by_the_training_clips(transfer: ModuleType, coordinates: ModuleType) -> None:
    rng = np.random.default_rng(0)
    train = [points(rng, 30 + i, 1.0) for i in range(4)]
    other = [points(rng, 20, 3.0)]
    train_x, other_x = transfer.standardised(train, other, centred=False)
    every = np.concatenate(train_x)
    np.testing.assert_allclose(every.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(every.std(axis=0), 1, atol=1e-3)
    # the other clips with the training clips' mean and scale, not their own
    raw = np.concatenate([coordinates.features(p) for p in train])
    expected = (coordinates.features(other[0]) - raw.mean(axis=0)) / (raw.std(axis=0) + 1e-6)
    np.testing.assert_allclose(other_x[0], expected, rtol=1e-4, atol=1e-4)
    assert np.abs(other_x[0][:, :-2].mean(axis=0)).mean() > 5  # a wider resting mouth stands out


def test_centred_takes_each_clips_own_mean_off(transfer: ModuleType) -> None:
    rng = np.random.default_rng(1)
    train = [points(rng, 30, 1.0) for _ in range(3)]
    wide, narrow = points(rng, 25, 3.0), points(rng, 25, 0.5)
    _, (a, b) = transfer.standardised(train, [wide, narrow], centred=True)
    # the resting mouth is gone: both clips are centred the same way, whatever their speaker's lips
    assert np.abs(a.mean(axis=0)).max() < 1e-3 and np.abs(b.mean(axis=0)).max() < 1e-3
    _, (c, d) = transfer.standardised(train, [wide, narrow], centred=False)
    assert np.abs(c.mean(axis=0) - d.mean(axis=0)).mean() > 5


def test_with_pixels_is_the_mean_of_the_probabilities(transfer: ModuleType) -> None:
    rng = np.random.default_rng(2)
    a = np.log(rng.dirichlet(np.ones(5), size=8))
    b = np.log(rng.dirichlet(np.ones(5), size=6))
    fused = transfer.with_pixels(a, b)
    assert fused.shape == (6, 5)
    np.testing.assert_allclose(np.exp(fused), (np.exp(a[:6]) + np.exp(b)) / 2, rtol=1e-6)
    np.testing.assert_allclose(np.exp(fused).sum(axis=1), 1, rtol=1e-6)


def test_fit_learns_a_clip_and_its_draws_are_the_callers(coordinates: ModuleType) -> None:
    """The training both steps use: it fits a short sequence, and the same draws give the same weights."""
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(16, coordinates.FEATURES)).astype(np.float32) for _ in range(2)]
    targets = [np.array([3, 4, 5]), np.array([6, 7])]

    def trained(draw_seed: int, epochs: int) -> torch.nn.Module:
        torch.manual_seed(0)
        net = coordinates.CoordinatesAlone(10)
        coordinates.fit(
            net, xs, targets, epochs=epochs, lr=3e-3, batch=1,
            draws=lambda epoch: np.random.default_rng([draw_seed, epoch]),
        )  # fmt: skip
        return net

    net = trained(0, 60)
    read = coordinates.read_alone(net, xs)
    assert [len(r) for r in read] == [16, 16]
    for lp, target in zip(read, targets):
        best = lp.argmax(axis=1)
        collapsed = [int(k) for i, k in enumerate(best) if k != 0 and (i == 0 or k != best[i - 1])]
        assert collapsed == target.tolist()
    net, again, other = trained(0, 3), trained(0, 3), trained(1, 3)
    same = [np.array_equal(p.detach(), q.detach()) for p, q in zip(net.parameters(), again.parameters())]
    assert all(same)
    assert not all(np.array_equal(p.detach(), q.detach()) for p, q in zip(net.parameters(), other.parameters()))
