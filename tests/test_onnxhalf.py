"""Storing an ONNX model's weights at half precision keeps its outputs and metadata, and halves its size."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from tiny_onnx import write_tiny_model  # noqa: E402

from lipread.fixed16 import from_fixed16, to_fixed16  # noqa: E402
from lipread.onnx.half import store_exact_16_bit, store_weights_fixed16, store_weights_fp16  # noqa: E402
from lipread.onnx.metadata import parse_metadata  # noqa: E402


def _run(path, frames, lengths):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"frames": frames, "lengths": lengths})[0]


def test_fp16_weights_keep_outputs_and_metadata(tmp_path):
    full = write_tiny_model(tmp_path / "full.onnx")
    half = store_weights_fp16(full, tmp_path / "half.onnx")
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((2, 9, 50, 100, 3)).astype(np.float32)
    lengths = np.array([9, 6], np.int32)
    a, b = _run(full, frames, lengths), _run(half, frames, lengths)
    assert a.dtype == b.dtype == np.float32
    assert np.abs(a - b).max() < 2e-2  # weights rounded to ~3 significant digits
    assert not np.array_equal(a, b)  # the weights really were rounded

    model = onnx.load(str(half))
    props = {p.key: p.value for p in model.metadata_props}
    assert parse_metadata(props, "half.onnx")["config"].name == "lipnet"
    stored = {i.name: i.data_type for i in model.graph.initializer}
    assert stored["weight__fp16"] == onnx.TensorProto.FLOAT16
    assert "weight" not in stored


def test_fp16_weights_halve_the_file(tmp_path):
    full = write_tiny_model(tmp_path / "full.onnx")
    half = store_weights_fp16(full, tmp_path / "half.onnx")
    weight_bytes = 100 * 3 * 28 * 4
    assert full.stat().st_size - half.stat().st_size >= weight_bytes // 2 - 64


def test_in_place(tmp_path):
    path = write_tiny_model(tmp_path / "m.onnx")
    before = path.stat().st_size
    store_weights_fp16(path, path)
    assert path.stat().st_size < before
    onnx.checker.check_model(onnx.load(str(path)))


def _round_initializer(path, name, rounding=lambda w: w.astype(np.float16).astype(np.float32)):
    """Rewrite ``name``'s values in the ONNX file ``path`` by ``rounding`` (default: to the nearest float16
    ones), stored float32."""
    from onnx import numpy_helper

    model = onnx.load(str(path))
    for init in model.graph.initializer:
        if init.name == name:
            init.CopyFrom(numpy_helper.from_array(rounding(numpy_helper.to_array(init)), name))
    onnx.save(model, str(path))


def test_exact_only_stores_just_what_float16_holds_exactly(tmp_path):
    full = write_tiny_model(tmp_path / "full.onnx")
    untouched = store_weights_fp16(full, tmp_path / "untouched.onnx", exact_only=True)
    assert not any(i.name.endswith("__fp16") for i in onnx.load(str(untouched)).graph.initializer)

    _round_initializer(full, "weight")
    half = store_weights_fp16(full, tmp_path / "half.onnx", exact_only=True)
    stored = {i.name: i.data_type for i in onnx.load(str(half)).graph.initializer}
    assert stored["weight__fp16"] == onnx.TensorProto.FLOAT16
    assert half.stat().st_size < full.stat().st_size
    rng = np.random.default_rng(1)
    frames = rng.standard_normal((1, 7, 50, 100, 3)).astype(np.float32)
    lengths = np.array([7], np.int32)
    np.testing.assert_array_equal(_run(full, frames, lengths), _run(half, frames, lengths))


def test_fixed16_stores_just_the_fixed_point_weights_and_changes_no_output(tmp_path):
    full = write_tiny_model(tmp_path / "full.onnx")
    untouched = store_weights_fixed16(full, tmp_path / "untouched.onnx")
    assert not any(i.name.endswith("__int16") for i in onnx.load(str(untouched)).graph.initializer)

    # fixed point per column (the export's layout need not be the checkpoint's)
    _round_initializer(full, "weight", lambda w: from_fixed16(*to_fixed16(w, axis=1), axis=1))
    fixed = store_weights_fixed16(full, tmp_path / "fixed.onnx")
    stored = {i.name: i for i in onnx.load(str(fixed)).graph.initializer}
    assert stored["weight__int16"].data_type == onnx.TensorProto.INT16
    assert list(stored["weight__scale"].dims) == [1, list(stored["weight__int16"].dims)[1]]
    assert "weight" not in stored and "bias" in stored
    assert fixed.stat().st_size < 0.7 * full.stat().st_size
    props = {p.key: p.value for p in onnx.load(str(fixed)).metadata_props}
    assert parse_metadata(props, "fixed.onnx")["config"].name == "lipnet"
    rng = np.random.default_rng(2)
    frames = rng.standard_normal((2, 7, 50, 100, 3)).astype(np.float32)
    lengths = np.array([7, 5], np.int32)
    np.testing.assert_array_equal(_run(full, frames, lengths), _run(fixed, frames, lengths))


def test_exact_16_bit_stores_each_weight_the_smaller_exact_way(tmp_path):
    full = write_tiny_model(tmp_path / "full.onnx")
    _round_initializer(full, "weight", lambda w: from_fixed16(*to_fixed16(w, axis=1), axis=1))
    _round_initializer(full, "bias")  # float16 values: also fixed point, but with one scale per value
    fixed_only = store_weights_fixed16(full, tmp_path / "fixed_only.onnx")
    assert "bias" in {i.name for i in onnx.load(str(fixed_only)).graph.initializer}  # would not shrink
    both = store_exact_16_bit(full, tmp_path / "both.onnx")
    stored = {i.name: i.data_type for i in onnx.load(str(both)).graph.initializer}
    assert stored["weight__int16"] == onnx.TensorProto.INT16
    assert stored["bias__fp16"] == onnx.TensorProto.FLOAT16
    assert "weight" not in stored and "bias" not in stored
    rng = np.random.default_rng(3)
    frames = rng.standard_normal((2, 7, 50, 100, 3)).astype(np.float32)
    lengths = np.array([7, 4], np.int32)
    np.testing.assert_array_equal(_run(full, frames, lengths), _run(both, frames, lengths))

    # held exactly both ways (fixed-point values with few enough bits): float16, which needs no scales
    _round_initializer(full, "weight")
    stored = {i.name for i in onnx.load(str(store_exact_16_bit(full, tmp_path / "both2.onnx"))).graph.initializer}
    assert "weight__fp16" in stored and "weight__int16" not in stored
