"""Faster OCR sessions: RapidOCR's detector and recogniser with their hard-swish activations in two operators
instead of four.

The models (PP-OCRv4, exported for ONNX opset 12, which has no HardSwish) compute hard-swish as
`x * Clip(x + 3, 0, 6) / 6`: four passes over every activation tensor, and on one core the recogniser spends about
a third of its time in such element-wise passes. `HardSigmoid(alpha=1/6, beta=1/2)` is `Clip(x + 3, 0, 6) / 6` in
one pass (opset 6), so `x * HardSigmoid(x)` computes the same function in two. Outputs change only by float
rounding (about 1e-6 on probabilities); nothing else in the graph is touched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper


def fuse_hard_swish(model: onnx.ModelProto) -> int:
    """Rewrite every `Add(x, 3) -> Clip(0, 6) -> Mul(x, .) -> Div(6)` chain in place; returns how many."""
    graph = model.graph
    constants = _constants(graph)
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    replaced: dict[int, list[onnx.NodeProto]] = {}
    dropped: set[int] = set()
    for node in graph.node:
        chain = _chain(node, constants, consumers)
        if chain is None:
            continue
        clip, mul, div = chain
        x, gate = node.input[0], node.output[0] + "_hard_sigmoid"
        replaced[id(node)] = [helper.make_node("HardSigmoid", [x], [gate], alpha=1 / 6, beta=0.5),
                              helper.make_node("Mul", [x, gate], [div.output[0]])]
        dropped |= {id(clip), id(mul), id(div)}
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        nodes += replaced.get(id(node), [] if id(node) in dropped else [node])
    del graph.node[:]
    graph.node.extend(nodes)
    return len(replaced)


def _chain(node: onnx.NodeProto, constants: dict[str, np.ndarray],
           consumers: dict[str, list[onnx.NodeProto]]) -> tuple[onnx.NodeProto, ...] | None:
    """The Clip, Mul and Div of a hard-swish starting at `node`, each the only user of what it reads."""
    if node.op_type != "Add" or _scalar(constants, node.input[1]) != 3.0:
        return None
    x = node.input[0]
    clip = _only_user(node, consumers, "Clip")
    if clip is None or len(clip.input) != 3:
        return None
    if _scalar(constants, clip.input[1]) != 0.0 or _scalar(constants, clip.input[2]) != 6.0:
        return None
    mul = _only_user(clip, consumers, "Mul")
    if mul is None or sorted(mul.input) != sorted([x, clip.output[0]]):
        return None
    div = _only_user(mul, consumers, "Div")
    if div is None or _scalar(constants, div.input[1]) != 6.0:
        return None
    return clip, mul, div


def _only_user(node: onnx.NodeProto, consumers: dict[str, list[onnx.NodeProto]], op_type: str) -> onnx.NodeProto | None:
    users = consumers.get(node.output[0], [])
    return users[0] if len(users) == 1 and users[0].op_type == op_type else None


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    found = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            found[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return found


def _scalar(constants: dict[str, np.ndarray], name: str) -> float | None:
    value = constants.get(name)
    return None if value is None or value.size != 1 else float(value.reshape(()))


def fused_session(session: Any) -> ort.InferenceSession:
    """A new session for `session`'s model (RapidOCR's), hard-swish fused, one thread, same CPU provider."""
    model = onnx.load(session._model_path)
    fuse_hard_swish(model)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"])
