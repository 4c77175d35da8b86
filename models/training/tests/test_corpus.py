"""The synthetic corpus follows corpus-spec.md: disjoint splits, exact test SNRs, level
normalisation, seen/unseen noise, per-clip licences, and prosody styles that differ as specified."""

import json

import numpy as np
import pytest
import soundfile as sf

from merit.corpus import PRESETS, TEST_SNRS, generate
from merit.noise import SEEN_TYPES, UNSEEN_TYPES
from merit.prosody import active_level_dbfs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    cache = tmp_path_factory.getbasetemp() / "debian-cache"
    manifest = generate(out, PRESETS["smoke"], seed=7, workers=2, cache=cache)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    return out, rows, cache


def test_splits_are_speaker_and_sentence_disjoint(corpus):
    _, rows, _ = corpus
    speakers = {split: {r["speaker"] for r in rows if r["split"] == split} for split in ("train", "dev", "test")}
    texts = {split: {r["text"] for r in rows if r["split"] == split} for split in ("train", "dev", "test")}
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
        assert not speakers[a] & speakers[b]
        assert not texts[a] & texts[b]
    assert {r["label"] for r in rows if r["split"] == "train"} == {"angry", "sad", "happy", "neutral"}


def test_test_split_has_every_condition_per_utterance(corpus):
    _, rows, _ = corpus
    test = [r for r in rows if r["split"] == "test"]
    for utterance in {r["utterance"] for r in test}:
        conditions = sorted(
            (r["noise_set"], r["snr_db"] if r["snr_db"] is not None else 99) for r in test if r["utterance"] == utterance
        )
        expected = sorted([("clean", 99)] + [(s, float(snr)) for s in ("seen", "unseen") for snr in TEST_SNRS])
        assert conditions == expected
    assert all(r["noise_type"] in UNSEEN_TYPES for r in test if r["noise_set"] == "unseen")
    assert all(r["noise_type"] in SEEN_TYPES for r in rows if r["noise_set"] == "seen")
    assert all(r["noise_set"] in ("seen", "clean") for r in rows if r["split"] != "test")


def test_mixtures_have_the_stated_snr_and_a_licence(corpus):
    out, rows, _ = corpus
    for row in rows:
        noisy, rate = sf.read(out / row["path"], dtype="float64")
        clean, _ = sf.read(out / row["clean_path"], dtype="float64")
        assert rate == 16000 and len(noisy) == len(clean)
        if row["snr_db"] is None:
            assert np.array_equal(noisy, clean)
            continue
        assert row["noise_licence"] and row["noise_source"]
        noise = noisy - clean
        measured = active_level_dbfs(clean) - 10 * np.log10(np.mean(noise**2))
        assert measured == pytest.approx(row["snr_db"], abs=0.3), row["path"]


def test_levels_are_normalised_not_a_cue(corpus):
    _, rows, _ = corpus
    levels = [r["clean_level_dbfs"] - 20 * np.log10(r["mix_scale"]) for r in rows]
    assert min(levels) >= -35.5 and max(levels) <= -14.5


def test_prosody_styles_differ_as_the_spec_says(corpus):
    out, _, _ = corpus
    table = json.loads((out / "prosody.json").read_text())
    assert table["neutral"]["f0_vs_neutral"] == pytest.approx(1.0)
    assert 1.3 < table["happy"]["f0_vs_neutral"] < 1.8
    assert 0.6 < table["sad"]["f0_vs_neutral"] < 0.9
    assert 1.1 < table["angry"]["f0_vs_neutral"] < 1.5
    ranges = {style: table[style]["f0_range_st_median"] for style in table}
    assert min(ranges, key=ranges.get) == "sad"
    rates = {style: table[style]["words_per_s"] for style in table}
    assert min(rates, key=rates.get) == "sad"
    assert 2.5 < rates["neutral"] < 3.5


def test_generation_is_deterministic(corpus, tmp_path):
    out, rows, cache = corpus
    again = generate(tmp_path / "again", PRESETS["smoke"], seed=7, workers=1, cache=cache)
    rows_again = [json.loads(line) for line in again.read_text().splitlines()]
    assert rows_again == rows
    # Every utterance, not a sample of them: two workers must speak exactly as one does (a shared
    # espeak-ng folder once made a worker speak some utterances without their style variant).
    for row in rows:
        for key in ("path", "clean_path"):
            assert np.array_equal(sf.read(out / row[key])[0], sf.read(tmp_path / "again" / row[key])[0]), row[key]
    assert not list(out.glob(".espeak-*")), "the workers' espeak-ng copies are removed"
