"""Fine-tuning in closed form (merit.head_fit): the fit folds exactly into the head, learns what the
labels say and keeps the parent where they say nothing."""

import copy

import pytest
import torch

from merit.config import tiny
from merit.head_fit import Setting, fit, fit_head, fold_into_head, predict, row_features
from merit.model import MeritModel


def model_with(pitch: bool, relative: bool) -> MeritModel:
    torch.manual_seed(0)
    config = tiny()
    config.pitch_features, config.speaker_relative = pitch, relative
    model = MeritModel(config).eval()
    head = model.ser_head
    with torch.no_grad():
        if relative:
            head.population_reference.normal_()
        if pitch:
            # A trained pitch path: its own standardisation and a gated classifier.
            head.prosody[0].mean.normal_()
            head.prosody[0].variance.uniform_(0.5, 2.0)
            head.classifier_gate.fill_(0.7)
    return model


def statistics_of(model: MeritModel, rows: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(rows, model.ser_head.population_reference.numel() if model.config.speaker_relative else 2 * model.ser_head.size, generator=generator)


@pytest.mark.parametrize("pitch,relative", [(False, False), (True, True), (True, False)])
def test_the_fitted_layer_folds_exactly_into_the_head(pitch, relative):
    model = model_with(pitch, relative)
    statistics = statistics_of(model, 24)
    speakers = [f"s{i % 3}" for i in range(24)]
    labels = torch.arange(24) % 4
    features = row_features(model, statistics, speakers)
    fitted = fit(features, labels, Setting(gate=0.5, l2=0.01, hidden=True))
    expected = predict(fitted, features, gate=0.5)
    fold_into_head(model, fitted, gate=0.5)
    assert torch.allclose(row_features(model, statistics, speakers).parent_logits, expected, atol=1e-4)


def test_labels_along_a_pitch_direction_are_learned_from_a_few_dozen_recordings():
    model = model_with(pitch=True, relative=False)
    head = model.ser_head
    rows = 80
    statistics = statistics_of(model, rows)
    labels = torch.arange(rows) % 4
    # Each class raises one of the pooled pitch means, which the parent ignores.
    first_pitch_mean = head.size - head.pitch_features
    statistics[torch.arange(rows), first_pitch_mean + labels] += 4.0
    data = [{"label": int(label), "speaker": f"s{i // 4 % 8}"} for i, label in enumerate(labels)]
    before = (row_features(model, statistics, [None] * rows).parent_logits.argmax(-1) == labels).float().mean()
    tuned = copy.deepcopy(model)
    choice = fit_head(tuned, data, statistics, list(range(rows // 2)), 4, seed=0)
    assert choice["chosen"] != "parent"
    unseen = torch.arange(rows // 2, rows)
    after = (row_features(tuned, statistics[unseen], [None] * len(unseen)).parent_logits.argmax(-1) == labels[unseen]).float().mean()
    assert before < 0.5 and after > 0.85


def test_labels_that_say_nothing_leave_the_parent_as_it_was():
    model = model_with(pitch=False, relative=False)
    statistics = statistics_of(model, 40)
    # Every label is the parent's own guess: no fit can beat keeping it.
    guesses = row_features(model, statistics, [None] * 40).parent_logits.argmax(-1)
    data = [{"label": int(g), "speaker": f"s{i % 5}"} for i, g in enumerate(guesses)]
    tuned = copy.deepcopy(model)
    choice = fit_head(tuned, data, statistics, list(range(40)), 4, seed=0)
    assert choice["chosen"] == "parent"
    assert all(torch.equal(a, b) for a, b in zip(tuned.state_dict().values(), model.state_dict().values(), strict=True))
