"""Every backend's ``logprobs`` checks its input the same way (:mod:`lipread.model_input`): a bad batch is
the same VideoError from PyTorch, TensorFlow and ONNX Runtime, never a framework's own error or a silently
truncated length, and a batch of no clips is an empty answer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lipread.config import ConvBlock, get_preset
from lipread.errors import VideoError
from lipread.model_input import checked_input

TINY = get_preset("lipnet").with_(
    height=8, width=12, frontend=(ConvBlock(4, (3, 3, 3), pool=(1, 2, 2)),), rnn_hidden=4, rnn_layers=1
)
FRAMES = np.zeros((2, 11, 8, 12, 3), np.float32)

BAD_LENGTHS = [
    ([11, 0], r"lengths must be 2 whole numbers in 1\.\.11, got \[11, 0\]"),
    ([11, -3], r"got \[11, -3\]"),
    ([12, 7], r"got \[12, 7\]"),
    ([11, 7.5], r"got \[11\.0, 7\.5\]"),
    ([11, 2**40], r"got \[11, 1099511627776\]"),
    ([2**32 + 5, 3], r"got \[4294967301, 3\]"),  # not 5 once cast to 32 bits
    ([11], r"lengths must be 2 whole numbers"),
    (["11", "3"], r"lengths must be 2 whole numbers"),
]


def test_checked_input() -> None:
    x, n = checked_input(TINY, FRAMES.astype(np.float64), [11, 7.0])
    assert x.dtype == np.float32 and n.dtype == np.int32 and n.tolist() == [11, 7]
    assert checked_input(TINY, FRAMES)[1].tolist() == [11, 11]
    assert checked_input(TINY, FRAMES[:0])[0].shape == (0, 11, 8, 12, 3)
    for lengths, message in BAD_LENGTHS:
        with pytest.raises(VideoError, match=message):
            checked_input(TINY, FRAMES, lengths)
    for frames in (FRAMES[:, :0], FRAMES[0], FRAMES[..., :1]):
        with pytest.raises(VideoError, match=r"model 'lipnet' expects frames float32 \(B, T, 8, 12, 3\) with T >= 1"):
            checked_input(TINY, frames)


def _torch(tmp_path: Path) -> Callable[..., np.ndarray]:
    pytest.importorskip("torch")
    from lipread_torch import backend

    return backend.build(TINY, seed=0).logprobs


def _tensorflow(tmp_path: Path) -> Callable[..., np.ndarray]:
    pytest.importorskip("tensorflow")
    from lipread_tf import backend

    return backend.build(TINY, seed=0).logprobs


def _onnx(tmp_path: Path) -> Callable[..., np.ndarray]:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from lipread import get_backend
    from lipread_torch import backend

    path = backend.export_onnx(backend.build(TINY, seed=0), tmp_path / "tiny.onnx")
    return get_backend("onnx").load(path, threads=1).logprobs


@pytest.mark.parametrize("make", [_torch, _tensorflow, _onnx], ids=["torch", "tensorflow", "onnx"])
def test_every_backend_checks_the_same_way(make: Callable[[Path], Callable[..., np.ndarray]], tmp_path: Path) -> None:
    logprobs = make(tmp_path)
    assert logprobs(FRAMES[:0]).shape == (0, 11, TINY.num_classes)
    assert logprobs(FRAMES, [11, 7]).shape == (2, 11, TINY.num_classes)
    for lengths, message in BAD_LENGTHS:
        with pytest.raises(VideoError, match=message):
            logprobs(FRAMES, lengths)
    with pytest.raises(VideoError, match="with T >= 1"):
        logprobs(FRAMES[:, :0])
