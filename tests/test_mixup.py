"""Mixup for CTC: blended clips, each scored against both sentences; deterministic, resumable, torch only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_torch_train import one_thread, options, weights  # noqa: E402,F401 (one_thread: a fixture)

from lipread.data.augmentation import NO_AUGMENTATION  # noqa: E402
from lipread.data.training import TrainOptions  # noqa: E402
from lipread.errors import BackendError, DataError  # noqa: E402
from lipread_torch import backend  # noqa: E402
from lipread_torch.data import Examples, make_batch  # noqa: E402
from lipread_torch.mixup import mix_batch  # noqa: E402
from lipread_torch.train import ctc_loss  # noqa: E402

pytestmark = pytest.mark.torch


def small_batch(tolerant: bool = False) -> tuple[object, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 255, (n, 4, 6, 3), dtype=np.uint8) for n in (9, 5, 7, 8)]
    targets = [np.array(t, np.int64) for t in ([3, 4], [5], [6, 7, 8], [9, 1, 2, 10])]
    batch = make_batch(Examples([], crops, targets), np.arange(4), None, NO_AUGMENTATION)
    if tolerant:
        batch.allowed = torch.from_numpy(rng.random((4, 9, 28)) > 0.3)
    return batch, targets


def split_targets(batch: object) -> list[list[int]]:
    return [t.tolist() for t in torch.split(batch.targets, batch.target_lengths.tolist())]


@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_mixed_clips_are_blends_scored_against_both_sentences(alpha: float) -> None:
    batch, targets = small_batch(tolerant=True)
    first, second, lam = mix_batch(batch, alpha, np.random.default_rng(3))
    again = mix_batch(batch, alpha, np.random.default_rng(3))
    assert torch.equal(again[0].frames, first.frames) and torch.equal(again[2], lam)  # seeded: resumable
    assert lam.shape == (4,) and bool(((lam >= 0.5) & (lam <= 1)).all())
    # each clip's partner, recovered from the labels of ``second``
    partner = [next(j for j, t in enumerate(targets) if t.tolist() == got) for got in split_targets(second)]
    assert split_targets(first) == [t.tolist() for t in targets]
    for b, j in enumerate(partner):
        expected = lam[b] * batch.frames[b] + (1 - lam[b]) * batch.frames[j]
        torch.testing.assert_close(first.frames[b], expected)
        assert first.lengths[b] == second.lengths[b] == max(batch.lengths[b], batch.lengths[j])
        assert second.target_lengths[b] == len(targets[j])
        assert torch.equal(second.allowed[b], batch.allowed[j]) and torch.equal(first.allowed[b], batch.allowed[b])
    assert torch.equal(first.frames, second.frames)
    assert sorted(partner) == [0, 1, 2, 3]  # every clip is some clip's partner: a permutation


def test_a_blend_with_itself_is_the_plain_loss() -> None:
    """With every clip its own partner, the mixup loss reduces to the clip's own CTC loss."""
    batch, _ = small_batch()
    logprobs = torch.log_softmax(torch.randn(4, 9, 28, generator=torch.Generator().manual_seed(0)), -1)

    class Identity:
        def permutation(self, n: int) -> np.ndarray:
            return np.arange(n)

        def beta(self, a: float, b: float, size: int) -> np.ndarray:
            return np.full(size, 0.7)

    first, second, lam = mix_batch(batch, 0.4, Identity())  # type: ignore[arg-type]
    mixed = lam * ctc_loss(logprobs, first) + (1 - lam) * ctc_loss(logprobs, second)
    torch.testing.assert_close(mixed, ctc_loss(logprobs, batch))
    torch.testing.assert_close(first.frames, batch.frames)


def test_one_clip_is_left_alone_and_alpha_is_checked() -> None:
    batch, _ = small_batch()
    single = make_batch(
        Examples([], [np.zeros((3, 4, 6, 3), np.uint8)], [np.array([2])]), np.arange(1), None, NO_AUGMENTATION
    )
    first, second, lam = mix_batch(single, 0.4, np.random.default_rng(0))
    assert first is single and second is single and lam.tolist() == [1.0]
    with pytest.raises(ValueError, match="alpha"):
        mix_batch(batch, 0, np.random.default_rng(0))
    with pytest.raises(DataError, match="mixup"):
        TrainOptions(data=Path("."), output=Path("."), mixup=-1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crops")


@pytest.mark.usefixtures("one_thread")
def test_training_with_mixup_learns_resumes_exactly_and_differs(grid_root: Path, cache: Path, tmp_path: Path) -> None:
    straight = backend.train(options(grid_root, tmp_path / "a", cache, mixup=0.4))
    assert all(np.isfinite(h["train_loss"]) and h["train_loss"] > 0 for h in straight.history)
    backend.train(options(grid_root, tmp_path / "b", cache, mixup=0.4, epochs=1))
    resumed = backend.train(options(grid_root, tmp_path / "b", cache, mixup=0.4, resume=True))
    a, b = weights(straight.last), weights(resumed.last)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    plain = backend.train(options(grid_root, tmp_path / "c", cache))
    assert not np.array_equal(weights(plain.last)["classifier.weight"], a["classifier.weight"])


def test_the_tensorflow_backend_refuses_mixup() -> None:
    lipread_tf = pytest.importorskip("lipread_tf")
    with pytest.raises(BackendError, match=r"mixup.*--backend torch"):
        lipread_tf.TensorFlowBackend().train(TrainOptions(data=Path("."), output=Path("."), mixup=0.4))
