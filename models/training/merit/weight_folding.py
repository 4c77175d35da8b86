"""Weight transposes folded offline: each Transpose that reads an initializer becomes the transposed
initializer (named after the weight, with TRANSPOSED_SUFFIX).

The dynamo exporter hands every Linear weight to its MatMul through a Transpose. ONNX Runtime folds
these itself when it loads a model, but a large model pays for it in memory: measured on the authors'
full-size model, 2.49 GiB resident after loading with the transposes folded in the file, 2.67 GiB
(3.07 GiB at the load's peak) without. And ONNX Runtime's int8 quantiser only quantises a MatMul whose
weight is an initializer. So the exporter folds them for a model whose weights live in an external
data file (`fold_external_weight_transposes`, one weight at a time through the file), and the int8
path folds whatever is left in memory (`fold_weight_transposes`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

TRANSPOSED_SUFFIX = ".transposed"
# Each weight in the external data file starts on a page boundary, so a runtime can map it in place.
ALIGNMENT = 4096
# Weights are copied between data files in pieces of this size, never whole.
COPY_BYTES = 1 << 20

# (initializer, permutation, new name) -> the transposed initializer
Transposer = Callable[[onnx.TensorProto, list[int], str], onnx.TensorProto]


class FoldError(ValueError):
    """A graph whose weight transposes cannot be folded."""


def _transposed_in_memory(initializer: onnx.TensorProto, perm: list[int], name: str) -> onnx.TensorProto:
    array = numpy_helper.to_array(initializer)
    return numpy_helper.from_array(np.ascontiguousarray(array.transpose(perm)), name)


def fold_weight_transposes(graph: onnx.GraphProto, transposed: Transposer = _transposed_in_memory) -> int:
    """Replaces each Transpose of an initializer by `transposed`'s initializer; the untransposed one
    goes when nothing else reads it. One weight at a time, so a large model is never held twice.
    Returns the number of transposes folded."""
    initializers = {init.name: init for init in graph.initializer}
    users: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    renamed: dict[str, str] = {}
    kept_nodes, added, dropped = [], [], set()
    for node in graph.node:
        source = node.input[0] if node.op_type == "Transpose" and node.input else None
        if source not in initializers:
            kept_nodes.append(node)
            continue
        dims = len(initializers[source].dims)
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None) or list(range(dims))[::-1]
        name = source + TRANSPOSED_SUFFIX
        if name in initializers or any(init.name == name for init in added):
            name = node.output[0]
        added.append(transposed(initializers[source], perm, name))
        renamed[node.output[0]] = name
        users[source] -= 1
        if users[source] == 0:
            dropped.add(source)
    for node in kept_nodes:
        for index, name in enumerate(node.input):
            if name in renamed:
                node.input[index] = renamed[name]
    for output in graph.output:
        if output.name in renamed:
            raise FoldError(f"graph output {output.name} is a transposed weight; nothing to fold there")
    remaining = [init for init in graph.initializer if init.name not in dropped]
    del graph.node[:]
    graph.node.extend(kept_nodes)
    del graph.initializer[:]
    graph.initializer.extend(remaining + added)
    folded = set(renamed)
    kept_info = [info for info in graph.value_info if info.name not in folded]
    del graph.value_info[:]
    graph.value_info.extend(kept_info)
    return len(renamed)


def _external_fields(initializer: onnx.TensorProto) -> dict[str, str]:
    return {entry.key: entry.value for entry in initializer.external_data}


def _set_external(initializer: onnx.TensorProto, location: str, offset: int, length: int) -> None:
    del initializer.external_data[:]
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = initializer.external_data.add()
        entry.key, entry.value = key, value
    initializer.data_location = onnx.TensorProto.EXTERNAL


class _Limited:
    """The next `length` bytes of a file, for shutil.copyfileobj."""

    def __init__(self, file, length: int):
        self.file, self.left = file, length

    def read(self, size: int) -> bytes:
        piece = self.file.read(min(size, self.left))
        self.left -= len(piece)
        return piece


def fold_external_weight_transposes(graph: onnx.GraphProto, data: Path) -> int:
    """`fold_weight_transposes` for a graph loaded without its external data (`data`, which the
    graph's initializers name as their location): the data file is rewritten with only the weights
    the graph still reads, the transposed ones computed one at a time, each aligned to ALIGNMENT
    bytes. Returns the number of transposes folded."""
    staged = data.with_name(data.name + ".folding")
    size = data.stat().st_size
    written: set[str] = set()
    with data.open("rb") as source, staged.open("wb") as target:

        def span(initializer: onnx.TensorProto) -> tuple[int, int]:
            fields = _external_fields(initializer)
            if fields.get("location") != data.name:
                raise FoldError(f"weight {initializer.name} lives in {fields.get('location')!r}, not in {data.name}")
            offset, length = int(fields.get("offset", 0)), int(fields["length"])
            if offset + length > size:
                raise FoldError(f"{data}: weight {initializer.name} is cut short ({max(size - offset, 0)} of {length} bytes)")
            return offset, length

        def place(initializer: onnx.TensorProto, length: int) -> None:
            """Pads the new file to the next aligned offset and points `initializer` there."""
            position = target.tell()
            offset = position + -position % ALIGNMENT
            target.write(b"\0" * (offset - position))
            _set_external(initializer, data.name, offset, length)
            written.add(initializer.name)

        def transposed(initializer: onnx.TensorProto, perm: list[int], name: str) -> onnx.TensorProto:
            if initializer.data_location != onnx.TensorProto.EXTERNAL:
                return _transposed_in_memory(initializer, perm, name)
            offset, length = span(initializer)
            dtype = helper.tensor_dtype_to_np_dtype(initializer.data_type)
            dims = tuple(initializer.dims)
            result = onnx.TensorProto(name=name, data_type=initializer.data_type, dims=[dims[axis] for axis in perm])
            place(result, length)
            # A matrix a block of its columns at a time, each block read through a mapping of its
            # own: an expert's 400 MB input weight in the authors' model is never held whole.
            blocks = range(0, dims[1], max(1, COPY_BYTES // (dims[0] * dtype.itemsize))) if perm == [1, 0] else [None]
            for start in blocks:
                array = np.memmap(data, dtype, "r", offset, dims)
                part = array.transpose(perm) if start is None else array[:, start : start + blocks.step].T
                target.write(np.ascontiguousarray(part).data)
                del array, part
            return result

        folded = fold_weight_transposes(graph, transposed)
        for initializer in graph.initializer:
            if initializer.data_location == onnx.TensorProto.EXTERNAL and initializer.name not in written:
                offset, length = span(initializer)
                place(initializer, length)
                source.seek(offset)
                shutil.copyfileobj(_Limited(source, length), target, COPY_BYTES)
    staged.replace(data)
    return folded
