"""Fine-tuning in closed form: the emotion head's output layer refitted to a project's labels.

Gradient steps on a few dozen labels barely move a head trained on thousands of clips (the README's
label-efficiency curve: no gain at any size). Here every labelled recording runs through the model
once; with backbone, experts and pooling fixed, its pooled statistics (against its speaker's
reference, for a speaker-relative model) give the classifier's hidden activations and, for a model
with pitch features, the standardised pitch statistics. A multinomial logistic regression on those
(merit.refit.fit_logistic, L-BFGS) is added to the parent's own logits scaled by a gate:

    logits = gate * parent logits + hidden @ W_h + standardised pitch @ W_p + b

Gate and L2 weight are chosen by cross-validation over the labelled rows (whole speakers per fold
where there are three or more, else seeded folds), and "keep the parent" is one of the candidates,
so labels that do not help leave the model as it was. The fit folds exactly into the head's last
linear layer and its pitch path: the exported graph is the parent's, with other numbers.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import numpy as np
import torch

from .metrics import macro_f1
from .model import MeritModel
from .refit import fit_logistic
from .train import speaker_references

GATES = (0.0, 0.5, 1.0)
L2_WEIGHTS = (1e-3, 1e-2, 1e-1, 1.0)
MAX_FOLDS = 5


@dataclass
class Features:
    """What the fit sees of each row: the parent's logits, the classifier's hidden activations and
    the pooled pitch statistics (empty without pitch features)."""

    parent_logits: torch.Tensor
    hidden: torch.Tensor
    pitch: torch.Tensor


@torch.no_grad()
def row_features(model: MeritModel, statistics: torch.Tensor, speakers: list[str | None]) -> Features:
    head = model.ser_head
    references = None
    relative = statistics
    if head.speaker_relative:
        references = speaker_references(statistics, speakers, head.population_reference)
        relative = statistics - references
    hidden = head.classifier[:-1](relative)
    pitch = head.prosody_inputs(statistics, references) if head.prosody is not None else relative[:, :0]
    return Features(head.classify(statistics, references), hidden, pitch)


def standardise(pitch: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    return (pitch - mean) / (variance + 1e-6).sqrt()


@dataclass(frozen=True)
class Setting:
    """One candidate fit: the parent's logits scaled by `gate`, an L2 weight, and whether the
    classifier's hidden activations are fitted too (with a few dozen labels, the pitch statistics
    alone often carry further than a fit on all the hidden units, which then mostly fits noise)."""

    gate: float
    l2: float
    hidden: bool

    @property
    def name(self) -> str:
        return f"gate {self.gate}, l2 {self.l2}, {'hidden and pitch' if self.hidden else 'pitch'}"


def settings(has_pitch: bool) -> list[Setting]:
    uses_hidden = (False, True) if has_pitch else (True,)
    return [Setting(g, w, h) for g, w, h in itertools.product(GATES, L2_WEIGHTS, uses_hidden)]


def inputs(features: Features, setting: Setting, mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    hidden = features.hidden if setting.hidden else features.hidden[:, :0]
    return torch.cat([hidden, standardise(features.pitch, mean, variance)], dim=1)


def fit(features: Features, labels: torch.Tensor, setting: Setting):
    """(pitch mean, pitch variance, weight over [hidden; pitch], bias) of the added layer."""
    mean, variance = features.pitch.mean(dim=0), features.pitch.var(dim=0, unbiased=False)
    weight, bias = fit_logistic(inputs(features, setting, mean, variance), labels, setting.l2, setting.gate * features.parent_logits)
    if not setting.hidden:
        weight = torch.cat([weight.new_zeros(features.hidden.shape[1], weight.shape[1]), weight])
    return mean, variance, weight, bias


def predict(fitted, features: Features, gate: float) -> torch.Tensor:
    mean, variance, weight, bias = fitted
    x = torch.cat([features.hidden, standardise(features.pitch, mean, variance)], dim=1)
    return gate * features.parent_logits + x @ weight + bias


def folds(speakers: list[str | None], labels: list[int], seed: int) -> list[np.ndarray]:
    """Held-out masks: whole speakers per fold with three or more speakers, else seeded
    class-stratified folds."""
    rows = len(labels)
    named = sorted({s for s in speakers if s})
    fold_of = np.zeros(rows, dtype=int)
    rng = random.Random(seed)
    if len(named) >= 3 and all(speakers):
        rng.shuffle(named)
        count = min(MAX_FOLDS, len(named))
        number = {speaker: position % count for position, speaker in enumerate(named)}
        fold_of[:] = [number[s] for s in speakers]
    else:
        count = min(MAX_FOLDS, max(2, rows // 4))
        order = sorted(range(rows), key=lambda i: (labels[i], rng.random()))
        for position, row in enumerate(order):
            fold_of[row] = position % count
    return [fold_of == k for k in range(count)]


def subset(features: Features, mask: np.ndarray) -> Features:
    keep = torch.from_numpy(mask)
    return Features(features.parent_logits[keep], features.hidden[keep], features.pitch[keep])


def choose(features: Features, labels: torch.Tensor, speakers: list[str | None], classes: int, seed: int) -> tuple[Setting | None, dict]:
    """The setting with the best cross-validated macro-F1, or None where keeping the parent scores
    as well; and the scores."""
    masks = folds(speakers, labels.tolist(), seed)
    truth = [labels[torch.from_numpy(m)].tolist() for m in masks]
    parent = [subset(features, m).parent_logits.argmax(-1).tolist() for m in masks]
    scores = {"parent": float(np.mean([macro_f1(t, p, classes) for t, p in zip(truth, parent, strict=True)]))}
    candidates = {}
    for setting in settings(features.pitch.shape[1] > 0):
        per_fold = []
        for mask, held_truth in zip(masks, truth, strict=True):
            fitted = fit(subset(features, ~mask), labels[torch.from_numpy(~mask)], setting)
            guesses = predict(fitted, subset(features, mask), setting.gate).argmax(-1).tolist()
            per_fold.append(macro_f1(held_truth, guesses, classes))
        scores[setting.name] = float(np.mean(per_fold))
        candidates[setting.name] = setting
    best = max(scores, key=scores.get)
    report = {"chosen": best, "folds": len(masks), "cross_validated_macro_f1": {k: round(v, 4) for k, v in scores.items()}}
    return candidates.get(best), report


@torch.no_grad()
def fold_into_head(model: MeritModel, fitted, gate: float) -> None:
    """Writes `gate * parent + fitted layer` into the head's last linear layer and pitch path."""
    head = model.ser_head
    mean, variance, weight, bias = fitted
    hidden_size = head.classifier[-1].in_features
    classifier_gate = float(head.classifier_gate) if head.prosody is not None else 1.0
    last = head.classifier[-1]
    last.weight.mul_(gate * classifier_gate).add_(weight[:hidden_size].T)
    last.bias.mul_(gate * classifier_gate).add_(bias)
    if head.prosody is None:
        return
    head.classifier_gate.fill_(1.0)
    standardiser, linear = head.prosody
    old_scale = (standardiser.variance + 1e-6).sqrt()
    new_scale = (variance + 1e-6).sqrt()
    # gate * (A (p - m) / s + c) in the new standardisation (p - m') / s'.
    shift = (mean - standardiser.mean) / old_scale
    linear.bias.mul_(gate).add_(gate * linear.weight @ shift)
    linear.weight.mul_(gate * new_scale / old_scale).add_(weight[hidden_size:].T)
    standardiser.mean.copy_(mean)
    standardiser.variance.copy_(variance)


def fit_head(model: MeritModel, rows: list[dict], statistics: torch.Tensor, labelled: list[int], classes: int, seed: int) -> dict:
    """Refits `model`'s head to the labels of `rows[i]` for i in `labelled`, given every row's pooled
    statistics: all rows serve as speaker references, labelled or not, as a project's recordings do
    in the studio. Returns the choice made."""
    model.eval()  # no dropout in the hidden units the fit reads
    speakers = [r.get("speaker") for r in rows]
    mask = np.zeros(len(rows), dtype=bool)
    mask[labelled] = True
    features = subset(row_features(model, statistics, speakers), mask)
    labelled_rows = [rows[i] for i in np.flatnonzero(mask)]
    labels = torch.tensor([r["label"] for r in labelled_rows])
    setting, report = choose(features, labels, [r.get("speaker") for r in labelled_rows], classes, seed)
    if setting is not None:
        fold_into_head(model, fit(features, labels, setting), setting.gate)
    return report
