"""Converts the authors' released Sparse MERIT checkpoint into an ONNX model the studio opens.

    models/training/.venv/bin/python models/training/convert_official.py \\
        --weights ~/Downloads/Sparse-MERIT --out models/sparse-merit-official.onnx

--weights is the folder the release was downloaded into (the seven files may sit in sub-folders, as
the authors' download_weight.py lays them out). The converter builds our WavLM Large + Sparse MERIT
model, fills it with every released tensor (checked: each used once, every shape matching), exports
ONNX with the studio's contract (weights over 1.5 GB go to `<out>.data` beside the model), checks
PyTorch against ONNX Runtime on test signals, times ONNX Runtime on this machine's CPU, and writes a
model card (`<out>` with .md) stating the provenance and the files' SHA-256.

Without the real files, `python -m merit.official_fixture DIR [--full]` writes a random stand-in
with the same structure to try the whole path.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from merit import SAMPLE_RATE
from merit.export import OUTPUT_NAMES, ContractError, export_onnx, external_data_path, metadata_for
from merit.official import PROVENANCE, OfficialCheckpointError, OfficialModel, load_official
from merit.ship import parity

# PyTorch and ONNX Runtime must agree to this relative difference on every output.
PARITY_TOLERANCE = 1e-3
PARITY_SECONDS = (1.0, 3.3, 7.9)


def test_signals(seconds: tuple[float, ...], seed: int = 0) -> list[np.ndarray]:
    """Speech-band test signals: a gliding harmonic tone with a syllable-rate envelope, plus noise."""
    rng = np.random.default_rng(seed)
    clips = []
    for duration in seconds:
        t = np.arange(round(duration * SAMPLE_RATE)) / SAMPLE_RATE
        f0 = 120 + 40 * np.sin(2 * math.pi * 0.7 * t)
        phase = 2 * math.pi * np.cumsum(f0) / SAMPLE_RATE
        voiced = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * math.pi * 4 * t)) ** 2
        clips.append((0.05 * voiced + 0.01 * rng.standard_normal(t.size)).astype(np.float32))
    return clips


def time_cpu(path: Path, threads: int, seconds: float = 10.0) -> dict:
    """ONNX Runtime on the CPU, one clip of `seconds`: load time, best of two runs, real-time factor."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    start = time.perf_counter()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - start
    clip = test_signals((seconds,))[0][None]
    runs = []
    for _ in range(2):
        start = time.perf_counter()
        session.run(None, {"waveform": clip})
        runs.append(time.perf_counter() - start)
    return {"threads": threads, "clip_s": seconds, "load_s": round(load_s, 2), "run_s": round(min(runs), 3), "rtf": round(min(runs) / seconds, 4)}


def write_card(path: Path, out: Path, official: OfficialModel, checks: dict, timing: dict, conversion_s: float) -> None:
    config = official.model.config
    data = external_data_path(out)
    size = out.stat().st_size + (data.stat().st_size if data.exists() else 0)
    lines = [
        f"# {out.name}: the authors' Sparse MERIT, converted",
        "",
        "The model of the paper, with its authors' weights, in the studio's ONNX contract. Converted by",
        "`models/training/convert_official.py`; nothing was retrained.",
        "",
        "## Provenance",
        *[f"- {key}: {value}" for key, value in PROVENANCE.items()],
        "- licence: the code is MIT; for the weights, see the licence on the model page above.",
        "",
        "| file | SHA-256 |",
        "|---|---|",
        *[f"| {name} | `{digest}` |" for name, digest in official.sha256.items()],
        "",
        "## Model",
        f"- classes, in output order: {', '.join(config.classes)}",
        f"- backbone: WavLM, {config.backbone.num_layers} layers of {config.backbone.hidden_size}; "
        f"{config.backbone.num_hidden_states} hidden states, per-layer LayerNorm, concatenated",
        f"- experts: {config.num_experts} ({config.expert_hidden} hidden, {config.expert_out} out), "
        f"one router each for SE and SER, top-{config.top_k}, one-hot gate (as released)",
        f"- input: 16 kHz mono, normalised with the training set's mean {config.input_mean:.6g} and std {config.input_std:.6g}",
        f"- parameters: {official.report.parameters:,}; on disk {size / 1e6:,.1f} MB"
        + (f" (`{out.name}` + `{data.name}`)" if data.exists() else ""),
        "",
        "## Checks at conversion",
        *[f"- {line}" for line in official.report.lines()],
        f"- PyTorch vs ONNX Runtime on {checks['clips']} test signals ({', '.join(f'{s} s' for s in PARITY_SECONDS)}): "
        "largest relative difference "
        + ", ".join(f"{name} {value:.1e}" for name, value in checks["max_relative_difference"].items())
        + f"; top-1 expert agreement {checks['top1_gate_agreement']:.4f}",
        f"- ONNX Runtime, CPU, {timing['threads']} threads, on the converting machine: load {timing['load_s']} s, "
        f"{timing['clip_s']:.0f} s clip in {timing['run_s']} s (real-time factor {timing['rtf']})",
        f"- conversion took {conversion_s:.0f} s",
        "",
        "Its emotion classes are MSP-Podcast's (real podcast speech), unlike the bundled compact model,",
        "which recognises synthetic prosody styles.",
        "",
    ]
    path.write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True, help="folder holding the downloaded release")
    parser.add_argument("--out", type=Path, required=True, help="the ONNX file to write, e.g. models/sparse-merit-official.onnx")
    parser.add_argument("--classes", help="comma-separated class names in output order, for a fine-tune with other classes")
    parser.add_argument("--card", type=Path, help="model card to write (default: OUT with .md)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads for the timing run")
    args = parser.parse_args()
    started = time.perf_counter()
    classes = tuple(c.strip() for c in args.classes.split(",")) if args.classes else None
    try:
        official = load_official(args.weights.expanduser(), classes)
        for line in official.report.lines():
            print(line)
        model = official.model
        metadata = metadata_for(
            model,
            version="authors-release",
            trained_on=PROVENANCE["trained_on"],
            evaluation={},
            provenance={**PROVENANCE, "files_sha256": official.sha256},
        )
        print(f"exporting {args.out} ...", flush=True)
        export_onnx(model, args.out, metadata)
    except (OfficialCheckpointError, ContractError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    conversion_s = time.perf_counter() - started
    checks = parity(model, args.out, test_signals(PARITY_SECONDS))
    print(json.dumps(checks, indent=1))
    timing = time_cpu(args.out, args.threads)
    print(f"ONNX Runtime CPU: {timing}")
    card = args.card or args.out.with_suffix(".md")
    write_card(card, args.out, official, checks, timing, conversion_s)
    print(f"wrote {args.out} and its card {card}")
    failed = {name: value for name, value in checks["max_relative_difference"].items() if not value <= PARITY_TOLERANCE}
    if failed:
        print(f"error: PyTorch and ONNX Runtime differ beyond {PARITY_TOLERANCE}: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
