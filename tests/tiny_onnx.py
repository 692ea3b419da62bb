"""A tiny ONNX model with lipread's input/output contract and metadata, built without any framework.

``logprobs = log_softmax(z - mean_t(z))`` with ``z = mean_H(frames).reshape(B, T, W*C) @ weight + bias`` and
the time mean taken over each clip's valid frames only, so the output depends on ``lengths`` the way a real
bidirectional model's does (padding must not change a clip's result).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lipread.config import LIPNET, ModelConfig
from lipread.onnx.metadata import INPUT_FRAMES, INPUT_LENGTHS, OUTPUT, metadata_props


def tiny_model(
    config: ModelConfig = LIPNET, seed: int = 0, metadata: bool = True, output: str = OUTPUT
) -> onnx.ModelProto:
    """The model proto (see the module docstring); ``metadata=False`` leaves out lipread's metadata."""
    rng = np.random.default_rng(seed)
    features = config.width * config.channels
    weight = (rng.standard_normal((features, config.num_classes)) * 3.0).astype(np.float32)
    bias = rng.standard_normal(config.num_classes).astype(np.float32)
    bias[0] += 2.0  # mostly blanks, like a trained CTC model
    init = [
        numpy_helper.from_array(weight, "weight"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(np.array([0, 0, -1], np.int64), "flat_shape"),
        numpy_helper.from_array(np.array(1, np.int64), "one"),
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([-1], np.int64), "axis_last"),
    ]
    nodes = [
        helper.make_node("ReduceMean", [INPUT_FRAMES], ["rows"], axes=[2], keepdims=0),
        helper.make_node("Reshape", ["rows", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "weight"], ["proj"]),
        helper.make_node("Add", ["proj", "bias"], ["z"]),
        helper.make_node("Shape", [INPUT_FRAMES], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["steps"], axis=0),
        helper.make_node("Range", ["zero", "steps", "one"], ["t"]),
        helper.make_node("Cast", [INPUT_LENGTHS], ["len64"], to=TensorProto.INT64),
        helper.make_node("Unsqueeze", ["len64", "axis1"], ["len_col"]),
        helper.make_node("Less", ["t", "len_col"], ["valid"]),
        helper.make_node("Cast", ["valid"], ["mask2"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask2", "axis_last"], ["mask"]),
        helper.make_node("Mul", ["z", "mask"], ["zm"]),
        helper.make_node("ReduceSum", ["zm", "axis1"], ["zsum"], keepdims=1),
        helper.make_node("ReduceSum", ["mask", "axis1"], ["count"], keepdims=1),
        helper.make_node("Div", ["zsum", "count"], ["zmean"]),
        helper.make_node("Sub", ["z", "zmean"], ["centred"]),
        helper.make_node("LogSoftmax", ["centred"], [output], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_lipnet",
        [
            helper.make_tensor_value_info(
                INPUT_FRAMES, TensorProto.FLOAT, ["B", "T", config.height, config.width, config.channels]
            ),
            helper.make_tensor_value_info(INPUT_LENGTHS, TensorProto.INT32, ["B"]),
        ],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["B", "T", config.num_classes])],
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    if metadata:
        helper.set_model_props(model, metadata_props(config, trained_on={"data": "none"}, metrics={"wer": 1.0}))
    onnx.checker.check_model(model)
    return model


def write_tiny_model(path: Path, **kwargs: object) -> Path:
    """Save :func:`tiny_model` to ``path``."""
    onnx.save(tiny_model(**kwargs), str(path))  # type: ignore[arg-type]
    return path


def reference_logprobs(frames: np.ndarray, length: int, config: ModelConfig = LIPNET, seed: int = 0) -> np.ndarray:
    """What the tiny model computes for one clip ``float32 (T, H, W, C)``, in NumPy: ``(length, V)``."""
    model = tiny_model(config, seed)
    arrays = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    x = frames[:length].mean(axis=1).reshape(length, -1)
    z = x @ arrays["weight"] + arrays["bias"]
    z = z - z.mean(axis=0, keepdims=True)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
