"""Graph rewrites applied at export, where ONNX Runtime's own optimiser does not see the pattern.

The dynamo exporter writes some PyTorch ops as chains of element-wise ops that ONNX Runtime runs one
pass over memory at a time, where PyTorch runs one fused kernel:

- GELU (erf form) as Div(x, sqrt 2) -> Erf -> Add 1 -> Mul 0.5 -> Mul x, an order ONNX Runtime's
  GeluFusion does not match: rewritten to one `com.microsoft.Gelu`, which ONNX Runtime then fuses
  with a preceding bias Add (BiasGelu) by itself;
- GroupNorm with one channel per group (the first convolution of a WavLM Base-style front end) as
  Reshape -> InstanceNormalization(1, 0) -> Reshape -> Mul gamma -> Add beta: rewritten to one
  InstanceNormalization with gamma and beta as its scale and bias (the same computation).

Every rewrite keeps the parameters' initializers under their own names, so merit.finetune reads a
rewritten file's weights back as before. Only activations' node wiring changes; nothing is
re-computed offline, so the file stays as small as before (int8-packed weights stay packed).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

MS_DOMAIN = "com.microsoft"
# Constants of the GELU chain must match to this relative tolerance (sqrt 2 is stored as float32).
CONSTANT_TOLERANCE = 1e-6


class _Graph:
    """Producers, consumers and constant values of a graph's tensors."""

    def __init__(self, graph: onnx.GraphProto):
        self.graph = graph
        self.producer = {out: node for node in graph.node for out in node.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.initializers = {init.name: init for init in graph.initializer}
        self.outputs = {out.name for out in graph.output}

    def constant(self, name: str) -> np.ndarray | None:
        """The value of a tensor fixed when the graph is built: an initializer, a Constant node, or
        CastLike / Cast / Reshape / Unsqueeze / Identity of one (as the exporter wraps scalars)."""
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        node = self.producer.get(name)
        if node is None:
            return None
        if node.op_type == "Constant":
            attribute = node.attribute[0]
            if attribute.name == "value":
                return numpy_helper.to_array(attribute.t)
            if attribute.name in ("value_float", "value_int"):
                return np.array(helper.get_attribute_value(attribute))
            if attribute.name in ("value_floats", "value_ints"):
                return np.array(helper.get_attribute_value(attribute))
            return None
        if node.op_type in ("CastLike", "Cast", "Identity"):
            return self.constant(node.input[0])
        return None

    def is_scalar(self, name: str, value: float) -> bool:
        constant = self.constant(name)
        return (
            constant is not None
            and constant.size == 1
            and math.isclose(float(constant.reshape(())), value, rel_tol=CONSTANT_TOLERANCE)
        )

    def next_op(self, node: onnx.NodeProto, op_type: str) -> onnx.NodeProto | None:
        """The one node that reads `node`'s first output, if it is an `op_type` (a CastLike taking
        only its type does not count: the exporter writes those beside most ops, and they die with
        the rewritten chain)."""
        name = node.output[0]
        users = [user for user in self.consumers.get(name, []) if not (user.op_type == "CastLike" and user.input[0] != name)]
        sole = users[0] if len(users) == 1 and name not in self.outputs else None
        return sole if sole is not None and sole.op_type == op_type else None

    def other_input(self, node: onnx.NodeProto, known: str) -> str | None:
        if len(node.input) != 2 or known not in node.input:
            return None
        return node.input[1] if node.input[0] == known else node.input[0]

    def parameter_behind(self, name: str) -> str | None:
        """The initializer a broadcast parameter came from: the exporter reshapes a GroupNorm's
        gamma (C,) to (C, 1) by Unsqueeze and CastLike."""
        while name not in self.initializers:
            node = self.producer.get(name)
            if node is None or node.op_type not in ("CastLike", "Unsqueeze", "Reshape", "Identity", "Cast"):
                return None
            name = node.input[0]
        return name


Rewrite = tuple[tuple[onnx.NodeProto, ...], onnx.NodeProto, onnx.NodeProto]
"""A matched chain: the nodes that go, the chain's last node, and the node that takes its place."""


def _rewrite(graph: onnx.GraphProto, match: Callable[[_Graph, onnx.NodeProto], Rewrite | None]) -> int:
    """Applies `match` at every node of `graph` (as it was before any rewrite) and replaces each
    chain it finds; returns how many."""
    view = _Graph(graph)
    replaced: dict[int, onnx.NodeProto] = {}
    removed: set[int] = set()
    count = 0
    for node in graph.node:
        found = match(view, node)
        if found is not None:
            gone, last, replacement = found
            removed.update(id(n) for n in gone)
            replaced[id(last)] = replacement
            count += 1
    _rebuild(graph, replaced, removed)
    return count


def fuse_gelu(graph: onnx.GraphProto) -> int:
    """Rewrites x * (0.5 * (1 + erf(x / sqrt 2))) (in any operand order) to com.microsoft.Gelu."""
    return _rewrite(graph, _gelu_from)


def _gelu_from(view: _Graph, div: onnx.NodeProto) -> Rewrite | None:
    if div.op_type != "Div" or not view.is_scalar(div.input[1], math.sqrt(2.0)):
        return None
    x = div.input[0]
    erf = view.next_op(div, "Erf")
    add = erf and view.next_op(erf, "Add")
    if add is None or not view.is_scalar(view.other_input(add, erf.output[0]) or "", 1.0):
        return None
    first = view.next_op(add, "Mul")
    second = first and view.next_op(first, "Mul")
    if second is None:
        return None
    # Either (add * 0.5) * x or (add * x) * 0.5.
    first_other = view.other_input(first, add.output[0])
    second_other = view.other_input(second, first.output[0])
    if not ((view.is_scalar(first_other or "", 0.5) and second_other == x) or (first_other == x and view.is_scalar(second_other or "", 0.5))):
        return None
    gelu = helper.make_node("Gelu", [x], [second.output[0]], name=f"{second.name}/Gelu", domain=MS_DOMAIN)
    return (div, erf, add, first), second, gelu


def fold_group_norm_affine(graph: onnx.GraphProto) -> int:
    """Rewrites GroupNorm(C groups, C channels) = Reshape -> InstanceNormalization(ones, zeros) ->
    Reshape -> Mul gamma -> Add beta into InstanceNormalization(x, gamma, beta)."""
    return _rewrite(graph, _group_norm_affine_from)


def _group_norm_affine_from(view: _Graph, norm: onnx.NodeProto) -> Rewrite | None:
    if norm.op_type != "InstanceNormalization":
        return None
    into = view.producer.get(norm.input[0])
    out = view.next_op(norm, "Reshape")
    if into is None or into.op_type != "Reshape" or out is None:
        return None
    shape = view.producer.get(out.input[1])
    x = into.input[0]
    whole_shape = shape is not None and all(a.name == "start" and a.i == 0 for a in shape.attribute)
    if shape is None or shape.op_type != "Shape" or shape.input[0] != x or not whole_shape:
        return None
    scale, bias = (view.producer.get(name) for name in norm.input[1:3])
    if not all(node is not None and node.op_type == "Expand" for node in (scale, bias)):
        return None
    if not (view.is_scalar(scale.input[0], 1.0) and view.is_scalar(bias.input[0], 0.0)):
        return None
    mul = view.next_op(out, "Mul")
    add = mul and view.next_op(mul, "Add")
    if add is None:
        return None
    gamma = view.parameter_behind(view.other_input(mul, out.output[0]) or "")
    beta = view.parameter_behind(view.other_input(add, mul.output[0]) or "")
    if gamma is None or beta is None:
        return None
    channels = view.initializers[gamma].dims
    # The group count: the Reshape target (0, G, -1) of the norm's input holds G.
    target = _reshape_groups(view, into.input[1])
    if len(channels) != 1 or target != channels[0] or list(view.initializers[beta].dims) != list(channels):
        return None
    epsilon = next((a for a in norm.attribute if a.name == "epsilon"), None)
    fused = helper.make_node("InstanceNormalization", [x, gamma, beta], [add.output[0]], name=f"{norm.name}/affine")
    if epsilon is not None:
        fused.attribute.append(epsilon)
    return (into, norm, out, mul), add, fused


def _reshape_groups(view: _Graph, shape_name: str) -> int | None:
    """G of a Reshape target built as Concat([0], G, [-1]) (what the exporter writes for GroupNorm)."""
    concat = view.producer.get(shape_name)
    constant = view.constant(shape_name)
    if constant is not None:
        values = constant.reshape(-1)
    elif concat is not None and concat.op_type == "Concat":
        parts = [view.constant(name) for name in concat.input]
        if any(part is None for part in parts):
            reshaped = [view.producer.get(name) for name in concat.input]
            parts = [
                view.constant(node.input[0]) if part is None and node is not None and node.op_type == "Reshape" else part
                for part, node in zip(parts, reshaped)
            ]
        if any(part is None for part in parts):
            return None
        values = np.concatenate([np.asarray(part).reshape(-1) for part in parts])
    else:
        return None
    return int(values[1]) if values.size == 3 and values[0] == 0 and values[2] == -1 else None


def _rebuild(graph: onnx.GraphProto, replaced: dict[int, onnx.NodeProto], removed: set[int]) -> None:
    nodes = [replaced.get(id(node), node) for node in graph.node if id(node) not in removed]
    del graph.node[:]
    graph.node.extend(nodes)


def remove_dead_nodes(graph: onnx.GraphProto) -> int:
    """Drops nodes none of whose outputs is used (left behind by the rewrites)."""
    removed = 0
    while True:
        used = {name for node in graph.node for name in node.input} | {out.name for out in graph.output}
        keep = [node for node in graph.node if any(out in used for out in node.output)]
        if len(keep) == len(graph.node):
            break
        removed += len(graph.node) - len(keep)
        del graph.node[:]
        graph.node.extend(keep)
    return removed


def check_wiring(graph: onnx.GraphProto) -> None:
    """Every node input is produced by a node, an initializer or a graph input."""
    known = {init.name for init in graph.initializer} | {i.name for i in graph.input} | {""}
    for node in graph.node:
        missing = [name for name in node.input if name not in known]
        if missing:
            raise ValueError(f"graph rewrite left {node.op_type} {node.name} reading {missing}, which nothing produces")
        known.update(node.output)


def optimize_graph(proto: onnx.ModelProto) -> dict[str, int]:
    """Applies every rewrite in place; returns how many of each were made. Value-info entries of the
    removed intermediate tensors are dropped with them."""
    graph = proto.graph
    counts = {"gelu": fuse_gelu(graph), "group_norm_affine": fold_group_norm_affine(graph)}
    counts["dead_nodes"] = remove_dead_nodes(graph)
    check_wiring(graph)
    if counts["gelu"] and not any(opset.domain == MS_DOMAIN for opset in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    drop_stale_value_info(graph)
    return counts


def drop_stale_value_info(graph: onnx.GraphProto) -> int:
    """Keeps value_info only for tensors a node produces. The exporter also writes one for every
    initializer, which goes stale as soon as a tool rewrites a weight under its own name: ONNX
    Runtime's quantiser turns Gemm(transB=1) into MatMul with the weight transposed in place, and its
    shape inference then refused the model ("Inferred shape and existing shape differ in dimension 0:
    (2048) vs (1024)", the SER classifier's weight of the authors' model). An initializer states its
    own shape; the entries of removed intermediate tensors go too. Returns how many were dropped."""
    produced = {out for node in graph.node for out in node.output}
    kept = [info for info in graph.value_info if info.name in produced]
    dropped = len(graph.value_info) - len(kept)
    del graph.value_info[:]
    graph.value_info.extend(kept)
    return dropped


def op_counts(proto: onnx.ModelProto) -> Counter:
    return Counter(node.op_type for node in proto.graph.node)
