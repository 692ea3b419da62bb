"""ONNX export from PyTorch: ONNX Runtime gives the same log-probabilities on real GRID clips, with dynamic
batch and time, and the model carries lipread's metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from lipread.cli import main  # noqa: E402
from lipread.config import get_preset  # noqa: E402
from lipread.onnx.metadata import INPUT_FRAMES, INPUT_LENGTHS, OUTPUT, parse_metadata  # noqa: E402
from lipread.video.preprocess import load_clip  # noqa: E402
from lipread_torch import backend  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.onnx, pytest.mark.slow]

CLIPS = ("bbaf2n", "bbaf3s", "bbaf4p")


def run_onnx(path: Path, frames: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run([OUTPUT], {INPUT_FRAMES: frames, INPUT_LENGTHS: lengths})[0]


# The notebook model's front end costs about 100 GMAC per 75 frames, so it is checked on shorter stretches.
@pytest.mark.parametrize(("preset", "long", "short"), [("lipnet", 75, 40), ("lipnet-notebook", 24, 14)])
def test_onnx_runtime_matches_torch_on_real_clips(
    preset: str, long: int, short: int, grid_root: Path, tmp_path: Path
) -> None:
    cfg = get_preset(preset)
    model = backend.build(cfg, seed=0)
    for name, t in model.module.state_dict().items():  # non-trivial BatchNorm statistics
        if name.endswith(("running_mean", "running_var")):
            t.copy_(torch.rand_like(t) + 0.5)
    path = backend.export_onnx(model, tmp_path / "m.onnx", trained_on={"data": "grid s1"}, metrics={"wer": 0.1})
    clips = np.stack([load_clip(grid_root / "s1" / f"{n}.mp4", cfg)[:75] for n in CLIPS])
    cases = [
        (clips[:1, :long], np.array([long], np.int32)),
        (clips[:, :short], np.array([short, short - 3, short - 7], np.int32)),
    ]
    for frames, lengths in cases:
        expected = model.logprobs(frames, lengths)
        got = run_onnx(path, frames, lengths)
        assert got.shape == expected.shape == (*frames.shape[:2], cfg.num_classes)
        valid = np.arange(frames.shape[1])[None, :] < lengths[:, None]
        assert np.abs(got - expected)[valid].max() <= 1e-4
    proto = onnx.load(str(path))
    meta = parse_metadata({p.key: p.value for p in proto.metadata_props}, str(path))
    assert meta["config"] == cfg and meta["trained_on"] == {"data": "grid s1"} and meta["metrics"] == {"wer": 0.1}
    inputs = {i.name: i for i in proto.graph.input}
    assert inputs[INPUT_LENGTHS].type.tensor_type.elem_type == onnx.TensorProto.INT32
    dims = inputs[INPUT_FRAMES].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims[:2]] == ["batch", "time"]
    assert [d.dim_value for d in dims[2:]] == [cfg.height, cfg.width, cfg.channels]


def test_export_command_keeps_checkpoint_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = get_preset("lipnet").with_(rnn_hidden=16, rnn_layers=1)
    model = backend.build(cfg, seed=1)
    ckpt = backend.save(model, tmp_path / "m.safetensors", trained_on={"speakers": [1]}, metrics={"cer": 0.2})
    assert main(["export", "--backend", "torch", str(ckpt), "-o", str(tmp_path / "m.onnx")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    meta = parse_metadata({p.key: p.value for p in proto.metadata_props}, "m.onnx")
    assert meta["trained_on"] == {"speakers": [1]} and meta["metrics"] == {"cer": 0.2}
    x = np.random.default_rng(0).standard_normal((2, 12, 50, 100, 3)).astype(np.float32)
    lengths = np.array([12, 12], np.int32)
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x, lengths), model.logprobs(x, lengths), atol=1e-4)
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    assert main(["export", str(tmp_path / "junk.safetensors"), "-o", str(tmp_path / "x.onnx")]) == 1
    assert "junk.safetensors" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_export_keeps_16_bit_weights_16_bit(tmp_path: Path) -> None:
    """Weights a checkpoint stores in 16 bits stay 16-bit in the exported model, which computes the same."""
    from lipread.weights import load_checkpoint, save_checkpoint

    cfg = get_preset("lipnet").with_(rnn_hidden=16, rnn_layers=1)
    model = backend.build(cfg, seed=2)
    model.load_state_dict({k: v + 0.01 if v.dtype == np.float32 else v for k, v in model.state_dict().items()})
    tensors = model.state_dict()  # no weight that 16 bits would hold by chance (zeros, ones)
    fixed = ["rnn.0.forward.weight_ih_l0", "rnn.0.backward.weight_ih_l0"]
    ckpt = save_checkpoint(tmp_path / "fixed.safetensors", tensors, cfg, fixed16=fixed)
    save_checkpoint(tmp_path / "plain.safetensors", load_checkpoint(ckpt).tensors, cfg)  # same values
    for name in ("fixed", "plain"):
        assert main(["export", str(tmp_path / f"{name}.safetensors"), "-o", str(tmp_path / f"{name}.onnx")]) == 0
    stored = {i.name: i for i in onnx.load(str(tmp_path / "fixed.onnx")).graph.initializer}
    int16 = [list(i.dims) for i in stored.values() if i.data_type == onnx.TensorProto.INT16]
    assert int16 == [[1, 48, cfg.feature_size]] * 2  # the GRUs' input weights (gates reordered for ONNX)
    # a float32 checkpoint whose weights are fixed point gives the very same file
    assert (tmp_path / "plain.onnx").read_bytes() == (tmp_path / "fixed.onnx").read_bytes()
    ordinary = backend.export_onnx(model, tmp_path / "ordinary.onnx")
    halved = sum(tensors[k].nbytes // 2 for k in fixed)
    assert ordinary.stat().st_size - (tmp_path / "fixed.onnx").stat().st_size >= 0.95 * halved
    x = np.random.default_rng(0).standard_normal((2, 12, 50, 100, 3)).astype(np.float32)
    lengths = np.array([12, 9], np.int32)
    loaded = backend.load(ckpt)
    expected = loaded.logprobs(x, lengths)
    got = run_onnx(tmp_path / "fixed.onnx", x, lengths)
    valid = np.arange(12)[None, :] < lengths[:, None]
    assert np.abs(got - expected)[valid].max() <= 1e-4


def test_an_export_is_named_dot_onnx(tmp_path: Path) -> None:
    from lipread.errors import ArgumentError

    model = backend.build(get_preset("lipnet").with_(rnn_hidden=8), seed=0)
    for name in ("model", "model.safetensors"):
        with pytest.raises(ArgumentError, match=rf"{name}: an exported model's file name must end in \.onnx"):
            backend.export_onnx(model, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
