"""The ONNX Runtime backend, on tiny models built in the test (no PyTorch or TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from tiny_onnx import reference_logprobs, write_tiny_model  # noqa: E402

from lipread.backend import Backend, Model, get_backend  # noqa: E402
from lipread.config import LIPNET  # noqa: E402
from lipread.errors import BackendError, CheckpointError, VideoError  # noqa: E402
from lipread.onnx import runtime as onnx_backend  # noqa: E402


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.fixture(scope="module")
def model(model_path: Path) -> onnx_backend.OnnxModel:
    return onnx_backend.backend.load(model_path, threads=1)


def _frames(batch: int, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, steps, LIPNET.height, LIPNET.width, LIPNET.channels)).astype(np.float32)


def test_registry_hands_out_the_backend() -> None:
    b = get_backend("onnxruntime")
    assert b is onnx_backend.backend
    assert isinstance(b, Backend)
    assert b.name == "onnx" and b.capabilities == frozenset({"inference"})


def test_load_reads_config_and_metadata(model: onnx_backend.OnnxModel, model_path: Path) -> None:
    assert isinstance(model, Model)
    assert model.backend == "onnx"
    assert model.config == LIPNET
    assert model.config.vocabulary.size == 28
    assert model.trained_on == {"data": "none"} and model.metrics == {"wer": 1.0}
    assert model.providers == ["CPUExecutionProvider"]
    assert model.path == model_path


def test_logprobs_match_the_graph_computed_in_numpy(model: onnx_backend.OnnxModel) -> None:
    x = _frames(2, 12)
    lp = model.logprobs(x, np.array([12, 12], dtype=np.int32))
    assert lp.shape == (2, 12, 28) and lp.dtype == np.float32
    np.testing.assert_allclose(np.exp(lp).sum(axis=-1), 1.0, atol=1e-5)
    for b in range(2):
        np.testing.assert_allclose(lp[b], reference_logprobs(x[b], 12), atol=1e-4)
    np.testing.assert_allclose(model.logprobs(x), lp, atol=1e-6)  # lengths default to T


def test_batching_with_lengths_equals_one_clip_at_a_time(model: onnx_backend.OnnxModel) -> None:
    clips = [_frames(1, n, seed=n)[0] for n in (9, 5, 7)]
    batch = np.zeros((3, 9, *clips[0].shape[1:]), np.float32)
    for b, c in enumerate(clips):
        batch[b, : len(c)] = c
    together = model.logprobs(batch, np.array([9, 5, 7]))
    for b, c in enumerate(clips):
        alone = model.logprobs(c[None], np.array([len(c)], np.int32))[0]
        np.testing.assert_allclose(together[b, : len(c)], alone, atol=1e-5)


def test_threads_option_reaches_the_session(model_path: Path) -> None:
    m = onnx_backend.backend.load(model_path, threads=2, device="cpu")
    assert m._session.get_session_options().intra_op_num_threads == 2
    with pytest.raises(BackendError, match="threads"):
        onnx_backend.backend.load(model_path, threads=0)


@pytest.mark.parametrize(
    ("shape", "lengths"),
    [((2, 4, 50, 100), None), ((1, 4, 46, 140, 1), None), ((1, 0, 50, 100, 3), None), ((2, 4, 50, 100, 3), [4, 5])],
)
def test_bad_input_raises_a_lipread_error(
    model: onnx_backend.OnnxModel, shape: tuple[int, ...], lengths: list[int] | None
) -> None:
    with pytest.raises(VideoError):
        model.logprobs(np.zeros(shape, np.float32), None if lengths is None else np.array(lengths))


def test_file_without_lipread_metadata(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "plain.onnx", metadata=False)
    with pytest.raises(CheckpointError, match="without lipread metadata") as e:
        onnx_backend.backend.load(path)
    assert str(path) in str(e.value)


def test_file_with_other_outputs(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "other.onnx", output="probs")
    with pytest.raises(CheckpointError, match="logprobs"):
        onnx_backend.backend.load(path)


@pytest.mark.parametrize("damage", ["random", "truncated", "empty"])
def test_broken_files_name_the_file(tmp_path: Path, model_path: Path, damage: str) -> None:
    data = model_path.read_bytes()
    content = {
        "random": np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        "truncated": data[: len(data) // 2],
        "empty": b"",
    }[damage]
    path = tmp_path / f"{damage}.onnx"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as e:
        onnx_backend.backend.load(path)
    assert str(path) in str(e.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        onnx_backend.backend.load(tmp_path / "nope.onnx")
    with pytest.raises(CheckpointError, match="folder"):
        onnx_backend.backend.load(tmp_path)


def test_inference_only(model: onnx_backend.OnnxModel, tmp_path: Path) -> None:
    b = onnx_backend.backend
    for call in (
        lambda: b.build(LIPNET),
        lambda: b.train(None),  # type: ignore[arg-type]
        lambda: b.export_onnx(model, tmp_path / "x.onnx"),
        lambda: b.save(model, tmp_path / "x.safetensors"),
        model.state_dict,
        lambda: model.load_state_dict({}),
    ):
        with pytest.raises(BackendError, match="torch or tensorflow"):
            call()


def test_cuda_is_not_requested_without_a_usable_provider(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(onnx_backend, "_PROVIDER_LIB", "no-such-provider-library.so")
    onnx_backend.cuda_usable.cache_clear()
    try:
        assert onnx_backend.cuda_usable() is False
        assert onnx_backend._providers("auto") == ["CPUExecutionProvider"]
        with pytest.raises(BackendError, match="onnx-gpu"):
            onnx_backend._providers("cuda")
    finally:
        onnx_backend.cuda_usable.cache_clear()
    assert capfd.readouterr().err == ""


def test_unknown_device(model_path: Path) -> None:
    with pytest.raises(BackendError, match="device"):
        onnx_backend.backend.load(model_path, device="tpu")  # type: ignore[arg-type]


def test_the_options_named_for_a_checkpoint_are_the_onnx_backends() -> None:
    """``load_model`` names them without loading this backend (a torch-only install has none)."""
    import inspect

    from lipread.onnx.runtime import OnnxBackend
    from lipread.transcription.loading import ONNX_OPTIONS

    assert set(inspect.signature(OnnxBackend.load).parameters) - {"self", "path"} == ONNX_OPTIONS
