"""The ONNX contract the studio relies on, and PyTorch/ONNX Runtime parity."""

import copy
import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import soundfile as sf
import torch

from conftest import REPO
import make_tiny
from make_tiny import build_tiny
from merit.export import MAX_SCORE_BOUND, TRAJECTORY_WINDOW_S, ContractError, ContractWrapper, UNUSED_AT_INFERENCE, export_onnx, load_onnx_model, metadata_for, verify_onnx_contract
from merit.model import MeritModel

SHIPPED_TINY = REPO / "models" / "sparse-merit-tiny.onnx"
SHIPPED_TINY_RELATIVE = REPO / "models" / "sparse-merit-tiny-relative.onnx"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = build_tiny(seed=1)
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    export_onnx(model, path, metadata_for(model, "test", "random"))
    return model, path, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-6))


OUTPUTS = ("logits", "enhanced", "ser_gate", "se_gate", "trajectory")


def run_both(model, session, waveform: np.ndarray):
    with torch.no_grad():
        out = ContractWrapper(model)(torch.from_numpy(waveform))
    onnx_out = session.run(None, {"waveform": waveform})
    return onnx_out, [t.numpy() for t in out]


@pytest.mark.parametrize("seconds", [0.5, 1.0, 3.7, 30.0])
def test_parity_on_random_input_at_any_length(exported, seconds):
    model, _, session = exported
    samples = int(seconds * 16000)
    waveform = (np.random.default_rng(samples).standard_normal((2, samples)) * 0.1).astype(np.float32)
    onnx_out, torch_out = run_both(model, session, waveform)
    frames = model.frame_count(samples)
    expected = [(2, 4), (2, samples), (2, frames, 3), (2, frames, 3), (2, frames, 4)]
    assert [o.shape for o in onnx_out] == expected
    for name, a, b in zip(OUTPUTS, onnx_out, torch_out, strict=True):
        assert relative_difference(a, b) < 1e-4, name


def test_parity_on_real_speech_from_the_demo(exported):
    model, _, session = exported
    audio, rate = sf.read(REPO / "projects/demo/audio/angry_m1.wav", dtype="float32")
    assert rate == 16000
    onnx_out, torch_out = run_both(model, session, audio[None, :])
    worst = max(relative_difference(a, b) for a, b in zip(onnx_out, torch_out))
    assert worst < 1e-4
    assert onnx_out[1].shape == (1, len(audio))
    np.testing.assert_allclose(onnx_out[2].sum(-1), 1.0, atol=1e-5)


def test_trajectory_windows_pool_like_the_utterance_head(exported):
    """The window starting at a frame pools the same frames with the same attention as the utterance
    head does on those frames, and a clip no longer than the window gets its utterance logits."""
    model, _, session = exported
    window = model.trajectory_window_frames(TRAJECTORY_WINDOW_S)
    features = torch.randn(1, 400, model.config.expert_out)
    with torch.no_grad():
        trajectory = model.ser_head.trajectory(features, window)
        for start in (0, 37, 250, 399):
            direct = model.ser_head(features[:, start : start + window])
            torch.testing.assert_close(trajectory[:, start], direct, rtol=1e-4, atol=1e-5)
    waveform = (np.random.default_rng(3).standard_normal((1, 32000)) * 0.1).astype(np.float32)
    logits, *_, trajectory = session.run(None, {"waveform": waveform})
    np.testing.assert_allclose(trajectory[:, 0], logits, rtol=1e-4, atol=1e-5)


def test_banded_trajectory_is_exact_where_box_sums_would_underflow(exported):
    """Attention scores far apart (bound well past MAX_SCORE_BOUND, as in the authors' 1024-wide
    pooling): the banded windows still pool exactly what the utterance head pools on those frames,
    and the exporter picks them."""
    model = copy.deepcopy(exported[0])
    with torch.no_grad():
        model.ser_head.pooling.attention[-1].weight.mul_(400.0)
    assert model.ser_head.pooling.score_bound() > MAX_SCORE_BOUND
    assert ContractWrapper(model).banded_trajectory
    window = model.trajectory_window_frames(TRAJECTORY_WINDOW_S)
    features = torch.randn(1, 300, model.config.expert_out) * 3
    with torch.no_grad():
        banded = model.ser_head.trajectory(features, window, banded=True)
        for start in (0, 41, 200, 299):
            direct = model.ser_head(features[:, start : start + window])
            torch.testing.assert_close(banded[:, start], direct, rtol=1e-4, atol=1e-4)


def test_metadata_is_embedded(exported):
    _, path, session = exported
    metadata = json.loads(session.get_modelmeta().custom_metadata_map["merit"])
    assert metadata["classes"] == ["angry", "sad", "happy", "neutral"]
    assert metadata["sample_rate"] == 16000
    assert metadata["frame_hop_s"] == 0.02
    assert metadata["n_experts"] == 3 and metadata["top_k"] == 1
    assert metadata["trajectory_window_s"] == TRAJECTORY_WINDOW_S
    assert verify_onnx_contract(path) == metadata


def test_exported_graph_is_rewritten_for_onnx_runtime_and_stays_consistent(exported):
    """merit.optimize: GELU chains become one Gelu (no Erf left), the weights keep their names, and no
    value_info restates an initializer's shape (a stale one made ONNX Runtime's quantiser refuse the
    authors' model)."""
    model, path, session = exported
    proto = onnx.load(str(path))
    ops = {node.op_type for node in proto.graph.node}
    metadata = json.loads(session.get_modelmeta().custom_metadata_map["merit"])
    assert "Erf" not in ops and "Gelu" in ops and metadata["graph_rewrites"]["gelu"] > 0
    initializers = {init.name for init in proto.graph.initializer}
    assert not [info.name for info in proto.graph.value_info if info.name in initializers]
    onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    for name, _ in model.named_parameters():
        if not name.startswith(("backbone.mask_emb", "backbone.encoder.layer_norm.")):
            assert f"model.{name}" in initializers or f"model.{name}.int8" in initializers, name


@pytest.mark.parametrize("frames", [1, 2, 25, 301])
def test_position_bias_is_the_per_pair_bucket_lookup(frames):
    from merit.backbone import relative_position_bucket

    attention = build_tiny(seed=4).backbone.encoder.layers[0].self_attn
    positions = torch.arange(frames)
    buckets = relative_position_bucket(positions[None, :] - positions[:, None], attention.num_buckets, attention.max_distance)
    expected = attention.relative_attention_bias(buckets).permute(2, 0, 1)
    assert torch.equal(attention.position_bias(frames, torch.device("cpu")), expected)


def test_the_shipped_tiny_model_follows_the_contract():
    metadata = verify_onnx_contract(SHIPPED_TINY)
    assert metadata["model"] == "sparse-merit-tiny"
    session = ort.InferenceSession(str(SHIPPED_TINY), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"waveform": np.zeros((3, 8000), np.float32)})
    assert [o.shape for o in outputs] == [(3, 4), (3, 8000), (3, 24, 3), (3, 24, 3), (3, 24, 4)]


def test_the_shipped_speaker_relative_tiny_model_follows_the_contract():
    """The studio's tests use it; it must be what make_tiny.py --speaker-relative writes."""
    metadata = verify_onnx_contract(SHIPPED_TINY_RELATIVE)
    assert metadata["speaker_relative"] is True
    session = ort.InferenceSession(str(SHIPPED_TINY_RELATIVE), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["waveform", "speaker_reference"]
    reference = json.loads(SHIPPED_TINY_RELATIVE.with_suffix(".reference.json").read_text())
    model = build_tiny(speaker_relative=True)
    signal = make_tiny.reference_input().numpy()
    nan = np.full((1, reference["statistics_size"]), np.nan, np.float32)
    population = session.run(None, {"waveform": signal, "speaker_reference": nan})
    relative = session.run(None, {"waveform": signal, "speaker_reference": np.array([reference["reversed_statistics"]], np.float32)})
    assert np.allclose(population[0][0], reference["logits_population"], atol=1e-4)
    assert np.allclose(population[-1][0, :8], reference["statistics_first"], atol=1e-4)
    assert np.allclose(relative[0][0], reference["logits_relative"], atol=1e-4)
    assert not np.allclose(reference["logits_population"], reference["logits_relative"], atol=1e-3)
    with torch.no_grad():
        assert np.allclose(ContractWrapper(model)(torch.from_numpy(signal))[0][0].numpy(), reference["logits_population"], atol=1e-4)


def test_a_speaker_relative_model_is_re_exported_and_compared_with_and_without_a_reference(tmp_path):
    model = tmp_path / "relative.onnx"
    model.write_bytes(SHIPPED_TINY_RELATIVE.read_bytes())
    # A CPU variant quantised from the file being replaced goes with it.
    stale = tmp_path / "relative.cpu-int8.onnx"
    stale.write_bytes(SHIPPED_TINY_RELATIVE.read_bytes())
    result = subprocess.run([sys.executable, "-m", "merit.reexport", str(model)], cwd=REPO / "models" / "training", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "replaced" in result.stdout
    assert verify_onnx_contract(model)["speaker_relative"] is True
    assert not stale.exists() and "CPU variant" in result.stdout


def test_exporter_refuses_models_that_break_the_contract(tmp_path):
    model = build_tiny()
    with pytest.raises(ContractError, match="lacks"):
        export_onnx(model, tmp_path / "a.onnx", {"classes": ["angry", "sad", "happy", "neutral"]})
    bad = metadata_for(model, "x", "y")
    bad["classes"] = ["a", "b", "c", "d"]
    with pytest.raises(ContractError, match="differ"):
        export_onnx(model, tmp_path / "b.onnx", bad)
    with pytest.raises(ContractError, match="routers"):
        export_onnx(MeritModel(model.config, "mtl"), tmp_path / "c.onnx", metadata_for(model, "x", "y"))


def test_verifier_refuses_renamed_outputs_and_missing_metadata(tmp_path):
    proto = onnx.load(str(SHIPPED_TINY))
    renamed = tmp_path / "renamed.onnx"
    for node in proto.graph.node:
        node.output[:] = ["logits" if o == "emotion_logits" else o for o in node.output]
    proto.graph.output[0].name = "logits"
    onnx.save(proto, renamed)
    with pytest.raises(ContractError, match="outputs are"):
        verify_onnx_contract(renamed)
    proto = onnx.load(str(SHIPPED_TINY))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, bare)
    with pytest.raises(ContractError, match="no 'merit' metadata"):
        verify_onnx_contract(bare)


def test_normalised_se_path_has_parity_and_follows_the_input_level(tmp_path):
    """Corpus v2 models enhance the normalised waveform and scale the result back: the exported
    graph matches PyTorch, and enhancing a quieter copy gives the same audio, quieter by as much
    (the raw-waveform SE path of older models does not)."""
    model = build_tiny(seed=2)
    model.config.se_normalised = True
    path = tmp_path / "normalised.onnx"
    export_onnx(model, path, metadata_for(model, "test", "random"))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    audio, _ = sf.read(REPO / "projects/demo/audio/angry_m1.wav", dtype="float32")
    loud = audio[None, :]
    quiet = loud * np.float32(0.05)
    enhanced = {}
    for name, waveform in (("loud", loud), ("quiet", quiet)):
        onnx_out, torch_out = run_both(model, session, waveform)
        for output, a, b in zip(OUTPUTS, onnx_out, torch_out, strict=True):
            assert relative_difference(a, b) < 1e-4, (name, output)
        enhanced[name] = onnx_out[1]
    # (float32 and the 1e-5 added to the RMS leave a few parts in a thousand)
    assert relative_difference(enhanced["quiet"] / 0.05, enhanced["loud"]) < 1e-2
    model.config.se_normalised = False
    with torch.no_grad():
        raw_loud, raw_quiet = (ContractWrapper(model)(torch.from_numpy(w))[1].numpy() for w in (loud, quiet))
    assert relative_difference(raw_quiet / 0.05, raw_loud) > 1e-1


def test_a_model_with_pitch_features_and_speaker_references_exports_with_parity(tmp_path):
    torch.manual_seed(5)
    config = copy.deepcopy(build_tiny().config)
    config.pitch_features = config.speaker_relative = True
    model = MeritModel(config).eval()
    with torch.no_grad():
        model.ser_head.population_reference.normal_()
    path = export_onnx(model, tmp_path / "pitch.onnx", metadata_for(model, "test", "random"))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    audio, _ = sf.read(REPO / "projects/demo/audio/angry_m1.wav", dtype="float32")
    noise = (np.random.default_rng(0).standard_normal((2, 24000)) * 0.1).astype(np.float32)
    size = model.ser_head.population_reference.numel()
    given = np.random.default_rng(1).standard_normal((1, size)).astype(np.float32)
    nan = np.full((1, size), np.nan, np.float32)
    for waveform, reference in ((audio[None, :], nan), (audio[None, :], given), (noise, np.concatenate([given, nan]))):
        onnx_out = session.run(None, {"waveform": waveform, "speaker_reference": reference})
        with torch.no_grad():
            torch_out = [t.numpy() for t in ContractWrapper(model)(torch.from_numpy(waveform), torch.from_numpy(reference))]
        for name, a, b in zip((*OUTPUTS, "statistics"), onnx_out, torch_out, strict=True):
            assert relative_difference(a, b) < 1e-4, name
    # A NaN reference is the population's: the same as no reference at all.
    with torch.no_grad():
        without = ContractWrapper(model)(torch.from_numpy(noise))[0].numpy()
    assert relative_difference(onnx_out[0][1], without[1]) < 1e-4
    assert relative_difference(onnx_out[0][0], without[0]) > 1e-3


def test_an_se_head_reading_the_layers_exports_with_parity_and_reads_back(tmp_path):
    """se_head_input "routed+layers": the SE head reads the aggregated layers beside the routed expert
    output; the export keeps parity, and the file's weights and config rebuild the same model."""
    torch.manual_seed(6)
    config = copy.deepcopy(build_tiny().config)
    config.se_head_input = "routed+layers"
    model = MeritModel(config).eval()
    assert model.se_head.input.in_features == config.expert_out + model.aggregator.output_size + model.stft.bins
    path = export_onnx(model, tmp_path / "layers.onnx", metadata_for(model, "test", "random"))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    audio, _ = sf.read(REPO / "projects/demo/audio/angry_m1.wav", dtype="float32")
    onnx_out, torch_out = run_both(model, session, audio[None, :])
    for output, a, b in zip(OUTPUTS, onnx_out, torch_out, strict=True):
        assert relative_difference(a, b) < 1e-4, output
    loaded, _, _ = load_onnx_model(path)
    assert loaded.config.se_head_input == "routed+layers"
    read_back = {name: tensor for name, tensor in loaded.state_dict().items() if not name.startswith(UNUSED_AT_INFERENCE)}
    assert all(torch.equal(tensor, model.state_dict()[name]) for name, tensor in read_back.items())
    # Only a routed model has a routed output to read beside the layers.
    with pytest.raises(ValueError, match="needs routing"):
        MeritModel(config, "mtl")
    with pytest.raises(ValueError, match="unknown se_head_input"):
        model.use_se_head_input("layers")
