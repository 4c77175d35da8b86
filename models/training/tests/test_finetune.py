"""The fine-tuning loop end to end on the demo project: correct labels with `merit-studio label`,
export them, fine-tune the tiny model a few steps on CPU, analyse with the new model in the Rust
engine, and see its predictions on the corrected files move toward the corrected labels."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, TRAINING
from merit.export import load_onnx_model, verify_onnx_contract

TINY = REPO / "models" / "sparse-merit-tiny.onnx"
TINY_RELATIVE = REPO / "models" / "sparse-merit-tiny-relative.onnx"
CORRECTED = "sad"


def studio_binary():
    for profile in ("debug", "release"):
        binary = REPO / "target" / profile / "merit-studio"
        if binary.exists():
            return binary
    pytest.skip("merit-studio is not built (scripts/test.sh builds it before the Python tests)")


def run(*args, **kwargs):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def mean_probability(results, label):
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert all(row["error"] is None for row in rows)
    return sum(row["probs"][label] for row in rows) / len(rows)


def test_weights_come_back_from_the_onnx_file():
    model, metadata, digest = load_onnx_model(TINY)
    assert metadata["model"] == "sparse-merit-tiny"
    assert len(digest) == 64
    assert list(model.config.classes) == ["angry", "sad", "happy", "neutral"]
    # The rebuilt PyTorch model computes what the ONNX file computes.
    import numpy as np
    import onnxruntime as ort
    import torch

    waveform = (np.random.default_rng(0).standard_normal((1, 24000)) * 0.1).astype(np.float32)
    session = ort.InferenceSession(str(TINY), providers=["CPUExecutionProvider"])
    onnx_logits = session.run(["emotion_logits"], {"waveform": waveform})[0]
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(waveform)).emotion_logits.numpy()
    np.testing.assert_allclose(torch_logits, onnx_logits, rtol=1e-4, atol=1e-5)


def test_corrected_labels_pull_the_fine_tuned_model_toward_them(tmp_path):
    binary = studio_binary()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "RUST_LOG": "error"}
    project = tmp_path / "demo"
    shutil.copytree(REPO / "projects" / "demo", project)
    files = [f"audio/{p.name}" for p in sorted((project / "audio").iterdir())]
    edits = "".join(json.dumps({"file": f, "class": CORRECTED}) + "\n" for f in files)
    acks = run(binary, "label", project, "--annotator", "corrector", input=edits, env=env)
    assert all(json.loads(line)["ok"] for line in acks.splitlines())
    manifest = tmp_path / "labels.jsonl"
    run(binary, "export", project, "--format", "jsonl", "--audio16k", "--annotator", "corrector", "--out", manifest, env=env)
    tuned = tmp_path / "tuned.onnx"
    report = run(
        sys.executable, "-m", "merit.finetune", "--model", TINY, "--manifest", manifest, "--out", tuned,
        "--train", "routers", "--steps", "20", "--holdout", "0", "--threads", "1",
        cwd=TRAINING, env={**env, "PYTHONWARNINGS": "ignore"},
    )
    figures = json.loads(report[report.index("{"):])
    assert figures["after"]["train"]["mean_p_label"] > figures["before"]["train"]["mean_p_label"]
    metadata = verify_onnx_contract(tuned)
    assert metadata["parent_model_sha256"] == figures["parent_sha256"]
    assert metadata["evaluation"]["fine_tuning"]["steps"] == 20
    # The Rust engine analyses with both models; the corrected class gains.
    for name, model in (("before", TINY), ("after", tuned)):
        run(binary, "analyze", project, "--model", model, "--out", tmp_path / name, "--no-cache", env=env)
    before = mean_probability(tmp_path / "before" / "results.jsonl", CORRECTED)
    after = mean_probability(tmp_path / "after" / "results.jsonl", CORRECTED)
    print(f"mean P({CORRECTED}) on the {len(files)} corrected recordings: before {before:.3f}, after {after:.3f}")
    assert after > before + 0.05


def test_a_bad_label_export_is_refused_with_its_line(tmp_path):
    from merit.data import CorpusError
    from merit.finetune import read_rows

    classes = ["angry", "sad", "happy", "neutral"]
    audio = str(REPO / "projects/demo/audio/angry_m1.wav")
    export = tmp_path / "labels.jsonl"
    cases = [
        ("{not json", "labels.jsonl:1: not valid JSON"),
        (json.dumps({"label": "sad"}), "labels.jsonl:1: missing path"),
        (json.dumps({"path": audio, "label": "bored"}), "labels.jsonl:1: label 'bored' is not one of"),
        (json.dumps({"path": audio, "label": "no_agreement"}), "no labelled rows"),
    ]
    for line, message in cases:
        export.write_text(line + "\n")
        with pytest.raises(CorpusError, match=message):
            read_rows(export, classes)
    with pytest.raises(CorpusError, match="nowhere.jsonl: not found"):
        read_rows(tmp_path / "nowhere.jsonl", classes)
    export.write_text("\n" + json.dumps({"path": audio, "label": "angry", "split": "test"}) + "\n")
    assert [(r["label"], r["split"]) for r in read_rows(export, classes)] == [(0, "test")]


@pytest.mark.parametrize("method", ["fit", "routers"])
def test_a_speaker_relative_model_is_scored_and_fine_tuned_against_its_speakers(tmp_path, method):
    """As the studio analyses it: each row against its speaker's other rows of the export."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(3)
    manifest = tmp_path / "labels.jsonl"
    lines = []
    for number in range(12):
        speaker = "ann" if number < 8 else "bob"
        label = ["angry", "sad", "happy", "neutral"][number % 4]
        tone = np.sin(2 * np.pi * (120 + 40 * (number % 4)) * np.arange(16000) / 16000) * 0.1
        path = tmp_path / f"{number}.wav"
        sf.write(path, (tone + rng.standard_normal(16000) * 0.01).astype(np.float32), 16000)
        split = "test" if number in (0, 1, 8) else "train"
        lines.append(json.dumps({"path": str(path), "file": path.name, "label": label, "speaker": speaker, "split": split}))
    manifest.write_text("\n".join(lines) + "\n")
    # A parent with gender references (as merit.refit fits them) in its metadata.
    import onnx

    from merit.export import METADATA_KEY

    parent = onnx.load(str(TINY_RELATIVE))
    entry = next(p for p in parent.metadata_props if p.key == METADATA_KEY)
    metadata = json.loads(entry.value)
    width = load_onnx_model(TINY_RELATIVE)[0].ser_head.population_reference.numel()
    genders = {"female": [0.25] * width, "male": [-0.5] * width}
    entry.value = json.dumps({**metadata, "gender_references": genders})
    parent_path = tmp_path / "parent.onnx"
    onnx.save(parent, str(parent_path))
    assert load_onnx_model(parent_path)[0].ser_head.fitted_gender_references() == genders
    out = tmp_path / "tuned.onnx"
    run(sys.executable, "-m", "merit.finetune", "--model", parent_path, "--manifest", manifest, "--out", out, "--steps", "6", "--threads", "1", "--train", method, cwd=TRAINING)
    tuned = verify_onnx_contract(out)
    assert tuned["speaker_relative"]
    # The closed-form fit leaves the statistics as they were, so the gender references still hold;
    # trained routers move them, so the model drops them rather than carry stale ones.
    assert tuned.get("gender_references") == (genders if method == "fit" else None)
    report = json.loads(out.with_suffix(".finetune.json").read_text())
    assert report["before"]["held_out"]["rows"] == 3
    assert ("chosen" in report["training"]) == (method == "fit")

    from merit.finetune import evaluate, read_rows

    model, _, _ = load_onnx_model(TINY_RELATIVE)
    rows = read_rows(manifest, list(model.config.classes))
    against_speakers = evaluate(model, {"first": rows[:2]}, rows, 4)["first"]
    for row in rows:
        row["speaker"] = None
    against_population = evaluate(model, {"first": rows[:2]}, rows, 4)["first"]
    assert against_speakers["mean_p_label"] != pytest.approx(against_population["mean_p_label"], abs=1e-6)
