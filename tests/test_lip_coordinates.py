"""tools/lip_coordinates.py: lip landmark coordinates as a second input, the experiment behind training.md's row."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from script_module import load_script

torch = pytest.importorskip("torch", reason="the experiment trains with PyTorch")

from test_torch_model import small  # noqa: E402

from lipread_torch.data import Batch  # noqa: E402
from lipread_torch.model import LipNet  # noqa: E402

TOOL = Path(__file__).resolve().parents[1] / "tools" / "lip_coordinates.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_script(TOOL)


def small_lipnet() -> LipNet:
    torch.manual_seed(0)
    return LipNet(small("lipnet")).eval()


def test_features_separate_the_lips_shape_from_where_they_are(tool: ModuleType) -> None:
    rng = np.random.default_rng(0)
    shape = rng.normal(size=(len(tool.LIPS), 2))
    shape -= shape.mean(axis=0)
    place = np.cumsum(rng.normal(size=(30, 1, 2)), axis=0)
    f = tool.features((shape[None] + place).astype(np.float32))
    assert f.shape == (30, tool.FEATURES)
    # the same shape anywhere in the frame: the shape numbers do not change, the place numbers follow it
    np.testing.assert_allclose(f[:, :-2], np.broadcast_to(shape.reshape(-1), (30, 2 * len(tool.LIPS))), atol=1e-5)
    np.testing.assert_allclose(f[:, -2:], place[:, 0] - np.median(place[:, 0], axis=0), atol=1e-5)


def test_the_branch_starts_at_zero_so_the_model_reads_as_before(tool: ModuleType) -> None:
    lipnet = small_lipnet()
    frames = torch.randn(2, 12, 50, 100, 3)
    lengths = torch.tensor([12, 9])
    coordinates = torch.randn(2, 12, tool.FEATURES)
    fused = tool.WithCoordinates(lipnet, tool.CoordinateBranch(lipnet.config.feature_size)).eval()
    with torch.no_grad():
        before = lipnet(frames, lengths)
        np.testing.assert_allclose(fused(frames, lengths, coordinates)[0], before[0], atol=1e-6)
        np.testing.assert_allclose(fused(frames, lengths, coordinates)[1, :9], before[1, :9], atol=1e-6)
        fused.branch.projection.weight.normal_()
        after = fused(frames, lengths, coordinates)
        assert (after - before).abs().max() > 1e-3  # once it has weights the coordinates change the reading
        # frames past a clip's length do not reach its valid frames, coordinates included
        changed = coordinates.clone()
        changed[1, 9:] = 100.0
        np.testing.assert_allclose(fused(frames, lengths, changed)[1, :9], after[1, :9], atol=1e-5)


def test_coordinates_follow_the_batch_frames(tool: ModuleType) -> None:
    coordinates = [np.arange(10 * tool.FEATURES, dtype=np.float32).reshape(10, -1) + 1000 * i for i in range(2)]
    sources = [np.array([2, 3, 3, 5]), np.array([0, 1, 2, 4, 6, 7])]
    frames, lengths = torch.zeros(2, 6, 1, 1, 1), torch.tensor([4, 6])
    batch = Batch(frames, lengths, torch.zeros(1), torch.zeros(2), np.array([1, 0]), None, sources)
    out = tool._coordinates(batch, coordinates).numpy()
    np.testing.assert_array_equal(out[0, :4], coordinates[1][[2, 3, 3, 5]])
    np.testing.assert_array_equal(out[1], coordinates[0][[0, 1, 2, 4, 6, 7]])
    assert not out[0, 4:].any()  # padding stays zero


def test_lip_points_of_a_grid_clip(tool: ModuleType, grid_clip: Path) -> None:
    """On a real clip: the lips in mean-face units, steady where the head moves, moving where the mouth does."""
    from lipread.video.reader import read_frames

    points = tool.lip_points(read_frames(grid_clip))
    assert points.shape == (75, len(tool.LIPS), 2) and points.dtype == np.float32
    corners = points[:, [0, 10]]  # 61 and 291, the mouth's corners
    width = np.linalg.norm(corners[:, 0] - corners[:, 1], axis=1)
    assert 0.4 < np.median(width) < 0.9  # a mouth is narrower than the eyes' outer corners are apart
    centre = points.mean(axis=1)
    assert 0.6 < np.median(centre[:, 1]) < 1.3 and abs(np.median(centre[:, 0])) < 0.15  # below the nose, centred
    upper, lower = points[:, len(tool.LIPS) // 2 + 15], points[:, len(tool.LIPS) // 2 + 5]  # 13 and 14, inner lips
    opening = np.linalg.norm(upper - lower, axis=1)
    assert opening.max() > 4 * np.percentile(opening, 5) + 0.02  # the mouth opens and closes as the sentence is said
