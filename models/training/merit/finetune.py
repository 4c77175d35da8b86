"""Fine-tunes a Sparse MERIT ONNX model on labels exported by the studio, evaluates it before and
after on a held-out part of the export, and exports an ONNX model with the same contract.

    merit-studio export PROJECT --format jsonl --audio16k --out labels.jsonl [--split 0.1,0.2]
    .venv/bin/python -m merit.finetune --model ../sparse-merit-compact.onnx \\
        --manifest labels.jsonl --out ../sparse-merit-finetuned.onnx [--train fit] [--steps 200]

The weights come from the ONNX file itself (the exporter keeps PyTorch's parameter names), so any
model our pipeline exported can be fine-tuned. By default (`--train fit`, merit.head_fit) the
emotion head's output layer and pitch path are refitted in closed form on the labelled recordings'
pooled statistics, in one pass, keeping the parent where cross-validation says the labels do not
help. The gradient methods take `--steps`: `--train routers` (the SER head and both routers),
`--train ser-head`, `--train all` (everything).
Rows whose split is "test" (else "dev") are held out when others remain to train on; otherwise
`--holdout` of the rows (seeded). The new model's metadata names its parent (SHA-256) and carries the before/after figures.
With `--progress`, one JSON line per unit of work goes to standard output,
`{"progress": {"done": D, "total": T, "stage": S}}`, which the studio's retrain job reads.

A speaker-relative model is scored as the studio runs it: each row against the mean statistics of
the same speaker's other rows of the export (at least MIN_OTHER_RECORDINGS of them, else the
population's reference); and trained as merit.train trains it, mostly on batches of one speaker's
rows, each against the batch's others.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import SAMPLE_RATE
from .data import CorpusError, read_audio, read_json_lines
from .export import export_onnx, load_onnx_model, metadata_for
from .metrics import confusion, per_class_f1
from .head_fit import fit_head
from .heads import MIN_OTHER_RECORDINGS
from .model import MeritModel
from .quantize import round_weights_int8
from .train import logits_against_speakers
from .train_utils import configure_threads

# "fit": the head's output layer refitted in closed form (merit.head_fit); the others: gradient steps
# on the SER head and both routers ("routers"), the SER head alone, or everything.
TRAINING_METHODS = ("fit", "routers", "ser-head", "all")
DEFAULT_TRAINING = "fit"
CROP_SECONDS = 3.0


def read_rows(manifest: Path, classes: list[str]) -> list[dict]:
    """Labelled rows of a studio JSONL export, with their audio (16 kHz mono WAVs: --audio16k). A
    row whose audio is gone is skipped, and the skipped rows are counted on standard output."""
    rows, missing = [], 0
    for number, row in read_json_lines(manifest, ("path",), "not found"):
        label = row.get("label")
        if label is None or label == "no_agreement":
            continue
        if label not in classes:
            raise CorpusError(f"{manifest}:{number}: label {label!r} is not one of the model's classes {classes}")
        if not Path(row["path"]).is_file():
            missing += 1
            continue
        audio = read_audio(Path(row["path"]))
        rows.append({"file": row.get("file", row["path"]), "audio": audio, "label": classes.index(label), "split": row.get("split"), "speaker": row.get("speaker")})
    if missing:
        print(f"{manifest}: skipped {missing} labelled rows whose audio file is missing")
    if not rows:
        raise CorpusError(f"{manifest}: no labelled rows with one of the classes {classes}")
    return rows


def split_rows(rows: list[dict], holdout: float, seed: int) -> tuple[list[dict], list[dict]]:
    for held in ("test", "dev"):
        evaluation = [r for r in rows if r["split"] == held]
        training = [r for r in rows if r["split"] not in ("test", "dev")]
        if evaluation and training:
            return training, evaluation
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    count = int(round(holdout * len(rows)))
    return shuffled[count:], shuffled[:count]


class Progress:
    """Units of work done so far, as JSON lines on standard output (or nothing)."""

    def __init__(self, total: int, enabled: bool):
        self.done, self.total, self.enabled = 0, total, enabled

    def advance(self, stage: str) -> None:
        self.done += 1
        if self.enabled:
            print(json.dumps({"progress": {"done": self.done, "total": self.total, "stage": stage}}), flush=True)


def padded(audio: np.ndarray) -> np.ndarray:
    """At least the contract's 0.5 s, zero-padded as the studio pads."""
    return np.pad(audio, (0, SAMPLE_RATE // 2 - len(audio))) if len(audio) < SAMPLE_RATE // 2 else audio


@torch.no_grad()
def row_statistics(model: MeritModel, rows: list[dict], progress: Progress | None) -> torch.Tensor:
    """Each row's pooled statistics, the whole recording in one run as the studio runs a clip."""
    model.eval()
    statistics = []
    for row in rows:
        if progress:
            progress.advance("evaluating")
        statistics.append(model(torch.from_numpy(padded(row["audio"]))[None]).emotion_statistics[0])
    return torch.stack(statistics)


@torch.no_grad()
def classify_rows(model: MeritModel, statistics: torch.Tensor, rows: list[dict]) -> torch.Tensor:
    """Logits from the rows' pooled statistics as the studio would give them: a speaker-relative
    model's against the mean statistics of the same speaker's other rows (at least
    MIN_OTHER_RECORDINGS, else the population reference)."""
    head = model.ser_head
    if not head.speaker_relative:
        return head.classify(statistics)
    return logits_against_speakers(head, statistics, [row.get("speaker") for row in rows])


def row_logits(model: MeritModel, rows: list[dict], progress: Progress | None) -> torch.Tensor:
    return classify_rows(model, row_statistics(model, rows, progress), rows)


def figures(logits: torch.Tensor, rows: list[dict], classes: int) -> dict:
    """Accuracy, macro-F1, F1 per class, the confusion matrix (rows: truth) and the mean
    probability of each row's own label."""
    if not rows:
        return {"rows": 0}
    predictions, label_probs = [], []
    for row, probs in zip(rows, F.softmax(logits, dim=-1), strict=True):
        predictions.append(int(probs.argmax()))
        label_probs.append(float(probs[row["label"]]))
    labels = [r["label"] for r in rows]
    f1 = per_class_f1(labels, predictions, classes)
    return {
        "rows": len(rows),
        "accuracy": float(np.mean(np.array(predictions) == np.array(labels))),
        "macro_f1": float(np.mean(f1)),
        "f1": f1,
        "confusion": confusion(labels, predictions, classes).tolist(),
        "mean_p_label": float(np.mean(label_probs)),
    }


def part_figures(model: MeritModel, statistics: torch.Tensor, export: list[dict], parts: dict[str, list[dict]], classes: int) -> dict:
    """The figures of each part of the export from every export row's pooled statistics."""
    logits = classify_rows(model, statistics, export)
    position = {id(row): number for number, row in enumerate(export)}
    return {name: figures(logits[[position[id(row)] for row in part]], part, classes) for name, part in parts.items()}


def evaluate(model: MeritModel, parts: dict[str, list[dict]], export: list[dict], classes: int, progress: Progress | None = None) -> dict:
    """The figures of each part of the export. A speaker-relative model's references come from the
    whole export, so its rows' statistics are computed once, for every row."""
    if model.config.speaker_relative:
        return part_figures(model, row_statistics(model, export, progress), export, parts, classes)
    return {name: figures(row_logits(model, part, progress) if part else None, part, classes) for name, part in parts.items()}


def crop(audio: np.ndarray, length: int, rng: random.Random) -> np.ndarray:
    if len(audio) >= length:
        start = rng.randrange(len(audio) - length + 1)
        return audio[start : start + length]
    return np.pad(audio, (0, length - len(audio)))


def trainable(model: MeritModel, what: str) -> list[torch.nn.Parameter]:
    for parameter in model.parameters():
        parameter.requires_grad = what == "all"
    if what != "all":
        modules = [model.ser_head] + ([model.moe.gates] if what == "routers" and model.moe is not None else [])
        for module in modules:
            for parameter in module.parameters():
                parameter.requires_grad = True
    return [p for p in model.parameters() if p.requires_grad]


def fine_tune(
    model: MeritModel, rows: list[dict], classes: int, steps: int, lr: float, what: str, seed: int, batch: int = 4, progress: Progress | None = None
) -> list[float]:
    torch.manual_seed(seed)
    rng = random.Random(seed)
    parameters = trainable(model, what)
    optimiser = torch.optim.AdamW(parameters, lr=lr)
    counts = np.bincount([r["label"] for r in rows], minlength=classes)
    weights = torch.tensor([len(rows) / (classes * c) if c else 0.0 for c in counts], dtype=torch.float32)
    length = int(CROP_SECONDS * SAMPLE_RATE)
    # A speaker-relative model learns against references as in merit.train: batches of one
    # speaker's rows, each against the others, except a share against the population's.
    by_speaker: dict[str, list[dict]] = {}
    for row in rows:
        if row.get("speaker"):
            by_speaker.setdefault(row["speaker"], []).append(row)
    groups = [group for group in by_speaker.values() if len(group) > MIN_OTHER_RECORDINGS]
    relative = model.config.speaker_relative and groups
    losses = []
    for _ in range(steps):
        with_speakers = relative and rng.random() >= model.config.population_reference_share
        source = groups[rng.randrange(len(groups))] if with_speakers else rows
        # One speaker's batch holds distinct rows where it can (a row is no reference for itself).
        picked = rng.sample(source, batch) if len(source) >= batch else [source[rng.randrange(len(source))] for _ in range(batch)]
        waveform = torch.from_numpy(np.stack([crop(r["audio"], length, rng) for r in picked]))
        labels = torch.tensor([r["label"] for r in picked])
        model.train()
        if what != "all":
            model.backbone.eval()  # frozen: no dropout noise in its features
        speakers = torch.zeros(batch, dtype=torch.long) if with_speakers else None
        loss = F.cross_entropy(model(waveform, speakers=speakers).emotion_logits, labels, weight=weights)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        if progress:
            progress.advance("training")
    model.eval()
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="ONNX model exported by this pipeline")
    parser.add_argument("--manifest", type=Path, required=True, help="merit-studio export --format jsonl --audio16k")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--train", choices=TRAINING_METHODS, default=DEFAULT_TRAINING)
    parser.add_argument("--holdout", type=float, default=0.2, help="fraction held out when the export has no test/dev split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--progress", action="store_true", help="JSON progress lines on standard output")
    parser.add_argument("--held-out-only", action="store_true", help="score the held-out rows only, not the training rows too")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's priority (the studio's window keeps the cores)")
    args = parser.parse_args()
    configure_threads(args.threads)
    if args.nice:
        os.nice(args.nice)
    try:
        run(args)
    except CorpusError as error:
        raise SystemExit(f"finetune: {error}") from None


def run(args: argparse.Namespace) -> None:
    model, parent, digest = load_onnx_model(args.model)
    classes = list(model.config.classes)
    rows = read_rows(args.manifest, classes)
    train_rows, eval_rows = split_rows(rows, args.holdout, args.seed)
    if not train_rows:
        raise CorpusError(f"{args.manifest}: nothing left to train on after holding out {len(eval_rows)} rows")
    # The training rows' own figures are a check for people at a terminal; the studio skips them.
    scored = {"held_out": eval_rows} if args.held_out_only else {"held_out": eval_rows, "train": train_rows}
    # A speaker-relative model's figures need every row's statistics (its references), once a pass.
    if args.train == "fit":
        # One pass: the pooled statistics stay as they are, so every figure comes from them. Every
        # row serves as a speaker reference; the training rows' labels are fitted.
        progress = Progress(len(rows), args.progress)
        statistics = row_statistics(model, rows, progress)
        before = part_figures(model, statistics, rows, scored, len(classes))
        position = {id(row): number for number, row in enumerate(rows)}
        training = fit_head(model, rows, statistics, [position[id(row)] for row in train_rows], len(classes), args.seed)
        # The "after" figures are those of the model that ships: weights rounded to int8 as in training.
        round_weights_int8(model)
        after = part_figures(model, statistics, rows, scored, len(classes))
    else:
        per_pass = len(rows) if model.config.speaker_relative else sum(len(part) for part in scored.values())
        progress = Progress(2 * per_pass + args.steps, args.progress)
        before = evaluate(model, scored, rows, len(classes), progress)
        losses = fine_tune(model, train_rows, len(classes), args.steps, args.lr, args.train, args.seed, progress=progress)
        training = {"loss_first": losses[0], "loss_last": losses[-1]}
        if model.config.speaker_relative:
            # The statistics moved with the trained layers: the parent's gender references no
            # longer describe them, so the model leaves them out (recordings fall back to the population's).
            model.ser_head.gender_references.fill_(float("nan"))
        round_weights_int8(model)
        after = evaluate(model, scored, rows, len(classes), progress)
    evaluation = dict(parent.get("evaluation") or {})
    evaluation["fine_tuning"] = {"before": before, "after": after, "steps": args.steps, "trained": args.train, "training": training}
    metadata = metadata_for(
        model,
        version=f"{parent.get('version', '0')}+ft",
        trained_on=f"{parent.get('trained_on', '')}; fine-tuned on {args.manifest.name} ({len(train_rows)} recordings)",
        evaluation=evaluation,
        parent_model_sha256=digest,
        parent_model=parent.get("model"),
    )
    export_onnx(model, args.out, metadata)
    report = {"parent_sha256": digest, "classes": classes, "before": before, "after": after, "training": training, "out": str(args.out)}
    args.out.with_suffix(".finetune.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
