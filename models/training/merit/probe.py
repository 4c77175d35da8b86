"""What a trained model's emotion statistics know about a voice family it never met: a linear probe
(multinomial logistic regression, L2-regularised, fitted by L-BFGS on z-scored inputs) on the
pooled statistics of the clean training utterances of the other families, scored on the held-out
family's clean test utterances; absolute and speaker-relative (each utterance minus the mean of its
speaker's other utterances), on all statistics and on the pitch features' alone (a model trained
with --pitch-features). The gap between this and the model's own head is what its training did not
reach.

    .venv/bin/python -m merit.probe work/runs/lofo-espeak-REC/sparse_merit/model.pt \\
        --corpus work/corpus/manifest.jsonl --family espeak
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from . import CLASSES
from .data import read_audio, read_manifest
from .metrics import macro_f1
from .refit import fit_logistic
from .train import load_trained, speaker_references
from .train_utils import configure_threads


@torch.no_grad()
def pooled_statistics(model, corpus: Path, rows: list[dict]) -> torch.Tensor:
    return torch.stack(
        [model(torch.from_numpy(read_audio(corpus.parent / row["path"]))[None]).emotion_statistics[0] for row in rows]
    )


def probe(model_path: Path, corpus: Path, family: str, l2_values: tuple[float, ...]) -> list[dict]:
    model = load_trained(model_path)
    rows = [
        r
        for r in read_manifest(corpus)
        if (r["split"] == "train" and r["family"] != family)
        or (r["split"] == "test" and r["family"] == family and r["noise_set"] == "clean")
    ]
    train = torch.tensor([r["split"] == "train" for r in rows])
    labels = torch.tensor([CLASSES.index(r["label"]) for r in rows])
    statistics = pooled_statistics(model, corpus, rows)
    # Every corpus speaker has many clips, so the set's mean never stands in for a reference here.
    relative = statistics - speaker_references(statistics, [r["speaker"] for r in rows], statistics.mean(dim=0))
    results = []
    for reference, values in (("absolute", statistics), ("speaker-relative", relative)):
        inputs = {"all statistics": values}
        if model.config.pitch_features:
            inputs["pitch statistics"] = model.ser_head.pitch_statistics(values)
        for name, x in inputs.items():
            mean, std = x[train].mean(dim=0), x[train].std(dim=0) + 1e-6
            scaled = (x - mean) / std
            for l2 in l2_values:
                no_offset = scaled.new_zeros(int(train.sum()), len(CLASSES))
                weight, bias = fit_logistic(scaled[train], labels[train], l2, no_offset)
                guesses = (scaled[~train] @ weight + bias).argmax(dim=-1)
                results.append(
                    {
                        "family": family,
                        "reference": reference,
                        "inputs": name,
                        "l2": l2,
                        "clean_macro_f1": round(macro_f1(labels[~train].tolist(), guesses.tolist(), len(CLASSES)), 3),
                    }
                )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a model.pt of merit.train, trained without --family's voices")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--family", required=True, help="the held-out voice family")
    parser.add_argument("--l2", type=float, nargs="+", default=[1e-3, 1e-2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    configure_threads(args.threads)
    for result in probe(args.model, args.corpus, args.family, tuple(args.l2)):
        print(json.dumps(result))


if __name__ == "__main__":
    main()
