"""Per-frame 2D convolutions (:mod:`lipread.onnx.convolutions`): the rewritten graph computes what the 3D one did."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from lipread.onnx.convolutions import framewise_convolutions  # noqa: E402


def _model(conv: dict[str, Any], after: list[tuple[str, dict[str, Any]]], in_ch: int = 3, out_ch: int = 4) -> Any:
    """``x (B, C, T, 9, 10)`` -> Conv(**conv) -> each of ``after`` (op type, attributes) in turn -> ``y``."""
    rng = np.random.default_rng(0)
    kernel = conv["kernel_shape"]
    group = conv.get("group", 1)
    weight = rng.standard_normal((out_ch, in_ch // group, *kernel)).astype(np.float32)
    bias = rng.standard_normal(out_ch).astype(np.float32)
    inits = [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", **conv)]
    last = "c"
    for i, (op, attrs) in enumerate(after):
        nodes.append(helper.make_node(op, [last], [f"a{i}"], **attrs))
        last = f"a{i}"
    nodes.append(helper.make_node("Identity", [last], ["y"]))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", in_ch, "T", 9, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", out_ch, "t", "h", "w"])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: Any, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _check(model: Any, rewritten: int, in_ch: int = 3) -> None:
    reference = onnx.ModelProto()
    reference.CopyFrom(model)
    assert framewise_convolutions(model) == rewritten
    onnx.checker.check_model(model)
    rng = np.random.default_rng(1)
    for batch, frames in ((1, 7), (3, 4)):  # batch and time are dynamic
        x = rng.standard_normal((batch, in_ch, frames, 9, 10)).astype(np.float32)
        expected = _run(reference, x)
        got = _run(model, x)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


POOL = ("MaxPool", {"kernel_shape": [1, 2, 2], "strides": [1, 2, 2]})


@pytest.mark.parametrize(
    "conv",
    [
        {"kernel_shape": [3, 5, 5], "pads": [1, 2, 2, 1, 2, 2]},  # the lipnet preset's blocks
        {"kernel_shape": [3, 5, 5], "pads": [1, 2, 2, 1, 2, 2], "strides": [1, 2, 2]},
        {"kernel_shape": [3, 3, 3], "pads": [2, 0, 1, 0, 1, 0]},  # uneven padding, longer output
        {"kernel_shape": [2, 3, 3], "auto_pad": "SAME_UPPER"},
        {"kernel_shape": [2, 3, 3], "auto_pad": "SAME_LOWER"},
        {"kernel_shape": [3, 3, 3], "auto_pad": "SAME_UPPER", "strides": [1, 2, 2]},  # as tf2onnx writes them
        {"kernel_shape": [3, 3, 3], "auto_pad": "VALID"},
        {"kernel_shape": [1, 3, 3]},
    ],
)
@pytest.mark.parametrize("after", [[], [("Relu", {}), POOL], [("Relu", {}), POOL, ("Relu", {})]])
def test_rewritten_convolutions_compute_the_same(conv: dict[str, Any], after: list[tuple[str, dict[str, Any]]]) -> None:
    _check(_model(conv, after), rewritten=1)


def test_relu_and_pooling_within_frames_move_into_the_frame_layout() -> None:
    model = _model({"kernel_shape": [3, 3, 3], "pads": [1] * 6}, [("Relu", {}), POOL])
    framewise_convolutions(model)
    consumer = {i: n for n in model.graph.node for i in n.input}
    (conv,) = [n for n in model.graph.node if n.op_type == "Conv"]
    relu = consumer[conv.output[0]]
    pool = consumer[relu.output[0]]
    assert relu.op_type == "Relu" and pool.op_type == "MaxPool"
    assert [helper.get_attribute_value(a) for a in pool.attribute if a.name == "kernel_shape"] == [[2, 2]]
    assert consumer[pool.output[0]].op_type == "Reshape"  # back to (B, T, C, H, W) only after pooling


@pytest.mark.parametrize(
    "after",
    [
        [("MaxPool", {"kernel_shape": [2, 2, 2], "strides": [1, 2, 2]})],  # pools across frames: stays 3D
        [("Sigmoid", {}), POOL],
    ],
)
def test_other_operations_stay_after_the_convolution(after: list[tuple[str, dict[str, Any]]]) -> None:
    _check(_model({"kernel_shape": [3, 3, 3], "pads": [1] * 6}, after), rewritten=1)


@pytest.mark.parametrize(
    "conv",
    [
        {"kernel_shape": [3, 3, 3], "pads": [1] * 6, "strides": [2, 1, 1]},  # strided in time
        {"kernel_shape": [3, 3, 3], "pads": [1] * 6, "dilations": [2, 1, 1]},
        {"kernel_shape": [3, 3, 3], "pads": [1] * 6, "group": 2},
        {"kernel_shape": [3, 3], "pads": [1] * 4},  # already 2D
    ],
)
def test_other_convolutions_are_left_alone(conv: dict[str, Any]) -> None:
    in_ch = 4
    if len(conv["kernel_shape"]) == 2:
        model = _model(conv, [], in_ch=in_ch)
        model.graph.input[0].type.tensor_type.shape.dim.pop()  # (B, C, T, 9) read as (B, C, H, W)
        before = model.SerializeToString()
        assert framewise_convolutions(model) == 0
        assert model.SerializeToString() == before
        return
    model = _model(conv, [], in_ch=in_ch)
    before = model.SerializeToString()
    assert framewise_convolutions(model) == 0
    assert model.SerializeToString() == before
