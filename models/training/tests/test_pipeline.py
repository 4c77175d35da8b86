"""End to end on a handful of clips: corpus -> pre-training -> Sparse MERIT and a baseline ->
evaluation -> ONNX export with the contract. Checks the plumbing, not the accuracy."""

import json
import math
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
import torch

from conftest import TRAINING
from merit.corpus import PRESETS, generate
from merit.data import CorpusError, load_split, read_manifest
from merit.dev_enhancement import dev_gains
from merit.export import UNUSED_AT_INFERENCE, export_onnx, metadata_for, verify_onnx_contract
from merit.train import load_trained


def run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", *args], cwd=TRAINING, check=True)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    return generate(out, PRESETS["smoke"], seed=3, workers=2, cache=tmp_path_factory.getbasetemp() / "debian-cache")


def test_pipeline_end_to_end(manifest, tmp_path):
    runs = tmp_path / "runs"
    run("merit.pretrain", "--corpus", str(manifest), "--out", str(runs / "pretrain"), "--preset", "tiny", "--epochs", "1", "--clusters", "8", "--batch-size", "4")
    common = ["--corpus", str(manifest), "--preset", "tiny", "--frozen-epochs", "1", "--finetune-epochs", "1", "--batch-size", "4", "--backbone", str(runs / "pretrain/backbone.pt")]
    run("merit.train", "--variant", "sparse_merit", "--out", str(runs / "sparse_merit"), *common)
    run("merit.train", "--variant", "mtl", "--out", str(runs / "mtl"), "--se-loss-weight", "2.5", "--se-input", "normalised", *common)
    configs = {name: torch.load(runs / name / "model.pt", weights_only=False)["config"] for name in ("sparse_merit", "mtl")}
    assert configs["mtl"]["se_loss_weight"] == 2.5
    assert (configs["sparse_merit"]["se_normalised"], configs["mtl"]["se_normalised"]) == (False, True)
    gains = [dev_gains(runs / name / "model.pt", manifest) for name in ("sparse_merit", "mtl")]
    assert [g["se_input"] for g in gains] == ["raw", "normalised"]
    assert all(g["clips"] > 0 and math.isfinite(g["ssnr_gain_db"]) for g in gains), gains
    log = [json.loads(line) for line in (runs / "sparse_merit/log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == ["frozen", "finetune", "int8"]
    # The kept checkpoint is rounded to int8, and what that did to the dev split is logged.
    assert log[-1]["tensors"] > 0 and "rounded_dev_objective" in log[-1]
    # A rerun resumes: nothing is trained again.
    run("merit.train", "--variant", "sparse_merit", "--out", str(runs / "sparse_merit"), *common)
    assert len((runs / "sparse_merit/log.jsonl").read_text().splitlines()) == 3
    run("merit.evaluate", "--corpus", str(manifest), "--runs", str(runs), "--out", str(tmp_path / "eval"), "--perceptual-utterances", "1")
    results = json.loads((tmp_path / "eval/results.json").read_text())
    assert set(results["ser"]) == {"sparse_merit", "naive_mtl"}
    assert "unseen/-5dB" in results["ser"]["sparse_merit"]
    assert results["se"]["noisy input"]["seen/-5dB"]["ssnr"] < results["se"]["noisy input"]["seen/+10dB"]["ssnr"]
    assert sum(results["experts"]["sparse_merit"]["se_usage"]) == pytest.approx(1.0, abs=1e-3)
    run("merit.ser_by_input", "--corpus", str(manifest), "--runs", str(runs), "--out", str(tmp_path / "eval"))
    by_input = json.loads((tmp_path / "eval/ser_by_input.json").read_text())["macro_f1"]
    assert set(by_input) == {"sparse_merit", "naive_mtl"}
    assert set(by_input["sparse_merit"]) == {"noisy", "sparse_merit enhanced", "clean"}
    onnx_path = tmp_path / "model.onnx"
    run("merit.ship", "--model", str(runs / "sparse_merit/model.pt"), "--eval", str(tmp_path / "eval"), "--corpus", str(manifest), "--out", str(onnx_path))
    metadata = verify_onnx_contract(onnx_path)
    assert "unseen/-5dB" in metadata["evaluation"]["ser_macro_f1"]
    card = (tmp_path / "model.md").read_text()
    assert card.startswith("# sparse-merit-tiny")
    assert "rounded to int8 per row" in card
    assert "SE head input: the routed expert output" in card
    assert "SER macro-F1 by input" in card
    assert any(init.data_type == onnx.TensorProto.INT8 for init in onnx.load(str(onnx_path)).graph.initializer)
    # Its CPU variant is written beside it when it keeps the labels, and the card says which happened.
    variant = tmp_path / "model.cpu-int8.onnx"
    assert ("CPU variant `model.cpu-int8.onnx`" in card) == variant.exists()
    assert variant.exists() or "No CPU variant: the int8 model's labels agree" in card


def test_a_speaker_relative_pitch_model_is_refitted_and_scored_with_and_without_speaker_references(manifest, tmp_path):
    runs = tmp_path / "runs"
    run("merit.train", "--variant", "sparse_merit", "--corpus", str(manifest), "--preset", "tiny", "--frozen-epochs", "1",
        "--finetune-epochs", "1", "--batch-size", "4", "--speaker-relative", "--pitch-features", "--out", str(runs / "trained"))
    saved = torch.load(runs / "trained/model.pt", weights_only=False)
    assert saved["config"]["speaker_relative"] and saved["config"]["pitch_features"]
    # Training moved the population reference away from its zero start.
    assert saved["state_dict"]["ser_head.population_reference"].abs().sum() > 0
    run("merit.refit", "--model", str(runs / "trained/model.pt"), "--corpus", str(manifest), "--mixtures", "1", "--voiced-pitch",
        "--fit-rounds", "clean", "--out", str(runs / "sparse_merit"))
    refit = json.loads((runs / "sparse_merit/log.jsonl").read_text().splitlines()[-1])
    assert refit["rounds"] == 2 and len(refit["families"]) >= 2 and len(refit["held_out_family_macro_f1"]) == 12
    assert refit["voiced_pitch"] and refit["fit_rounds"] == "clean"
    assert all(set(scores) == {"weighted", "speaker", "population", "gender"} for scores in refit["held_out_family_macro_f1"].values())
    state = torch.load(runs / "sparse_merit/model.pt", weights_only=False)["state_dict"]
    assert float(state["ser_head.classifier_gate"]) == refit["gate"]
    # The pitch path reads the voiced frames' pitch too: 2 x 4 pooled pitch statistics and 2 more.
    assert state["ser_head.prosody.1.weight"].shape[1] == 2 * 4 + 2
    assert torch.load(runs / "sparse_merit/model.pt", weights_only=False)["config"]["voiced_pitch"]
    # Its gender references are the mean statistics of each gender's training clips (the trained
    # model had none fitted).
    assert torch.isnan(saved["state_dict"]["ser_head.gender_references"]).all()
    genders = refit["gender_reference_clips"]
    assert set(genders) == {"female", "male"} and sum(genders.values()) == refit["clips"]
    assert torch.isfinite(state["ser_head.gender_references"]).all()
    assert not torch.equal(state["ser_head.gender_references"][0], state["ser_head.gender_references"][1])
    # The SE pre-processing baseline's refit hears its enhancer's output, as its training did.
    enhancer = runs / "trained/model.pt"
    run("merit.refit", "--model", str(runs / "trained/model.pt"), "--corpus", str(manifest), "--mixtures", "1", "--voiced-pitch",
        "--fit-rounds", "clean", "--l2", "0.001", "--enhancer", str(enhancer), "--out", str(tmp_path / "enhanced-refit"))
    enhanced_refit = json.loads((tmp_path / "enhanced-refit/log.jsonl").read_text())
    assert enhanced_refit["enhancer"] == str(enhancer)
    # With the L2 weight given, only the gate is chosen.
    assert enhanced_refit["l2"] == 0.001 and len(enhanced_refit["held_out_family_macro_f1"]) == 4
    heard_enhanced = torch.load(tmp_path / "enhanced-refit/model.pt", weights_only=False)["state_dict"]
    assert not torch.equal(heard_enhanced["ser_head.prosody.0.mean"], state["ser_head.prosody.0.mean"])
    run("merit.evaluate", "--corpus", str(manifest), "--runs", str(runs), "--out", str(tmp_path / "eval"), "--perceptual-utterances", "0")
    results = json.loads((tmp_path / "eval/results.json").read_text())
    assert set(results["ser"]) == {"sparse_merit", "sparse_merit (no speaker reference)", "sparse_merit (gender reference)"}
    for name in results["ser"]:
        assert results["ser"][name]["clean"]["n"] == results["test_utterances"]
    # Enhancement is the model's own, counted once.
    assert set(results["se"]) == {"noisy input", "sparse_merit"}
    # SER by input scores it against the same references: the noisy column is evaluate's figure.
    run("merit.ser_by_input", "--corpus", str(manifest), "--runs", str(runs), "--out", str(tmp_path / "eval"))
    by_input = json.loads((tmp_path / "eval/ser_by_input.json").read_text())["macro_f1"]["sparse_merit"]
    assert by_input["noisy"] == pytest.approx(results["ser"]["sparse_merit"]["unseen/-5dB"]["macro_f1"])
    # One family's clips only (a leave-one-family-out model's): evaluate's figure for that family.
    family = sorted(results["by_family"])[0]
    run("merit.ser_by_input", "--corpus", str(manifest), "--runs", str(runs), "--family", family, "--out", str(tmp_path / "eval-family"))
    one_family = json.loads((tmp_path / "eval-family/ser_by_input.json").read_text())
    assert one_family["family"] == family and f"the {family} family's" in (tmp_path / "eval-family/ser_by_input.md").read_text()
    assert one_family["macro_f1"]["sparse_merit"]["noisy"] == pytest.approx(results["by_family"][family]["sparse_merit"]["unseen/-5dB"]["macro_f1"])
    # Shipped, it keeps the contract's reference input (parity checked with and without one) and
    # its card says what its rows mean.
    onnx_path = tmp_path / "relative.onnx"
    run("merit.ship", "--model", str(runs / "sparse_merit/model.pt"), "--eval", str(tmp_path / "eval"), "--corpus", str(manifest), "--out", str(onnx_path))
    metadata = verify_onnx_contract(onnx_path)
    assert metadata["speaker_relative"]
    # The studio gets the gender references from the metadata, to the float32 value.
    for number, gender in enumerate(("female", "male")):
        assert metadata["gender_references"][gender] == state["ser_head.gender_references"][number].tolist()
    card = onnx_path.with_suffix(".md").read_text()
    assert "**Speaker-relative.**" in card and "no speaker reference" in card and "gender reference" in card


def test_bad_corpora_fail_clearly(manifest, tmp_path):
    with pytest.raises(CorpusError, match="manifest not found"):
        read_manifest(tmp_path / "none.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"path": "a.wav", "split": "train", "label": "sad"}\n{not json\n')
    with pytest.raises(CorpusError, match="broken.jsonl:2"):
        read_manifest(broken)
    with pytest.raises(CorpusError, match="'eval' split is empty"):
        load_split(manifest, "eval")
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    no_sad = manifest.parent / "no_sad.jsonl"
    no_sad.write_text("".join(json.dumps(r) + "\n" for r in rows if not (r["split"] == "dev" and r["label"] == "sad")))
    with pytest.raises(CorpusError, match=r"no examples of \['sad'\]"):
        load_split(no_sad, "dev")
    import numpy as np
    import soundfile as sf
    sf.write(manifest.parent / "r8k.wav", np.zeros(8000, np.float32), 8000)
    odd = manifest.parent / "odd_rate.jsonl"
    odd.write_text(json.dumps({"path": "r8k.wav", "split": "train", "label": "sad"}) + "\n")
    with pytest.raises(CorpusError, match="8000 Hz"):
        load_split(odd, "train", require_all_classes=False)


def test_polishing_the_se_head_leaves_everything_else_bit_identical(manifest, tmp_path):
    trained, polished = tmp_path / "trained", tmp_path / "polished"
    run("merit.train", "--variant", "sparse_merit", "--corpus", str(manifest), "--preset", "tiny", "--frozen-epochs", "1",
        "--finetune-epochs", "0", "--batch-size", "4", "--out", str(trained))
    polish = ["merit.se_polish", "--model", str(trained / "model.pt"), "--corpus", str(manifest), "--epochs", "2",
              "--ssnr-weight", "0.05", "--randomise-noise", "--batch-size", "4", "--lr", "0.01", "--out", str(polished)]
    run(*polish)
    log = [json.loads(line) for line in (polished / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == ["before polishing", "polish", "polish", "polished"]
    assert all(math.isfinite(entry["train_ssnr"]) for entry in log[1:3])
    before = torch.load(trained / "model.pt", weights_only=False)["state_dict"]
    saved = torch.load(polished / "model.pt", weights_only=False)
    after = saved["state_dict"]
    assert saved["se_polish"]["best_epoch"] == log[-1]["best_epoch"]
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert all(name.startswith("se_head.") for name in changed), changed
    # The kept epoch is the dev split's best, the unpolished model included (epoch -1).
    gains = {entry["epoch"]: entry["dev_ssnr_gain"] for entry in log[:3]}
    assert log[-1]["best_epoch"] == max(gains, key=gains.get)
    assert bool(changed) == (log[-1]["best_epoch"] >= 0)
    # A rerun resumes: nothing is polished again.
    run(*polish)
    assert len((polished / "log.jsonl").read_text().splitlines()) == 4


def test_an_se_head_input_is_trained_and_a_new_head_polished_from_an_onnx_file_and_compared(manifest, tmp_path):
    """merit.train --se-head-input, then merit.se_polish --new-head on the exported model
    (run_se_head.sh's path): only the SE head differs from the file's weights, the config records the
    new input, and merit.evaluate --model scores both files with their paired SSNR difference per
    voice family."""
    trained = tmp_path / "trained"
    run("merit.train", "--variant", "sparse_merit", "--corpus", str(manifest), "--preset", "tiny", "--frozen-epochs", "1",
        "--finetune-epochs", "0", "--batch-size", "4", "--se-head-input", "routed+layers", "--out", str(trained))
    assert torch.load(trained / "model.pt", weights_only=False)["config"]["se_head_input"] == "routed+layers"
    source = tmp_path / "source.onnx"
    model = load_trained(trained / "model.pt")
    export_onnx(model, source, metadata_for(model, "test", "smoke corpus"))
    polished = tmp_path / "routed"
    run("merit.se_polish", "--model", str(source), "--new-head", "routed", "--corpus", str(manifest), "--epochs", "1",
        "--batch-size", "4", "--out", str(polished))
    saved = torch.load(polished / "model.pt", weights_only=False)
    assert saved["config"]["se_head_input"] == "routed" and saved["se_polish"]["new_head"] == "routed"
    before, after = load_trained(source).state_dict(), saved["state_dict"]
    assert after["se_head.input.weight"].shape[1] < before["se_head.input.weight"].shape[1]
    kept = [name for name in before if not name.startswith(("se_head.", *UNUSED_AT_INFERENCE))]
    assert kept and all(torch.equal(before[name], after[name]) for name in kept)
    out = tmp_path / "eval"
    run("merit.evaluate", "--corpus", str(manifest), "--runs", str(tmp_path / "no-runs"), "--only", "noisy input", "--perceptual-utterances", "0",
        "--model", f"source={source}", "--model", f"routed={polished / 'model.pt'}", "--out", str(out))
    results = json.loads((out / "results.json").read_text())
    assert set(results["se"]) == {"noisy input", "source", "routed"}
    assert "ssnr routed - source @ unseen/-5dB" in results["differences"]
    assert not any(name.startswith("ssnr source - ") for name in results["differences"])
    bad = subprocess.run([sys.executable, "-m", "merit.evaluate", "--corpus", str(manifest), "--runs", str(tmp_path), "--out", str(out),
                          "--model", "nameless"], cwd=TRAINING, capture_output=True, text=True)
    assert bad.returncode != 0 and "expected NAME=PATH" in bad.stderr
