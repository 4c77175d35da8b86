"""Whose input makes the SER difference: each trained SER model scored on the same test clips as
given (noisy), after each trained enhancer, and clean. Separates "this SER model is better" from "this
system's SER sees cleaner audio" (SE pre-processing's advantage).

    .venv/bin/python -m merit.ser_by_input --corpus work/corpus/manifest.jsonl --runs work/runs \\
        --out work/eval [--condition unseen/-5dB] [--family espeak]

`--family` scores one voice family's test clips only: a leave-one-family-out run's model (run_lofo.sh's
runs/lofo-FAMILY) on the family it never heard.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from . import CLASSES
from .data import read_audio, read_manifest
from .evaluate import condition_key, write_report
from .metrics import macro_f1
from .train import load_trained, logits_against_speakers
from .train_utils import configure_threads

# Display name -> run folder, for the models that classify and for those that enhance.
SER_MODELS = {"sparse_merit": "sparse_merit", "naive_mtl": "mtl", "se_preprocessing's SER": "ser_enhanced"}
ENHANCERS = {"se_only": "se_only", "sparse_merit": "sparse_merit"}


def trained(runs: Path) -> tuple[dict, dict]:
    """The trained SER models and enhancers by display name, each run loaded once."""
    folders = {run for run in [*SER_MODELS.values(), *ENHANCERS.values()] if (runs / run / "model.pt").exists()}
    loaded = {run: load_trained(runs / run / "model.pt") for run in folders}
    return tuple({name: loaded[run] for name, run in table.items() if run in loaded} for table in (SER_MODELS, ENHANCERS))


@torch.no_grad()
def classes_of(model, clips: list[torch.Tensor], speakers: list[str]) -> list[int]:
    """Each clip's class; a speaker-relative model's against the speaker's other clips of the same
    input, as merit.evaluate scores it."""
    outputs = [model(x) for x in clips]
    if not model.config.speaker_relative:
        return [int(out.emotion_logits.argmax()) for out in outputs]
    statistics = torch.cat([out.emotion_statistics for out in outputs])
    return logits_against_speakers(model.ser_head, statistics, speakers).argmax(-1).tolist()


@torch.no_grad()
def ser_by_input(corpus: Path, runs: Path, condition: str, family: str | None = None) -> dict:
    rows = [
        r for r in read_manifest(corpus) if r["split"] == "test" and condition_key(r) == condition and family in (None, r.get("family"))
    ]
    if not rows:
        raise SystemExit(f"{corpus}: no test clips in condition {condition!r}" + (f" of the family {family!r}" if family else ""))
    classifiers, enhancers = trained(runs)
    if not classifiers:
        raise SystemExit(f"{runs}: no trained SER model")
    noisy = [torch.from_numpy(read_audio(corpus.parent / r["path"]))[None] for r in rows]
    inputs = {"noisy": noisy}
    inputs.update({f"{name} enhanced": [model(x).enhanced for x in noisy] for name, model in enhancers.items()})
    inputs["clean"] = [torch.from_numpy(read_audio(corpus.parent / r["clean_path"]))[None] for r in rows]
    labels = [CLASSES.index(r["label"]) for r in rows]
    speakers = [r["speaker"] for r in rows]
    f1 = {
        name: {given: macro_f1(labels, classes_of(model, clips, speakers), len(CLASSES)) for given, clips in inputs.items()}
        for name, model in classifiers.items()
    }
    return {"condition": condition, "family": family, "clips": len(rows), "macro_f1": f1}


def markdown(result: dict) -> str:
    inputs = list(next(iter(result["macro_f1"].values())))
    family = f"the {result['family']} family's " if result.get("family") else ""
    lines = [
        f"### SER macro-F1 by input ({result['condition']}, {family}{result['clips']} test clips)",
        "",
        "Each SER model given the noisy clips, each enhancer's output, and the clean references "
        "(a speaker-relative model against each speaker's other clips of the same input).",
        "",
        "| SER model | " + " | ".join(inputs) + " |",
        "|---" * (len(inputs) + 1) + "|",
    ]
    for name, by_input in result["macro_f1"].items():
        lines.append(f"| {name} | " + " | ".join(f"{by_input[i]:.3f}" for i in inputs) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for ser_by_input.json and .md")
    parser.add_argument("--condition", default="unseen/-5dB")
    parser.add_argument("--family", help="only this voice family's test clips (e.g. a leave-one-family-out model's)")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    configure_threads(args.threads)
    result = ser_by_input(args.corpus, args.runs, args.condition, args.family)
    write_report(args.out, "ser_by_input", result, markdown(result))


if __name__ == "__main__":
    main()
