"""Weight transposes folded into the weights: a large model's export streams them through its external
data file (aligned, only the weights the graph reads), keeps its outputs, and its weights read back."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from make_tiny import build_tiny
from merit import export, weight_folding
from merit.export import UNUSED_AT_INFERENCE, load_onnx_model
from merit.weight_folding import ALIGNMENT, FoldError, fold_external_weight_transposes


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """The tiny model exported as a large model would be (its weights in `<model>.onnx.data`)."""
    model = build_tiny(seed=4)
    path = tmp_path_factory.mktemp("large") / "big.onnx"
    saved = export.EXTERNAL_DATA_BYTES, weight_folding.COPY_BYTES
    # Small copy pieces, so matrices are transposed in several blocks of columns.
    export.EXTERNAL_DATA_BYTES, weight_folding.COPY_BYTES = 0, 256
    try:
        export.export_onnx(model, path, export.metadata_for(model, "test", "random"))
    finally:
        export.EXTERNAL_DATA_BYTES, weight_folding.COPY_BYTES = saved
    return model, path


def _external(initializer):
    return {entry.key: entry.value for entry in initializer.external_data}


def test_the_export_leaves_no_weight_transpose_and_only_live_aligned_weights_in_the_data_file(large):
    _, path = large
    proto = onnx.load(str(path), load_external_data=False)
    graph = proto.graph
    initializers = {init.name for init in graph.initializer}
    assert not any(node.op_type == "Transpose" and node.input[0] in initializers for node in graph.node)
    folded = export.verify_onnx_contract(path)["graph_rewrites"]["weight_transposes"]
    assert folded > 10, folded
    external = [_external(init) for init in graph.initializer if init.data_location == onnx.TensorProto.EXTERNAL]
    assert external and all(entry["location"] == "big.onnx.data" for entry in external)
    assert all(int(entry["offset"]) % ALIGNMENT == 0 for entry in external)
    live = sum(int(entry["length"]) for entry in external)
    size = export.external_data_path(path).stat().st_size
    assert live <= size < live + ALIGNMENT * len(external), (live, size)


def test_the_folded_export_keeps_the_models_outputs_and_its_weights_read_back(large):
    model, path = large
    waveform = torch.randn(2, 24000) * 0.1
    with torch.no_grad():
        expected = export.ContractWrapper(model).eval()(waveform)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"waveform": waveform.numpy()})
    for name, want, have in zip(export.OUTPUT_NAMES, expected, got):
        np.testing.assert_allclose(have, want.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    loaded, _, _ = load_onnx_model(path)
    for name, tensor in model.state_dict().items():
        if not name.startswith(UNUSED_AT_INFERENCE):
            assert torch.equal(loaded.state_dict()[name], tensor), name


def test_a_cut_short_data_file_is_refused_naming_the_weight(large, tmp_path):
    _, path = large
    graph = onnx.load(str(path), load_external_data=False).graph
    data = tmp_path / "big.onnx.data"
    data.write_bytes(export.external_data_path(path).read_bytes()[:5000])
    with pytest.raises(FoldError, match="cut short"):
        fold_external_weight_transposes(graph, data)
