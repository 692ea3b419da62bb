"""One checkpoint, every backend: PyTorch and TensorFlow give the same log-probabilities on real GRID frames.

For both presets: a checkpoint saved by the torch backend, loaded by TensorFlow, gives log-probabilities
within 1e-4 of torch's, and the other way round; and TensorFlow is batch invariant (a clip alone vs in a
padded batch, <= 1e-5). The weights are random but non-trivial: every bias, BatchNorm's affine parameters
and running statistics are perturbed and the classifier scaled up, so a layout error anywhere shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorflow")

from lipread.backend import Model, get_backend
from lipread.config import get_preset
from lipread.video.preprocess import load_clip

pytestmark = [pytest.mark.parity, pytest.mark.torch, pytest.mark.tensorflow]

CLIPS = ("bbaf2n", "lwaz3a")
SHORT = 58
"""The second clip is cut to this many frames, so the batch has padding."""
PARITY = 1e-4
INVARIANCE = 1e-5


def perturb(model: Model, seed: int) -> None:
    """Non-trivial weights: random biases and BatchNorm parameters/statistics, a sharper classifier."""
    rng = np.random.default_rng(seed)
    tensors = model.state_dict()
    for name, value in tensors.items():
        if name.endswith("running_var"):
            tensors[name] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
        elif name.endswith(("bias", "running_mean", "bias_ih_l0", "bias_hh_l0")):
            tensors[name] = rng.normal(0.0, 0.1, value.shape).astype(np.float32)
        elif name.endswith("bn.weight"):
            tensors[name] = (1.0 + rng.normal(0.0, 0.2, value.shape)).astype(np.float32)
    tensors["classifier.weight"] = tensors["classifier.weight"] * 10
    model.load_state_dict(tensors)


@pytest.fixture(scope="module", params=["lipnet", "lipnet-notebook"])
def batch(request: pytest.FixtureRequest, grid_root: Path) -> tuple[str, np.ndarray, np.ndarray]:
    """(preset, frames ``(2, T, H, W, C)``, lengths) from real clips; the second one cut short and zero-padded."""
    config = get_preset(request.param)
    clips = [load_clip(grid_root / "s1" / f"{name}.mp4", config) for name in CLIPS]
    clips[1] = clips[1][:SHORT]
    lengths = np.array([len(c) for c in clips], np.int32)
    frames = np.zeros((len(clips), lengths.max(), *clips[0].shape[1:]), np.float32)
    for i, c in enumerate(clips):
        frames[i, : len(c)] = c
    return request.param, frames, lengths


def max_diff(a: np.ndarray, b: np.ndarray, lengths: np.ndarray) -> float:
    """Largest absolute difference over the valid frames of each clip."""
    return max(float(np.abs(a[i, :n] - b[i, :n]).max()) for i, n in enumerate(lengths))


def test_torch_checkpoint_in_tensorflow(
    batch: tuple[str, np.ndarray, np.ndarray], tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    preset, frames, lengths = batch
    torch_backend, tf_backend = get_backend("torch"), get_backend("tensorflow")
    source = torch_backend.build(get_preset(preset), seed=1)
    perturb(source, seed=1)
    path = torch_backend.save(source, tmp_path / "torch.safetensors")
    expected = source.logprobs(frames, lengths)
    got = tf_backend.load(path).logprobs(frames, lengths)
    diff = max_diff(got, expected, lengths)
    record_property(f"parity_torch_to_tf_{preset}", diff)
    print(f"{preset}: torch checkpoint, TensorFlow vs torch: max |diff| = {diff:.3g}")
    assert np.ptp(expected[0], axis=-1).mean() > 3.0  # far from uniform: the comparison means something
    assert diff <= PARITY


def test_tensorflow_checkpoint_in_torch(
    batch: tuple[str, np.ndarray, np.ndarray], tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    preset, frames, lengths = batch
    torch_backend, tf_backend = get_backend("torch"), get_backend("tensorflow")
    source = tf_backend.build(get_preset(preset), seed=2)
    perturb(source, seed=2)
    path = tf_backend.save(source, tmp_path / "tf.safetensors")
    expected = source.logprobs(frames, lengths)
    got = torch_backend.load(path).logprobs(frames, lengths)
    diff = max_diff(got, expected, lengths)
    record_property(f"parity_tf_to_torch_{preset}", diff)
    print(f"{preset}: TensorFlow checkpoint, torch vs TensorFlow: max |diff| = {diff:.3g}")
    assert diff <= PARITY

    # Batch invariance: each clip alone gives what it gives in the padded batch.
    for i, n in enumerate(lengths):
        alone = source.logprobs(frames[i : i + 1, :n])
        assert np.abs(alone[0] - expected[i, :n]).max() <= INVARIANCE
