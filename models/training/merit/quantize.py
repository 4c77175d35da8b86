"""Int8 weights: how a trained model is made a few megabytes without a gap between what was evaluated
and what ships.

Training ends by rounding every weight matrix to 8 bits, row by row (`round_weights_int8`): each row
becomes integers in [-127, 127] times one float32 scale. From then on the rounded model *is* the model:
evaluation, the card's figures and the ONNX parity check all see the rounded weights. The exporter
then stores such weights losslessly as int8 plus their row scales (`pack_int8_weights`), rebuilt to
float32 in the graph by Cast and Mul on constants, which ONNX Runtime folds away when it loads the
model: inference runs in float32 at the same speed, from a file a quarter of the size.
"""

from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from .weight_folding import TRANSPOSED_SUFFIX

INT8_MAX = 127
# Smaller tensors (biases, norms, the router rows) stay float32: they are a few kilobytes in all.
MIN_ELEMENTS = 4096
# A packed row must give back its float32 values to within this fraction of the row's largest value
# (a float32 scale recomputed from the rounded row may differ from the original by an ulp).
PACK_TOLERANCE = 1e-6
INT8_SUFFIX = ".int8"
SCALE_SUFFIX = ".scale"


def roundable(parameter: torch.Tensor) -> bool:
    return parameter.dim() >= 2 and parameter.numel() >= MIN_ELEMENTS and parameter.is_floating_point()


def int8_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row of a 2-D tensor: the nearest integers in [-127, 127], the float32 scale they are
    multiplied by (the row's largest magnitude maps to 127; an all-zero row keeps scale 1), and that
    largest magnitude."""
    largest = rows.abs().amax(dim=1, keepdim=True)
    scale = torch.where(largest > 0, largest / INT8_MAX, 1.0)
    return torch.round(rows / scale).clamp(-INT8_MAX, INT8_MAX), scale, largest


@torch.no_grad()
def round_weights_int8(model: nn.Module) -> dict:
    """Rounds the model's weight matrices (and convolution kernels) in place to int8 x row scale.
    Returns how many tensors and values were rounded and the largest change relative to its row."""
    tensors, values, worst = 0, 0, 0.0
    for parameter in model.parameters():
        if not roundable(parameter):
            continue
        rows = parameter.reshape(parameter.shape[0], -1)
        integers, scale, largest = int8_rows(rows)
        rounded = integers * scale
        worst = max(worst, float(((rounded - rows).abs() / largest.clamp_min(1e-30)).max()))
        parameter.copy_(rounded.reshape(parameter.shape))
        tensors += 1
        values += parameter.numel()
    return {"tensors": tensors, "values": values, "max_change_vs_row_max": worst}


def _as_int8_rows(array: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(int8 values, scales) that give the array back, or None when it is not int8 x scale: one scale
    per row, or, for a matrix, per column (a weight rounded by row and then transposed, as
    merit.weight_folding stores a product's weight)."""
    found = _int8_by_row(array)
    if found is None and array.ndim == 2:
        transposed = _int8_by_row(array.T)
        if transposed is not None:
            found = (transposed[0].T, transposed[1].T)
    return found


def _int8_by_row(array: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    rows = torch.tensor(np.ascontiguousarray(array)).reshape(array.shape[0], -1)
    integers, scale, largest = int8_rows(rows)
    if not largest.any():
        return None
    error = (integers.double() * scale.double() - rows.double()).abs()
    if (error > PACK_TOLERANCE * largest.double()).any():
        return None
    return integers.to(torch.int8).reshape(array.shape).numpy(), scale.reshape((array.shape[0],) + (1,) * (array.ndim - 1)).numpy()


def pack_int8_weights(proto: onnx.ModelProto) -> int:
    """Stores every float32 initializer that is exactly int8 x row (or column) scale as int8 plus its scales, and
    rebuilds it under its own name in the graph (Cast, Mul). Others are left as they are. Returns the
    number of initializers packed."""
    graph = proto.graph
    kept, packed, rebuild = [], 0, []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or len(init.dims) < 2 or int(np.prod(init.dims)) < MIN_ELEMENTS:
            kept.append(init)
            continue
        found = _as_int8_rows(numpy_helper.to_array(init))
        if found is None:
            kept.append(init)
            continue
        integers, scale = found
        name = init.name
        kept += [numpy_helper.from_array(integers, name + INT8_SUFFIX), numpy_helper.from_array(scale, name + SCALE_SUFFIX)]
        rebuild += [
            helper.make_node("Cast", [name + INT8_SUFFIX], [name + ".float"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Mul", [name + ".float", name + SCALE_SUFFIX], [name]),
        ]
        packed += 1
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = rebuild + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return packed


def unpack_int8_weights(proto: onnx.ModelProto) -> int:
    """Undoes `pack_int8_weights` in the graph: each packed weight becomes a float32 initializer of
    its own name again and its Cast and Mul go (so a tool that looks for weight initializers, such as
    ONNX Runtime's quantiser, finds them). Returns the number of weights unpacked."""
    graph = proto.graph
    packed = {init.name[: -len(INT8_SUFFIX)] for init in graph.initializer if init.name.endswith(INT8_SUFFIX)}
    if not packed:
        return 0
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    _rebuild_packed(arrays)
    rebuilt = {name + ".float" for name in packed}
    nodes = [
        node
        for node in graph.node
        if not (node.op_type == "Cast" and node.output[0] in rebuilt) and not (node.op_type == "Mul" and node.output[0] in packed)
    ]
    parts = {name + suffix for name in packed for suffix in (INT8_SUFFIX, SCALE_SUFFIX)}
    kept = [init for init in graph.initializer if init.name not in parts]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept + [numpy_helper.from_array(arrays[name].astype(np.float32), name) for name in sorted(packed)])
    # The rebuilt tensors' shapes were recorded as node outputs; a tool that rewrites an initializer
    # (the quantiser transposes a Gemm's weight in place) must not find a stale shape for it.
    info = [entry for entry in graph.value_info if entry.name not in packed | rebuilt]
    del graph.value_info[:]
    graph.value_info.extend(info)
    return len(packed)


def float_initializers(proto: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Every weight of the graph by its own name, packed ones rebuilt to float32 (the inverse of
    `pack_int8_weights`) and folded matrix transposes turned back (merit.weight_folding), for reading
    a model's weights back."""
    arrays = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    _rebuild_packed(arrays)
    for name in [n for n in arrays if n.endswith(TRANSPOSED_SUFFIX)]:
        base, transposed = name[: -len(TRANSPOSED_SUFFIX)], arrays.pop(name)
        if base not in arrays:  # else another node still reads the weight as it was
            if transposed.ndim != 2:
                raise ValueError(f"{name}: a folded transpose of {transposed.ndim} dimensions cannot be turned back")
            arrays[base] = transposed.T
    return arrays


def _rebuild_packed(arrays: dict[str, np.ndarray]) -> None:
    """Replaces each packed weight's int8 values and scales in `arrays` by its float32 values."""
    for name in [n for n in arrays if n.endswith(INT8_SUFFIX)]:
        base = name[: -len(INT8_SUFFIX)]
        scale = arrays.pop(base + SCALE_SUFFIX, None)
        if scale is None:
            raise ValueError(f"packed weight {base} has no {SCALE_SUFFIX} initializer")
        arrays[base] = arrays.pop(name).astype(np.float32) * scale
