"""The studio's exports opened by the tools people use: praatio and pympi-ling read the TextGrids,
pympi-ling reads the ELAN files, and Hugging Face `datasets` loads the AudioFolder export with
labels and audio paths intact."""

import json
import shutil

import pytest

from conftest import REPO
from test_finetune import run, studio_binary

SEGMENT = {"start_s": 0.6, "end_s": 2.1, "class": "sad"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    binary = studio_binary()
    tmp = tmp_path_factory.mktemp("readers")
    project = tmp / "demo"
    shutil.copytree(REPO / "projects" / "demo", project)
    edits = [
        {"file": "audio/sad_f1.flac", "class": "sad"},
        {"file": "audio/sad_f1.flac", "segment": SEGMENT},
        {"file": "audio/angry_m1.wav", "class": "angry"},
        {"file": "audio/angry_m1.wav", "attributes": {"arousal": 6, "valence": 2}},
    ]
    run(binary, "label", project, "--annotator", "alice", input="".join(json.dumps(e) + "\n" for e in edits))
    for fmt in ("textgrid", "eaf", "audiofolder"):
        run(binary, "export", project, "--format", fmt, "--out", tmp / fmt)
    return tmp


def test_praatio_reads_the_textgrids(exported):
    from praatio import textgrid

    grid = textgrid.openTextgrid(str(exported / "textgrid/audio/sad_f1.flac.TextGrid"), includeEmptyIntervals=False)
    assert grid.tierNames == ("alice", "alice segments", "consensus")
    assert [(e.start, e.end, e.label) for e in grid.getTier("alice segments").entries] == [(0.6, 2.1, "sad")]
    assert grid.getTier("consensus").entries[0].label == "sad"


def test_pympi_reads_the_elan_files_and_textgrids(exported):
    import pympi

    eaf = pympi.Elan.Eaf(str(exported / "eaf/audio/sad_f1.flac.eaf"))
    assert set(eaf.get_tier_names()) == {"alice", "alice segments", "consensus"}
    assert eaf.get_annotation_data_for_tier("alice segments") == [(600, 2100, "sad")]
    vocabulary = [entry[0][0][0] for entry in eaf.controlled_vocabularies["emotions"][1].values()]
    assert vocabulary == ["angry", "sad", "happy", "neutral"]
    grid = pympi.Praat.TextGrid(str(exported / "textgrid/audio/angry_m1.wav.TextGrid"))
    assert [t.name for t in grid.get_tiers()] == ["alice", "consensus"]


def test_datasets_loads_the_audiofolder_export(exported):
    import datasets

    folder = exported / "audiofolder"
    ds = datasets.load_dataset("audiofolder", data_dir=str(folder), split="train")
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    rows = {row["audio"]["path"].split("/audio/", 1)[1]: row for row in ds}
    assert set(rows) == {"sad_f1.flac", "angry_m1.wav"}
    assert rows["angry_m1.wav"]["label"] == "angry"
    assert rows["angry_m1.wav"]["arousal"] == 6.0
    assert rows["sad_f1.flac"]["soft_label"]["sad"] == 1.0
    for row in ds:
        assert (folder / "audio" / row["audio"]["path"].split("/audio/", 1)[1]).exists()
