"""Exports a trained Sparse MERIT to ONNX with the contract and its evaluation in the metadata, checks
PyTorch/ONNX Runtime parity on real test clips, and writes the figures into the model card.

    .venv/bin/python -m merit.ship --model work/runs/sparse_merit/model.pt --eval work/eval \\
        --corpus work/corpus/manifest.jsonl --out ../sparse-merit-compact.onnx
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from .data import read_audio, read_manifest
from .export import OUTPUT_NAMES, ContractWrapper, export_onnx, metadata_for
from .train import load_trained


def parity(model, onnx_path: Path, clips: list[np.ndarray]) -> dict:
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = dict.fromkeys(OUTPUT_NAMES, 0.0)
    gate_agreement = []
    wrapper = ContractWrapper(model).eval()
    for clip in clips:
        x = clip[None].astype(np.float32)
        with torch.no_grad():
            reference = wrapper(torch.from_numpy(x))
        results = session.run(None, {"waveform": x})
        for name, a, b in zip(OUTPUT_NAMES, results, reference, strict=True):
            b = b.numpy()
            worst[name] = max(worst[name], float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-6)))
        gate_agreement.append(float(np.mean(results[2].argmax(-1) == reference[2].numpy().argmax(-1))))
    return {"max_relative_difference": worst, "top1_gate_agreement": float(np.mean(gate_agreement)), "clips": len(clips)}


def int8_summary(log: Path) -> str | None:
    """What rounding the weights to int8 did on the dev split, from the training log."""
    if not log.exists():
        return None
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rounded = next((e for e in entries if e.get("step") == "int8"), None)
    if rounded is None:
        return None
    best = next(e for e in entries if e.get("epoch") == rounded["best_epoch"] and e.get("step") != "int8")
    f1 = ""
    if "dev_macro_f1" in best:
        f1 = f", macro-F1 {best['dev_macro_f1']:.4f} -> {rounded['rounded_dev_macro_f1']:.4f}"
    return (
        f"Weights: {rounded['tensors']} matrices ({rounded['values']:,} values) rounded to int8 per row at the end of "
        f"training (merit.quantize) and stored as int8; on the dev split this moved the training objective "
        f"{rounded['best_dev_objective']:.4f} -> {rounded['rounded_dev_objective']:.4f}{f1}. Every figure below is of the rounded model."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True, help="folder with results.json and results.md")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--card", type=Path, help="markdown file for the measured figures (default: OUT with .md)")
    parser.add_argument("--version", default="0.1.0")
    args = parser.parse_args()
    model = load_trained(args.model)
    results = json.loads((args.eval / "results.json").read_text())
    prosody_path = args.corpus.parent / "prosody.json"
    evaluation = {
        "test_set": "merit synthetic corpus, test split (unseen speakers and sentences)",
        "ser_macro_f1": {k: round(v["macro_f1"], 4) for k, v in results["ser"].get("sparse_merit", {}).items()},
        "se_ssnr_db": {k: round(v["ssnr"], 2) for k, v in results["se"].get("sparse_merit", {}).items()},
        "headline_unseen_minus5db": {k: round(v, 2) for k, v in results.get("headline", {}).items()},
        "expert_usage": results["experts"].get("sparse_merit"),
    }
    metadata = metadata_for(
        model,
        version=args.version,
        trained_on=(
            "merit synthetic corpus (espeak-ng pseudo-speakers in four prosody styles + seen noise, "
            "see models/README.md); recognises synthetic prosody styles, not real human emotion"
        ),
        evaluation=evaluation,
    )
    export_onnx(model, args.out, metadata)
    rows = [r for r in read_manifest(args.corpus) if r["split"] == "test"][:40]
    clips = [read_audio(args.corpus.parent / r["path"]) for r in rows]
    check = parity(model, args.out, clips)
    card = args.card or args.out.with_suffix(".md")
    weights_line = int8_summary(args.model.parent / "log.jsonl")
    prosody = json.loads(prosody_path.read_text()) if prosody_path.exists() else {}
    lines = [
        f"# {model.config.name} — measured figures",
        "",
        f"Written by `python -m merit.ship` from `{args.eval / 'results.json'}`; do not edit by hand.",
        "",
        f"Parameters: {sum(p.numel() for p in model.parameters()):,}; ONNX file {args.out.stat().st_size / 1e6:.1f} MB.",
        f"PyTorch vs ONNX Runtime on {check['clips']} real test clips: max relative difference "
        + ", ".join(f"{k} {v:.1e}" for k, v in check["max_relative_difference"].items())
        + f"; top-1 SER router agreement {check['top1_gate_agreement']:.4f}.",
        *([weights_line] if weights_line else []),
        "",
        (args.eval / "results.md").read_text(),
    ]
    by_input = args.eval / "ser_by_input.md"
    if by_input.exists():
        lines += [by_input.read_text()]
    if prosody:
        lines += ["### Corpus prosody per style (clean references, measured)", "", "| style | F0 vs neutral | F0 range (st, median) | words/s | level dBFS | F0 male (Hz) | F0 female (Hz) |", "|---|---|---|---|---|---|---|"]
        for style, s in prosody.items():
            lines.append(
                f"| {style} | {s['f0_vs_neutral']:.2f} | {s['f0_range_st_median']:.1f} | {s['words_per_s']:.2f} | {s['level_dbfs']:.1f} | {s['f0_mean_hz_male']:.0f} | {s['f0_mean_hz_female']:.0f} |"
            )
    card.write_text("\n".join(lines) + "\n")
    print(json.dumps(check, indent=1))
    print(f"wrote {args.out} and {card}")


if __name__ == "__main__":
    main()
