"""Int8 weights: rounding at the end of training, lossless int8 storage in the ONNX file, and reading
the weights back."""

import copy

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
import pytest
import soundfile as sf
import torch

from conftest import REPO
from make_tiny import build_tiny
from merit.export import OUTPUT_NAMES, UNUSED_AT_INFERENCE, ContractWrapper, export_onnx, load_onnx_model, metadata_for
from merit.quantize import (
    INT8_MAX,
    INT8_SUFFIX,
    SCALE_SUFFIX,
    float_initializers,
    roundable,
    round_weights_int8,
    unpack_int8_weights,
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The tiny model as initialised and rounded, each exported."""
    folder = tmp_path_factory.mktemp("int8")
    plain = build_tiny(seed=3)
    rounded = copy.deepcopy(plain)
    report = round_weights_int8(rounded)
    paths = {}
    for name, model in (("plain", plain), ("rounded", rounded)):
        paths[name] = export_onnx(model, folder / f"{name}.onnx", metadata_for(model, "test", "random"))
    return plain, rounded, report, paths


def test_rounding_leaves_each_row_on_a_grid_of_255_steps(models):
    plain, rounded, report, _ = models
    before, after = dict(plain.named_parameters()), dict(rounded.named_parameters())
    assert report["tensors"] == sum(roundable(p) for p in before.values()) > 0
    for name, parameter in before.items():
        if not roundable(parameter):
            assert torch.equal(parameter, after[name]), f"{name} is not a weight matrix and must not change"
            continue
        rows, new = parameter.detach().reshape(parameter.shape[0], -1), after[name].detach().reshape(parameter.shape[0], -1)
        scale = rows.abs().amax(dim=1, keepdim=True) / INT8_MAX
        steps = new / scale
        assert torch.allclose(steps, steps.round(), atol=1e-3), name
        assert steps.abs().max() <= INT8_MAX + 1e-3
        assert ((new - rows).abs() <= scale / 2 + 1e-7).all(), f"{name}: a value moved by more than half a step"
    assert 0 < report["max_change_vs_row_max"] <= 0.5 / INT8_MAX + 1e-6


def test_rounded_weights_are_stored_as_int8_and_only_those(models):
    plain, rounded, report, paths = models
    packed = onnx.load(str(paths["rounded"]))
    types = {init.name: init.data_type for init in packed.graph.initializer}
    int8 = [name for name, kind in types.items() if kind == onnx.TensorProto.INT8]
    assert len(int8) == report["tensors"]
    assert all(name.endswith(INT8_SUFFIX) and name[: -len(INT8_SUFFIX)] + SCALE_SUFFIX in types for name in int8)
    # A model that was not rounded keeps every weight in float32: packing never loses anything.
    plain_types = [init.data_type for init in onnx.load(str(paths["plain"])).graph.initializer]
    assert onnx.TensorProto.INT8 not in plain_types
    assert paths["rounded"].stat().st_size < paths["plain"].stat().st_size


def test_the_packed_file_computes_what_the_rounded_model_computes(models):
    _, rounded, _, paths = models
    session = ort.InferenceSession(str(paths["rounded"]), providers=["CPUExecutionProvider"])
    audio, _ = sf.read(REPO / "projects/demo/audio/angry_m1.wav", dtype="float32")
    waveform = audio[None, :]
    with torch.no_grad():
        reference = [t.numpy() for t in ContractWrapper(rounded)(torch.from_numpy(waveform))]
    for name, a, b in zip(OUTPUT_NAMES, session.run(None, {"waveform": waveform}), reference, strict=True):
        assert np.abs(a - b).max() / max(np.abs(b).max(), 1e-6) < 1e-4, name


def test_weights_read_back_from_the_packed_file_are_the_rounded_ones(models):
    _, rounded, _, paths = models
    model, _, _ = load_onnx_model(paths["rounded"])
    for name, parameter in rounded.named_parameters():
        if name.startswith(UNUSED_AT_INFERENCE):
            continue
        back = dict(model.named_parameters())[name].detach()
        assert torch.allclose(back, parameter.detach(), rtol=1e-6, atol=1e-9), name


def test_unpacked_weights_are_float_initializers_and_compute_the_same(models):
    proto = onnx.load(str(models[3]["rounded"]))
    packed = float_initializers(proto)
    assert unpack_int8_weights(proto) == models[2]["tensors"]
    arrays = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    assert not any(name.endswith((INT8_SUFFIX, SCALE_SUFFIX)) for name in arrays)
    assert not any(node.output[0].endswith(".float") for node in proto.graph.node)
    assert not any(info.name in packed or info.name.endswith(".float") for info in proto.graph.value_info)
    for name, array in packed.items():
        assert np.array_equal(arrays[name], array), name
    waveform = np.random.default_rng(0).standard_normal((1, 16000)).astype(np.float32) * 0.1
    unpacked = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"waveform": waveform})
    original = ort.InferenceSession(str(models[3]["rounded"]), providers=["CPUExecutionProvider"]).run(None, {"waveform": waveform})
    for name, a, b in zip(OUTPUT_NAMES, unpacked, original, strict=True):
        assert np.array_equal(a, b), name


def test_a_packed_weight_without_its_scales_is_refused(models):
    proto = onnx.load(str(models[3]["rounded"]))
    scales = [init for init in proto.graph.initializer if init.name.endswith(SCALE_SUFFIX)]
    proto.graph.initializer.remove(scales[0])
    with pytest.raises(ValueError, match="has no .scale initializer"):
        float_initializers(proto)


def test_the_cpu_variant_is_written_beside_its_model_names_it_and_stays_small(tmp_path, monkeypatch):
    """merit.cpu_int8's CPU variant of a speaker-relative model (whose parity runs need the reference
    input): int8 products, the float weights packed again, its card naming the float model's blake3
    (what the studio checks); a variant whose labels disagree too often is not written."""
    from blake3 import blake3

    import merit.cpu_int8 as cpu_int8
    from merit.export import verify_onnx_contract

    model = build_tiny(seed=5, speaker_relative=True)
    float_path = export_onnx(model, tmp_path / "m.onnx", metadata_for(model, "test", "random"))
    rng = np.random.default_rng(1)
    pairs = [(clean, clean + 0.05 * rng.standard_normal(clean.size).astype(np.float32))
             for clean in (0.1 * rng.standard_normal(16000 + 800 * i).astype(np.float32) for i in range(6))]
    report = cpu_int8.write_cpu_variant(float_path, pairs, threads=1)
    variant = tmp_path / "m.cpu-int8.onnx"
    assert variant == cpu_int8.variant_path(float_path) and variant.exists()
    assert report["clips"] == 6 and report["quantised"] > 0 and report["float32_weights_repacked"] > 0
    metadata = verify_onnx_contract(variant)
    assert metadata["precision"] == "int8"
    assert metadata["cpu_variant_of"] == blake3(float_path.read_bytes()).hexdigest()
    proto = onnx.load(str(variant))
    assert {node.op_type for node in proto.graph.node} & {"MatMulInteger", "DynamicQuantizeMatMul"}
    assert any(init.name.endswith(INT8_SUFFIX) for init in proto.graph.initializer)
    assert variant.stat().st_size < 1.2 * float_path.stat().st_size

    variant.unlink()
    monkeypatch.setattr(cpu_int8, "LABEL_AGREEMENT_MIN", 1.01)
    with pytest.raises(cpu_int8.Int8Error, match="labels agree"):
        cpu_int8.write_cpu_variant(float_path, pairs, threads=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_a_rounded_weight_stored_transposed_is_packed_by_column_and_reads_back():
    """merit.weight_folding stores a product's weight transposed: rounded by row in training, it is
    int8 x one scale per column there, and must be packed (the CPU variant's float32 weights) and
    read back as exactly as one stored by row."""
    from onnx import helper

    from merit.quantize import int8_rows, pack_int8_weights
    from merit.weight_folding import TRANSPOSED_SUFFIX

    rng = np.random.default_rng(0)
    integers, scale, _ = int8_rows(torch.tensor(rng.standard_normal((96, 64)), dtype=torch.float32))
    weight = (integers * scale).numpy()  # (out, in), rounded by row as in training
    name = "head.weight" + TRANSPOSED_SUFFIX
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", name], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 64])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 96])],
        [numpy_helper.from_array(np.ascontiguousarray(weight.T), name)],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    x = rng.standard_normal((2, 64)).astype(np.float32)
    before = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    assert pack_int8_weights(proto) == 1
    stored = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    assert stored[name + INT8_SUFFIX].dtype == np.int8 and stored[name + SCALE_SUFFIX].shape == (1, 96)
    after = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.array_equal(before, after)
    assert np.array_equal(float_initializers(proto)["head.weight"], weight)
    assert unpack_int8_weights(proto) == 1
    assert np.array_equal(numpy_helper.to_array(proto.graph.initializer[0]), weight.T)
