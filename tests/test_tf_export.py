"""ONNX export from TensorFlow (tf2onnx): ONNX Runtime gives TensorFlow's log-probabilities on real clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from lipread.config import ConvBlock, get_preset  # noqa: E402
from lipread.onnx.metadata import INPUT_FRAMES, INPUT_LENGTHS, OUTPUT, parse_metadata  # noqa: E402
from lipread.video.preprocess import load_clip  # noqa: E402
from lipread_tf import backend  # noqa: E402

pytestmark = [pytest.mark.tensorflow, pytest.mark.onnx]

SMALL_LSTM = get_preset("lipnet-notebook").with_(
    name="small-lstm",
    frontend=(ConvBlock(8, (3, 3, 3)), ConvBlock(8, (3, 3, 3)), ConvBlock(8, (3, 3, 3))),
    rnn_hidden=16,
)
"""The notebook's layout (grey 46x140 crops, 2 x BiLSTM) with few channels, so it exports and runs fast."""


def padded_batch(grid_root: Path, config: object, cut: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Two real clips: ``bbaf2n`` whole, ``bwig1s`` cut to ``cut`` frames and zero-padded."""
    a = load_clip(grid_root / "s1" / "bbaf2n.mp4", config)  # type: ignore[arg-type]
    b = load_clip(grid_root / "s1" / "bwig1s.mp4", config)[:cut]  # type: ignore[arg-type]
    frames = np.zeros((2, len(a), *a.shape[1:]), np.float32)
    frames[0], frames[1, :cut] = a, b
    return frames, np.array([len(a), cut], np.int32)


@pytest.mark.parametrize("config", [get_preset("lipnet"), SMALL_LSTM], ids=["lipnet", "lstm"])
def test_onnxruntime_matches_tensorflow(config: object, grid_root: Path, tmp_path: Path) -> None:
    model = backend.build(config, seed=4)  # type: ignore[arg-type]
    path = backend.export_onnx(model, tmp_path / "model.onnx")

    proto = onnx.load(str(path))
    graph = proto.graph
    assert [i.name for i in graph.input] == [INPUT_FRAMES, INPUT_LENGTHS]
    assert [o.name for o in graph.output] == [OUTPUT]
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in (*graph.input, *graph.output)]
    c = model.config
    assert dims == [["batch", "time", c.height, c.width, c.channels], ["batch"], ["batch", "time", c.num_classes]]
    assert proto.opset_import[0].version == 17
    assert parse_metadata({p.key: p.value for p in proto.metadata_props}, str(path))["config"] == c

    frames, lengths = padded_batch(grid_root, c)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT], {INPUT_FRAMES: frames, INPUT_LENGTHS: lengths})[0]
    expected = model.logprobs(frames, lengths)
    for i, n in enumerate(lengths):
        assert np.abs(got[i, :n] - expected[i, :n]).max() <= 1e-4
    # Another batch size and clip length through the same graph.
    alone = session.run([OUTPUT], {INPUT_FRAMES: frames[1:, :50], INPUT_LENGTHS: lengths[1:]})[0]
    assert np.abs(alone[0] - expected[1, :50]).max() <= 1e-4


def test_export_keeps_checkpoint_metadata(tmp_path: Path) -> None:
    model = backend.build(SMALL_LSTM, seed=0)
    saved = backend.save(model, tmp_path / "m.safetensors", trained_on={"speakers": [1]}, metrics={"wer": 0.1})
    path = backend.export_onnx(backend.load(saved), tmp_path / "m.onnx")
    meta = parse_metadata({p.key: p.value for p in onnx.load(str(path)).metadata_props}, str(path))
    assert meta["trained_on"] == {"speakers": [1]} and meta["metrics"] == {"wer": 0.1}


def test_an_export_is_named_dot_onnx_and_takes_only_metadata(tmp_path: Path) -> None:
    from lipread.errors import ArgumentError

    model = backend.build(get_preset("lipnet").with_(rnn_hidden=8), seed=0)
    with pytest.raises(ArgumentError, match=r"model: an exported model's file name must end in \.onnx"):
        backend.export_onnx(model, tmp_path / "model")
    with pytest.raises(TypeError, match="opset"):
        backend.export_onnx(model, tmp_path / "model.onnx", opset=13)  # type: ignore[call-arg]
    assert list(tmp_path.iterdir()) == []
