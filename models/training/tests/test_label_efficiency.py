"""The label-efficiency curve: held-out part, stratified draws, refusals, a run on the tiny model, and
the voice-family project it is measured on."""

import argparse
import json
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO
from merit.data import CorpusError
from merit.family_project import project
from merit.label_efficiency import ALL, check_enough, curve, held_out_split, parse_sizes, stratified_draw

CLASSES = ["angry", "sad", "happy", "neutral"]


def rows(count: int, speakers: int | None) -> list[dict]:
    return [{"label": i % 4, "speaker": f"s{i % speakers}" if speakers else None, "id": i} for i in range(count)]


def test_held_out_part_is_speaker_disjoint_and_has_every_class():
    data = rows(200, speakers=10)
    pool, held = held_out_split(data, 4, 0.2, seed=1)
    assert {r["speaker"] for r in pool}.isdisjoint({r["speaker"] for r in held})
    assert {r["label"] for r in held} == {0, 1, 2, 3}
    assert 0.15 <= len(held) / len(data) <= 0.3
    assert held_out_split(data, 4, 0.2, seed=1) == (pool, held)


def test_without_speakers_each_class_is_held_out_in_proportion():
    pool, held = held_out_split(rows(100, speakers=None), 4, 0.2, seed=0)
    assert [sum(r["label"] == c for r in held) for c in range(4)] == [5, 5, 5, 5]
    assert len(pool) == 80


def test_draws_follow_the_class_shares_of_the_pool():
    pool = [{"label": 0}] * 60 + [{"label": 1}] * 20 + [{"label": 2}] * 10 + [{"label": 3}] * 10
    drawn = stratified_draw(pool, 25, 4, seed=3)
    assert len(drawn) == 25
    # 15, 5, 2.5, 2.5: the tied remainder goes to the first class.
    assert [sum(r["label"] == c for r in drawn) for c in range(4)] == [15, 5, 3, 2]


def test_a_spread_draw_takes_each_class_in_turns_from_its_speakers():
    # One speaker has 90 of a class's 100 recordings, three others 10 together.
    pool = [{"label": c, "speaker": "big"} for c in range(2) for _ in range(45)]
    pool += [{"label": c, "speaker": f"s{n}"} for c in range(2) for n in range(3) for _ in range(5 if n == 0 else 0 if n == 1 else 3)]
    at_random = stratified_draw(pool, 20, 2, seed=1)
    spread = stratified_draw(pool, 20, 2, seed=1, spread=True)
    assert [sum(r["label"] == c for r in spread) for c in range(2)] == [sum(r["label"] == c for r in at_random) for c in range(2)] == [10, 10]
    for c in range(2):
        by_speaker = Counter(r["speaker"] for r in spread if r["label"] == c)
        # In turns: s2 gives all its 3, "big" and s0 share the rest as evenly as they can.
        assert by_speaker["s2"] == 3 and by_speaker["big"] + by_speaker["s0"] == 7
        assert abs(by_speaker["big"] - by_speaker["s0"]) <= 1
    assert len({id(r) for r in spread}) == 20
    assert sum(r["speaker"] == "big" for r in at_random) > 10


def test_sizes_increase_with_all_last():
    assert parse_sizes("25, 50,400,all") == [25, 50, 400, ALL]
    for wrong in ("50,25", "25,25", "all,25", "0", "ten", "all,all"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_sizes(wrong)


def test_too_few_labels_says_how_many_more_per_class():
    pool = [{"label": 0}] * 6 + [{"label": 1}] * 2 + [{"label": 2}] * 4
    with pytest.raises(CorpusError, match="label 2 more sad, 4 more neutral"):
        check_enough(pool, [], CLASSES)


@pytest.mark.parametrize(("method", "draw"), [("fit", "class"), ("routers", "speaker")])
def test_curve_on_the_tiny_model(tmp_path, method, draw):
    rng = np.random.default_rng(0)
    manifest = tmp_path / "labels.jsonl"
    lines = []
    for i in range(40):
        path = tmp_path / f"r{i}.wav"
        sf.write(path, (rng.standard_normal(8000) * 0.05).astype(np.float32), 16000)
        lines.append(json.dumps({"path": str(path), "file": path.name, "label": CLASSES[i % 4], "speaker": f"s{i % 8}"}))
    lines.append(json.dumps({"path": str(tmp_path / "gone.wav"), "label": "sad"}))
    manifest.write_text("\n".join(lines) + "\n")
    partial = tmp_path / "out" / "curve.partial.json"
    result = curve(
        REPO / "models/sparse-merit-tiny.onnx", manifest, sizes=(8, 16, 400, ALL), seeds=(0, 1), steps=2, partial=partial, method=method, draw=draw
    )
    # 400 is more than the pool holds and is left out; `all` is the whole pool.
    assert [s["labels"] for s in result["sizes"]] == [8, 16, result["pool"]] and result["pool"] > 16
    assert all(len(s["runs"]) == 2 and 0 <= s["macro_f1"] <= 1 for s in result["sizes"])
    assert result["held_out"]["rows"] + result["pool"] == 40
    assert (result["method"], result["draw"]) == (method, draw)
    # A rerun takes the finished sizes from the partial file instead of fine-tuning again; other
    # steps are another curve and start afresh.
    saved = json.loads(partial.read_text())
    saved["sizes"][0]["runs"][0]["seconds"] = -1.0
    partial.write_text(json.dumps(saved))
    again = curve(REPO / "models/sparse-merit-tiny.onnx", manifest, sizes=(8, 16), seeds=(0, 1), steps=2, partial=partial, method=method, draw=draw)
    assert again["sizes"][0]["runs"][0]["seconds"] == -1.0
    other = curve(REPO / "models/sparse-merit-tiny.onnx", manifest, sizes=(8,), seeds=(0,), steps=3, partial=partial, method=method, draw=draw)
    assert other["sizes"][0]["runs"][0]["seconds"] >= 0
    # Another draw is another curve too (the same steps as the saved one, so only the draw differs).
    saved = json.loads(partial.read_text())
    saved["sizes"][0]["runs"][0]["seconds"] = -1.0
    partial.write_text(json.dumps(saved))
    redrawn = "class" if draw == "speaker" else "speaker"
    other = curve(REPO / "models/sparse-merit-tiny.onnx", manifest, sizes=(8,), seeds=(0,), steps=3, partial=partial, method=method, draw=redrawn)
    assert other["sizes"][0]["runs"][0]["seconds"] >= 0


def test_family_project_takes_the_familys_splits_and_with_clean_only_the_unmixed_recordings(tmp_path):
    def row(path, family, split, noise_type):
        return {"path": path, "family": family, "split": split, "label": "sad", "speaker": "s1", "noise_type": noise_type}

    manifest = tmp_path / "manifest.jsonl"
    lines = [
        row("train/a.wav", "festival", "train", None),
        row("test/b_clean.wav", "festival", "test", None),
        row("test/b_unseen_wind_-5dB.wav", "festival", "test", "wind"),
        row("dev/c_clean.wav", "festival", "dev", None),
        row("test/d_clean.wav", "espeak", "test", None),
    ]
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))

    def files(out):
        return [json.loads(line)["file"] for line in (out / "labels.jsonl").read_text().splitlines()]

    assert project(manifest, "festival", ("train", "test"), tmp_path / "all") == 3
    assert files(tmp_path / "all") == ["train/a.wav", "test/b_clean.wav", "test/b_unseen_wind_-5dB.wav"]
    assert project(manifest, "festival", ("train", "test"), tmp_path / "clean", clean_only=True) == 2
    assert files(tmp_path / "clean") == ["train/a.wav", "test/b_clean.wav"]
    assert "clean" in json.loads((tmp_path / "clean" / "project.json").read_text())["name"]
    with pytest.raises(SystemExit, match="no clean espeak recordings"):
        project(manifest, "espeak", ("train",), tmp_path / "none", clean_only=True)
