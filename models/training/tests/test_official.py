"""The authors' checkpoint path, tested without the real files: a random stand-in with the released
files' names, nesting and formats (merit.official_fixture) at reduced dimensions goes through the
same loader, converter and studio engine. Independent checks: our WavLM against the Hugging Face
transformers implementation, and our heads against the released heads' arithmetic written out here."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, TRAINING
from test_finetune import studio_binary

from merit.backbone import WavLMBackbone
from merit.config import OFFICIAL_CLASSES
from merit.export import verify_onnx_contract
from merit.official import OfficialCheckpointError, backbone_config, load_official, read_norm_stats
from merit.official_fixture import FixtureSize, pool_state, se_state, ser_state, wavlm_cfg, wavlm_state, write_fixture
from merit.official_fixture import _Random as FixtureRandom


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="module")
def converted(release, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "sparse-merit-official.onnx"
    result = subprocess.run(
        [sys.executable, str(TRAINING / "convert_official.py"), "--weights", str(release), "--out", str(out), "--threads", "1"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout


def fresh_copy(release, tmp_path):
    copy = tmp_path / "release"
    shutil.copytree(release, copy)
    return copy


def released_file(folder, name):
    return next(folder.rglob(name))


def edit_checkpoint(folder, name, change):
    """Loads one released file of `folder`, lets `change` alter it, saves it back."""
    path = released_file(folder, name)
    checkpoint = torch.load(path, weights_only=True)
    change(checkpoint)
    torch.save(checkpoint, path)


def test_the_converter_writes_a_contract_model_and_a_card(converted):
    out, stdout = converted
    metadata = verify_onnx_contract(out)
    assert metadata["classes"] == list(OFFICIAL_CLASSES)
    assert metadata["n_experts"] == 3 and metadata["top_k"] == 1
    assert metadata["config"]["gate"] == "one_hot"
    assert metadata["config"]["input_normalisation"] == "dataset"
    assert metadata["config"]["input_std"] == pytest.approx(0.071)
    assert set(metadata["provenance"]["files_sha256"]) == {
        "WavLM-Large.pt", "final_ssl.pt", "final_mmoe.pt", "final_pool.pt", "final_ser.pt", "final_se.pt", "train_norm_stat.pkl"
    }
    assert "each filled exactly once" in stdout
    card = out.with_suffix(".md").read_text()
    assert "SHA-256" in card and "top-1 expert agreement 1.0000" in card
    # Each stage's own peak (Linux resets the high-water mark between stages): the build holds the
    # model, the export more than that.
    peaks = {name: int(mb.replace(",", "")) for name, mb in re.findall(r"(build|export|parity) ([\d,]+) MB", card)}
    assert set(peaks) == {"build", "export", "parity"} and "not per stage" not in card
    assert peaks["export"] > peaks["build"] > 0
    parity, _ = json.JSONDecoder().raw_decode(stdout[stdout.index("{") :])
    assert max(parity["max_relative_difference"].values()) < 1e-4
    assert not out.with_name(out.name + ".data").exists(), "a small model stays in one file"


def test_the_studio_engine_analyses_a_demo_file_with_it(converted, tmp_path):
    out, _ = converted
    result = subprocess.run(
        [str(studio_binary()), "analyze", "--model", str(out), "--device", "cpu", "--out", str(tmp_path / "run"),
         str(REPO / "projects/demo/audio/sad_f1.flac")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    row = json.loads((tmp_path / "run/results.jsonl").read_text().splitlines()[0])
    assert row["error"] is None
    assert set(row["probs"]) == set(OFFICIAL_CLASSES)
    assert sum(row["probs"].values()) == pytest.approx(1.0, abs=1e-4)
    assert len(row["experts"]["ser_usage"]) == 3
    print(f"engine: {row['duration_s']:.2f} s of audio in {row['inference_s']:.3f} s (RTF {row['inference_s'] / row['duration_s']:.4f})")


def test_the_released_wavlm_state_dict_loads_as_is_and_matches_transformers():
    """Our backbone loads WavLM's own state dict (old weight_norm names) unchanged, and gives the
    hidden states of the Hugging Face implementation filled with the same tensors."""
    transformers = pytest.importorskip("transformers")
    size = FixtureSize()
    cfg = wavlm_cfg(size)
    state = wavlm_state(size, FixtureRandom(1), "old")
    ours = WavLMBackbone(backbone_config(cfg)).eval()
    ours.load_state_dict(dict(state), strict=True)

    hf_config = transformers.WavLMConfig(
        hidden_size=size.hidden, num_hidden_layers=size.layers, num_attention_heads=size.heads,
        intermediate_size=size.ffn, conv_dim=[size.conv_channels] * 7, feat_extract_norm="layer",
        num_conv_pos_embeddings=size.conv_pos, num_conv_pos_embedding_groups=size.conv_pos_groups,
        num_buckets=size.buckets, max_bucket_distance=size.max_distance, do_stable_layer_norm=True,
    )
    theirs = transformers.WavLMModel(hf_config).eval()
    renames = [
        (".0.weight", ".conv.weight"), (".2.1.", ".layer_norm."), ("encoder.pos_conv.0.weight_", "encoder.pos_conv_embed.conv.weight_"),
        ("encoder.pos_conv.0.bias", "encoder.pos_conv_embed.conv.bias"), (".self_attn.grep_a", ".attention.gru_rel_pos_const"),
        (".self_attn.grep_linear", ".attention.gru_rel_pos_linear"), (".self_attn.relative_attention_bias", ".attention.rel_attn_embed"),
        (".self_attn_layer_norm.", ".layer_norm."), (".self_attn.", ".attention."), (".fc1.", ".feed_forward.intermediate_dense."),
        (".fc2.", ".feed_forward.output_dense."),
    ]
    hf_state = {}
    for key, tensor in state.items():
        if key == "mask_emb":
            key = "masked_spec_embed"
        elif key.startswith("layer_norm."):
            key = "feature_projection." + key
        elif key.startswith("post_extract_proj."):
            key = key.replace("post_extract_proj.", "feature_projection.projection.")
        else:
            for old, new in renames:
                if old in key and not (old == ".0.weight" and not key.startswith("feature_extractor")):
                    key = key.replace(old, new)
        hf_state[key] = tensor
    g = hf_state.pop("encoder.pos_conv_embed.conv.weight_g")
    v = hf_state.pop("encoder.pos_conv_embed.conv.weight_v")
    hf_state["encoder.pos_conv_embed.conv.parametrizations.weight.original0"] = g
    hf_state["encoder.pos_conv_embed.conv.parametrizations.weight.original1"] = v
    theirs.load_state_dict(hf_state, strict=True)

    waveform = torch.randn(2, 24000) * 0.3
    with torch.no_grad():
        our_states = ours(waveform)
        hf_states = theirs(waveform, output_hidden_states=True).hidden_states
    assert len(our_states) == len(hf_states) == size.layers + 1
    # Both are the CNN-projected input plus each layer's raw output (no final LayerNorm): what
    # Sparse MERIT concatenates.
    for index, (a, b) in enumerate(zip(our_states, hf_states, strict=True)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4, msg=f"hidden state {index}")


def test_the_heads_compute_what_the_released_modules_compute(release):
    """Our converted heads against the released heads' arithmetic on the raw tensors of the files:
    per-layer LayerNorm + concat, experts, argmax routers with a one-hot gate, attentive statistics
    pooling (h @ attention, variance floor 1e-5), EmotionRegression, and BLSTM_multi_no_ws with its
    [log1p magnitude, features] input order."""
    official = load_official(release)
    model = official.model
    files = {name: torch.load(released_file(release, name), weights_only=True)["model"] for name in
             ("final_mmoe.pt", "final_pool.pt", "final_ser.pt", "final_se.pt")}
    mmoe, pool, ser, se = (files[n] for n in ("final_mmoe.pt", "final_pool.pt", "final_ser.pt", "final_se.pt"))
    mean, std = read_norm_stats(released_file(release, "train_norm_stat.pkl"))
    waveform = torch.randn(1, 20000) * 0.05
    with torch.no_grad():
        out = model(waveform)
        x = (waveform - mean) / (std + 1e-8)
        layers = model.backbone(x)
        normed = [F.layer_norm(h, h.shape[-1:], mmoe[f"layer_norms.{i}.weight"], mmoe[f"layer_norms.{i}.bias"]) for i, h in enumerate(layers)]
        joined = torch.cat(normed, dim=-1)
        experts = torch.stack([
            F.linear(F.relu(F.linear(joined, mmoe[f"experts.{e}.fc1.weight"], mmoe[f"experts.{e}.fc1.bias"])),
                     mmoe[f"experts.{e}.fc2.weight"], mmoe[f"experts.{e}.fc2.bias"]) for e in range(3)], dim=-1)
        task = []
        for t in range(2):
            probs = F.softmax(F.linear(joined, mmoe[f"gates.{t}.fc.weight"], mmoe[f"gates.{t}.fc.bias"]), dim=-1)
            mask = torch.zeros_like(probs).scatter_(-1, probs.argmax(-1, keepdim=True), 1)
            task.append(((experts * mask.unsqueeze(2)).sum(-1), probs))
        (se_features, se_probs), (ser_features, ser_probs) = task
        h = torch.tanh(F.linear(ser_features, pool["sap_linear.weight"], pool["sap_linear.bias"]))
        w = F.softmax(torch.matmul(h, pool["attention"]).squeeze(2), dim=1).unsqueeze(-1)
        mu = (ser_features * w).sum(1)
        rh = torch.sqrt(((ser_features**2 * w).sum(1) - mu**2).clamp(min=1e-5))
        hidden = F.relu(F.layer_norm(F.linear(torch.cat([mu, rh], 1), ser["fc.0.0.weight"], ser["fc.0.0.bias"]), (ser["fc.0.1.weight"].shape[0],), ser["fc.0.1.weight"], ser["fc.0.1.bias"]))
        logits = F.linear(hidden, ser["out.0.weight"], ser["out.0.bias"])
        torch.testing.assert_close(out.emotion_logits, logits, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(out.ser_probs, ser_probs)
        torch.testing.assert_close(out.se_probs, se_probs)

        window = torch.hamming_window(400, dtype=torch.float64)
        spec = torch.stft(x.double(), 400, 160, 400, window, center=True, pad_mode="reflect", return_complex=True)
        magnitude = spec.abs() + 1e-6
        log1p = torch.log1p(magnitude).float()  # (1, bins, frames)
        features = se_features.repeat(1, 1, 2).reshape(1, -1, se_features.shape[-1])
        features = torch.cat([features, features[:, -1:].repeat(1, log1p.shape[2] - features.shape[1], 1)], dim=1)
        joined_se = torch.cat([log1p.transpose(1, 2), features], dim=2)
        lstm = torch.nn.LSTM(se["lstm_enc.0.weight"].shape[0], se["lstm_enc.1.blstm.weight_hh_l0"].shape[1], num_layers=2, batch_first=True, bidirectional=True)
        lstm.load_state_dict({k[len("lstm_enc.1.blstm."):]: v for k, v in se.items() if k.startswith("lstm_enc.1.blstm.")})
        y, _ = lstm(F.linear(joined_se, se["lstm_enc.0.weight"], se["lstm_enc.0.bias"]))
        half = y.shape[-1] // 2
        mask = torch.sigmoid(F.linear(y[..., :half] + y[..., half:], se["lstm_enc.2.weight"], se["lstm_enc.2.bias"]))
        enhanced_log1p = mask.transpose(1, 2) * log1p
        phase = spec / magnitude
        enhanced_spec = phase * (torch.expm1(enhanced_log1p.double()) - 1e-6)
        enhanced = torch.istft(enhanced_spec, 400, 160, 400, window, center=True, length=x.shape[-1]).float()
        enhanced = enhanced * (std + 1e-8) + mean
        torch.testing.assert_close(out.enhanced, enhanced, rtol=1e-3, atol=2e-5)


def test_missing_files_are_named(release, tmp_path):
    copy = fresh_copy(release, tmp_path)
    released_file(copy, "final_pool.pt").unlink()
    with pytest.raises(OfficialCheckpointError, match="missing final_pool.pt"):
        load_official(copy)
    with pytest.raises(OfficialCheckpointError, match="not a folder"):
        load_official(tmp_path / "nowhere")


def test_a_truncated_file_is_reported_as_such(release, tmp_path):
    copy = fresh_copy(release, tmp_path)
    path = released_file(copy, "final_mmoe.pt")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(OfficialCheckpointError, match=r"final_mmoe.pt: not a readable PyTorch checkpoint .*cut short or damaged"):
        load_official(copy)


def test_a_checkpoint_of_another_model_is_refused(release, tmp_path):
    copy = fresh_copy(release, tmp_path)
    # The pooling weights where the SER head should be: names that do not match.
    shutil.copy(released_file(copy, "final_pool.pt"), released_file(copy, "final_ser.pt"))
    with pytest.raises(OfficialCheckpointError, match="final_ser.pt has no tensor 'fc.0.0.weight'"):
        load_official(copy)
    # An extra tensor the released model does not have.
    copy2 = fresh_copy(release, tmp_path / "2")
    edit_checkpoint(copy2, "final_se.pt", lambda c: c["model"].update({"lstm_enc.3.weight": torch.zeros(3)}))
    with pytest.raises(OfficialCheckpointError, match="final_se.pt holds tensors the released model does not have: lstm_enc.3.weight"):
        load_official(copy2)


def test_mismatched_shapes_and_sizes_are_explained(release, tmp_path):
    copy = fresh_copy(release, tmp_path)
    edit_checkpoint(copy, "final_ssl.pt", lambda c: c["model"].update({"encoder.layers.1.fc1.weight": torch.zeros(7, 32)}))
    with pytest.raises(OfficialCheckpointError, match=r"final_ssl.pt: encoder.layers.1.fc1.weight has shape \(7, 32\), the model needs \(64, 32\)"):
        load_official(copy)
    copy2 = fresh_copy(release, tmp_path / "2")
    edit_checkpoint(copy2, "WavLM-Large.pt", lambda c: c["cfg"].update({"encoder_layers": 3}))
    with pytest.raises(OfficialCheckpointError, match="the MoE normalises 3 layers, WavLM gives 4 hidden states"):
        load_official(copy2)


def test_a_wrong_class_count_needs_names(release, tmp_path):
    copy = fresh_copy(release, tmp_path)
    edit_checkpoint(copy, "final_ser.pt", lambda c: c.update({"model": ser_state(FixtureSize(classes=5), FixtureRandom(3))}))
    with pytest.raises(OfficialCheckpointError, match="predicts 5 classes; the released model has 4 .*--classes"):
        load_official(copy)
    with pytest.raises(OfficialCheckpointError, match="--classes names 4 classes, final_ser.pt predicts 5"):
        load_official(copy, ("a", "b", "c", "d"))
    model = load_official(copy, ("a", "b", "c", "d", "e")).model
    assert model(torch.zeros(1, 16000)).emotion_logits.shape == (1, 5)


def test_norm_statistics_refuse_code_and_nonsense(release, tmp_path):
    path = tmp_path / "train_norm_stat.pkl"

    class Sneaky:
        def __reduce__(self):
            return (print, ("ran code",))

    path.write_bytes(pickle.dumps((Sneaky(), 1.0)))
    with pytest.raises(OfficialCheckpointError, match="refusing to load builtins.print"):
        read_norm_stats(path)
    path.write_bytes(pickle.dumps((np.float32(0.0), np.float32(0.0))))
    with pytest.raises(OfficialCheckpointError, match="not usable statistics"):
        read_norm_stats(path)
    assert read_norm_stats(released_file(release, "train_norm_stat.pkl"))[1] == pytest.approx(0.071)


def test_the_converter_exits_with_the_reason(tmp_path):
    result = subprocess.run(
        [sys.executable, str(TRAINING / "convert_official.py"), "--weights", str(tmp_path), "--out", str(tmp_path / "x.onnx")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert "error:" in result.stderr and "missing WavLM-Large.pt" in result.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_heads_fixture_shapes_follow_the_released_modules():
    """The stand-in's head tensors have the released modules' shapes (2048-in SER head etc.) at full size."""
    from merit.official_fixture import FULL_SIZE

    r = FixtureRandom(0)
    assert pool_state(FULL_SIZE, r)["attention"].shape == (1024, 1)
    assert ser_state(FULL_SIZE, r)["fc.0.0.weight"].shape == (1024, 2048)
    assert se_state(FULL_SIZE, r)["lstm_enc.0.weight"].shape == (256, 1225)


def test_ort_runs_the_converted_model_at_dynamic_lengths(converted):
    out, _ = converted
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for samples in (8000, 16000 * 31):
        outputs = session.run(None, {"waveform": np.zeros((2, samples), np.float32)})
        assert outputs[1].shape == (2, samples)


def test_int8_folds_the_weight_transposes_so_every_weight_product_is_quantisable(converted):
    import onnx

    from merit.weight_folding import fold_weight_transposes

    out, _ = converted
    graph = onnx.load(str(out)).graph
    initializers = {init.name for init in graph.initializer}
    producers = {o: node for node in graph.node for o in node.output}

    def weight_fed(node):
        source = producers.get(node.input[1])
        return node.input[1] in initializers or (source is not None and source.op_type == "Transpose" and source.input[0] in initializers)

    weighted = sum(1 for node in graph.node if node.op_type == "MatMul" and weight_fed(node))
    assert fold_weight_transposes(graph) > 0
    initializers = {init.name for init in graph.initializer}
    assert sum(1 for node in graph.node if node.op_type == "MatMul" and node.input[1] in initializers) == weighted
    assert not any(node.op_type == "Transpose" and node.input[0] in initializers for node in graph.node)


def test_int8_model_keeps_the_float_outputs_and_is_written_only_when_it_does(converted, tmp_path, monkeypatch):
    """convert_official.py --int8's step on the converted stand-in: the quantised products, the checks
    against float32 (printed, in the metadata), the contract; a failing check writes nothing."""
    import convert_official

    import merit.precision_parity as precision_parity

    out, _ = converted
    target = tmp_path / "int8.onnx"
    int8 = convert_official.write_int8(out, target, tmp_path / "staging", threads=1)
    assert int8 is not None and target.exists()
    assert int8["quantisation"]["quantised"] > 0 and int8["quantisation"]["kept_float32"] > 0
    parity = int8["parity"]
    assert parity["passed"] and parity["pooled_cosine_min"] >= precision_parity.COSINE_MIN
    assert parity["ssnr_difference_db_max"] <= precision_parity.SSNR_MAX_DB
    assert verify_onnx_contract(target)["int8"]["parity"]["passed"]
    ops = {node.op_type for node in __import__("onnx").load(str(target)).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul"}
    assert int8["timing"]["rtf"] > 0 and int8["timing"]["peak_mb"] > 0

    monkeypatch.setattr(precision_parity, "COSINE_MIN", 1.01)
    refused = tmp_path / "refused.onnx"
    assert convert_official.write_int8(out, refused, tmp_path / "staging2", threads=1) is None
    assert not refused.exists()


def test_fp16_model_halves_the_backbone_and_experts_keeps_the_float_outputs_and_is_written_only_when_it_does(
    release, converted, tmp_path, monkeypatch
):
    """convert_official.py --fp16's step on the converted stand-in: the backbone's and experts' weights
    in half precision, the heads' in float32, float32 inputs and outputs (the contract), the checks
    against float32 (here on the CPU); a failing check writes nothing."""
    import onnx

    import convert_official
    import merit.precision_parity as precision_parity

    out, _ = converted
    target = tmp_path / "fp16.onnx"
    fp16 = convert_official.write_fp16(load_official(release).model, out, target, tmp_path / "staging", threads=1)
    assert fp16 is not None and target.exists()
    assert fp16["half_modules"][0] == "backbone" and any(name.startswith("moe.experts.") for name in fp16["half_modules"])
    assert fp16["parity"]["passed"] and fp16["parity"]["label_top1_agreement"] == 1.0
    metadata = verify_onnx_contract(target)
    assert metadata["precision"] == "fp16" and metadata["fp16"]["parity"]["passed"]
    types = {init.name: init.data_type for init in onnx.load(str(target)).graph.initializer}
    half = onnx.TensorProto.FLOAT16
    assert any(t == half for name, t in types.items() if name.startswith("model.backbone."))
    assert all(t != half for name, t in types.items() if name.startswith(("model.ser_head.", "model.se_head.", "model.moe.gates.")))

    monkeypatch.setattr(precision_parity, "COSINE_MIN", 1.01)
    refused = tmp_path / "refused.onnx"
    assert convert_official.write_fp16(load_official(release).model, out, refused, tmp_path / "staging2", threads=1) is None
    assert not refused.exists()


def test_large_models_keep_their_weights_beside_them_and_the_studio_finds_them(tmp_path, monkeypatch):
    """Past EXTERNAL_DATA_BYTES the exporter writes `<model>.onnx.data`; the pair can move together,
    the studio's engine loads it, and a missing data file is reported."""
    from make_tiny import build_tiny

    from merit import export

    monkeypatch.setattr(export, "EXTERNAL_DATA_BYTES", 0)
    model = build_tiny(seed=2)
    path = tmp_path / "made" / "big.onnx"
    export.export_onnx(model, path, export.metadata_for(model, "test", "random"))
    data = path.with_name("big.onnx.data")
    assert data.stat().st_size > 1_000_000
    assert sorted(p.name for p in path.parent.iterdir()) == ["big.onnx", "big.onnx.data"], "no staging left behind"
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.move(path, moved / path.name)
    shutil.move(data, moved / data.name)
    studio = str(studio_binary())
    demo = str(REPO / "projects/demo/audio/angry_m1.wav")
    result = subprocess.run([studio, "analyze", "--model", str(moved / "big.onnx"), "--device", "cpu", "--out", str(tmp_path / "run"), demo],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert export.model_sha256(moved / "big.onnx") != export.sha256_of(moved / "big.onnx"), "the hash covers the weights"
    (moved / "big.onnx.data").unlink()
    result = subprocess.run([studio, "analyze", "--model", str(moved / "big.onnx"), "--device", "cpu", "--out", str(tmp_path / "run2"), demo],
                            capture_output=True, text=True)
    assert result.returncode != 0
    print(result.stderr[-600:])
    assert "big.onnx" in result.stderr and "not a usable ONNX model" in result.stderr
