"""Faster 3D convolutions in exported ONNX models: each one computed as a 2D convolution per frame.

A 3D convolution with temporal stride 1 over ``(B, C, T, H, W)`` equals, at every output frame, a 2D
convolution of the ``kt`` input frames it covers stacked along the channels (``kt * C`` channels) with the
kernel's ``kt`` slices stacked the same way. ONNX Runtime runs 2D convolutions through its blocked-layout
(NCHWc) kernels, which it has no 3D counterpart of: for the ``lipnet`` preset on a CPU the whole model runs
about 1.25x faster (``benchmarks/inference.py``), with the same outputs up to float32 rounding.

:func:`framewise_convolutions` rewrites every such ``Conv`` node of a model in place: its input is moved to
``(B, T, C, H, W)``, padded in time, gathered into ``(B * T', kt * C, H, W)`` frame stacks and convolved in
2D; a following ``Relu`` and a ``MaxPool`` that pools within frames are applied in that layout too; the
result goes back to ``(B, O, T', H', W')``. ONNX Runtime's layout optimiser then removes the transposes
between consecutive blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["framewise_convolutions"]


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _auto_pad(attrs: dict[str, Any]) -> str:
    """A node's ``auto_pad`` attribute as text (``"NOTSET"`` when absent)."""
    value = attrs.get("auto_pad", b"NOTSET")
    return value.decode() if isinstance(value, bytes) else str(value)


def _same_pads(auto_pad: str, kernel: int) -> tuple[int, int]:
    """Begin and end padding of one axis with stride 1 under ``SAME_UPPER`` / ``SAME_LOWER``."""
    total = kernel - 1
    small, large = total // 2, total - total // 2
    return (small, large) if auto_pad == "SAME_UPPER" else (large, small)


def _temporal_pads(attrs: dict[str, Any], kernel: int) -> tuple[int, int] | None:
    """The time axis's begin and end padding, or None for a padding mode this rewrite does not handle."""
    auto_pad = _auto_pad(attrs)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return _same_pads(auto_pad, kernel)
    if auto_pad == "VALID":
        return 0, 0
    if auto_pad != "NOTSET":
        return None
    pads = attrs.get("pads", [0] * 6)
    return int(pads[0]), int(pads[3])


def _rewrite_pads(node: Any, weights: dict[str, Any]) -> tuple[int, int] | None:
    """The time axis's begin and end padding of a 3D ``Conv`` this rewrite handles (constant weight,
    temporal stride 1, no dilation, one group, a padding mode it knows); None for any other node."""
    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in weights:
        return None
    if len(weights[node.input[1]].dims) != 5:
        return None
    a = _attrs(node)
    if (
        int(a.get("strides", [1, 1, 1])[0]) != 1
        or any(d != 1 for d in a.get("dilations", [1, 1, 1]))
        or a.get("group", 1) != 1
    ):
        return None
    return _temporal_pads(a, int(weights[node.input[1]].dims[2]))


def _pool_within_frames(node: Any) -> dict[str, Any] | None:
    """The 2D attributes of a ``MaxPool`` that pools within frames (kernel, stride 1 and no padding in time)."""
    a = _attrs(node)
    kernel = list(a.get("kernel_shape", []))
    strides = list(a.get("strides", [1] * len(kernel)))
    pads = list(a.get("pads", [0] * 2 * len(kernel)))
    auto_pad = _auto_pad(a)
    if len(node.output) != 1 or len(kernel) != 3 or kernel[0] != 1 or strides[0] != 1:
        return None
    if auto_pad != "NOTSET" or pads[0] != 0 or pads[3] != 0 or a.get("ceil_mode", 0) or a.get("dilations"):
        return None
    return {"kernel_shape": kernel[1:], "strides": strides[1:], "pads": [pads[1], pads[2], pads[4], pads[5]]}


def framewise_convolutions(model: Any) -> int:
    """Rewrite every 3D convolution of the ONNX ``model`` (a ``ModelProto``, changed in place) that has
    temporal stride 1 as per-frame 2D convolutions (see the module's description).

    Returns:
        How many convolutions were rewritten.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    graph_outputs = {o.name for o in graph.output}
    new_inits: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        new_inits.append(numpy_helper.from_array(value, name))
        return name

    absorbed: set[int] = set()
    nodes: list[Any] = []
    count = 0
    for index, node in enumerate(graph.node):
        if id(node) in absorbed:
            continue
        time_pads = _rewrite_pads(node, weights)
        if time_pads is None:
            nodes.append(node)
            continue
        count += 1
        a = _attrs(node)
        w = numpy_helper.to_array(weights[node.input[1]])
        out_ch, in_ch, kt, kh, kw = w.shape
        begin, end = time_pads
        p = f"lipread_framewise{index}"
        i64 = np.int64
        conv2d: dict[str, Any] = {"kernel_shape": [kh, kw], "strides": list(a.get("strides", [1, 1, 1]))[1:]}
        auto_pad = _auto_pad(a)
        if auto_pad == "NOTSET":
            pads = list(a.get("pads", [0] * 6))
            conv2d["pads"] = [pads[1], pads[2], pads[4], pads[5]]
        else:
            conv2d["auto_pad"] = auto_pad
        stacked_w = np.ascontiguousarray(w.transpose(0, 2, 1, 3, 4).reshape(out_ch, kt * in_ch, kh, kw))
        bias = list(node.input[2:3])
        new = [
            # (B, C, T, H, W) -> (B, T + begin + end, C, H, W)
            helper.make_node("Transpose", [node.input[0]], [f"{p}_btchw"], perm=[0, 2, 1, 3, 4]),
            helper.make_node(
                "Pad",
                [f"{p}_btchw", const(f"{p}_pads", np.array([0, begin, 0, 0, 0, 0, end, 0, 0, 0], i64))],
                [f"{p}_padded"],
            ),
            # Output frame t covers padded frames t .. t + kt - 1: indices (T', kt).
            helper.make_node("Shape", [f"{p}_padded"], [f"{p}_tp"], start=1, end=2),
            helper.make_node("Sub", [f"{p}_tp", const(f"{p}_kt1", np.array([kt - 1], i64))], [f"{p}_tout"]),
            helper.make_node("Squeeze", [f"{p}_tout"], [f"{p}_tout0"]),
            helper.make_node(
                "Range",
                [const(f"{p}_zero", np.array(0, i64)), f"{p}_tout0", const(f"{p}_one", np.array(1, i64))],
                [f"{p}_t"],
            ),
            helper.make_node("Unsqueeze", [f"{p}_t", const(f"{p}_axis1", np.array([1], i64))], [f"{p}_t1"]),
            helper.make_node("Add", [f"{p}_t1", const(f"{p}_dt", np.arange(kt, dtype=i64)[None, :])], [f"{p}_idx"]),
            # (B, T', kt, C, H, W) -> (B * T', kt * C, H, W)
            helper.make_node("Gather", [f"{p}_padded", f"{p}_idx"], [f"{p}_stacks"], axis=1),
            helper.make_node("Shape", [f"{p}_stacks"], [f"{p}_hw"], start=4),
            helper.make_node(
                "Concat", [const(f"{p}_lead", np.array([-1, kt * in_ch], i64)), f"{p}_hw"], [f"{p}_shape4"], axis=0
            ),
            helper.make_node("Reshape", [f"{p}_stacks", f"{p}_shape4"], [f"{p}_frames"]),
            helper.make_node(
                "Conv", [f"{p}_frames", const(f"{p}_w", stacked_w), *bias], [f"{p}_conv"], name=node.name, **conv2d
            ),
        ]
        current, output = f"{p}_conv", node.output[0]
        while output not in graph_outputs and len(consumers.get(output, [])) == 1:
            nxt = consumers[output][0]
            if nxt.op_type == "Relu":
                new.append(helper.make_node("Relu", [current], [f"{current}_relu"], name=nxt.name))
                current = f"{current}_relu"
            elif nxt.op_type == "MaxPool" and (pool := _pool_within_frames(nxt)) is not None:
                new.append(helper.make_node("MaxPool", [current], [f"{current}_pool"], name=nxt.name, **pool))
                current = f"{current}_pool"
            else:
                break
            absorbed.add(id(nxt))
            output = nxt.output[0]
        new += [
            # (B * T', O, H', W') -> (B, T', O, H', W') -> (B, O, T', H', W')
            helper.make_node("Shape", [f"{p}_stacks"], [f"{p}_bt"], start=0, end=2),
            helper.make_node("Shape", [current], [f"{p}_ohw"], start=1),
            helper.make_node("Concat", [f"{p}_bt", f"{p}_ohw"], [f"{p}_shape5"], axis=0),
            helper.make_node("Reshape", [current, f"{p}_shape5"], [f"{p}_btohw"]),
            helper.make_node("Transpose", [f"{p}_btohw"], [output], perm=[0, 2, 1, 3, 4]),
        ]
        nodes += new
    if not count:
        return 0
    del graph.node[:]
    graph.node.extend(nodes)
    produced = {name for node in graph.node for name in node.output}
    stale = [v for v in graph.value_info if v.name not in produced]  # shapes of tensors that are gone
    for v in stale:
        graph.value_info.remove(v)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    return count
