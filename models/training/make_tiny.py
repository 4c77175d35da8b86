"""Exports the tiny, randomly initialised Sparse MERIT (same contract as the real one) for fast tests,
and its speaker-relative sibling (the contract's speaker_reference input and emotion_statistics output;
int8-rounded weights, so the file stays small).

    .venv/bin/python make_tiny.py --out ../sparse-merit-tiny.onnx
    .venv/bin/python make_tiny.py --speaker-relative --out ../sparse-merit-tiny-relative.onnx
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from merit.config import tiny
from merit.export import ContractWrapper, export_onnx, metadata_for, statistics_size
from merit.model import MeritModel
from merit.quantize import round_weights_int8


def build_tiny(seed: int = 0, speaker_relative: bool = False) -> MeritModel:
    torch.manual_seed(seed)
    config = tiny()
    config.speaker_relative = speaker_relative
    model = MeritModel(config).eval()
    if speaker_relative:
        round_weights_int8(model)
        # A population reference that is not zero, so that using it is visible in the outputs, and
        # gender references unlike it (the card carries them; the studio feeds them as references).
        with torch.no_grad():
            statistics = ContractWrapper(model)(reference_input())[-1][0]
            model.ser_head.population_reference.copy_(statistics * 0.5)
            model.ser_head.gender_references.copy_(torch.stack([statistics * 0.25, statistics * 0.75]))
    return model


def reference_input(samples: int = 16000) -> torch.Tensor:
    """A deterministic test signal that the Rust tests rebuild exactly: a 0.1-amplitude chirp plus
    a 0.05 square wave."""
    t = torch.arange(samples, dtype=torch.float64) / 16000
    chirp = 0.1 * torch.sin(2 * math.pi * (200 + 300 * t) * t)
    square = 0.05 * torch.sign(torch.sin(2 * math.pi * 7 * t))
    return (chirp + square).float()[None]


def write_reference(model: MeritModel, path: Path) -> None:
    """Outputs of PyTorch on the reference input, for the Rust engine's cross-check."""
    with torch.no_grad():
        out = model(reference_input())
    reference = {
        "samples": 16000,
        "emotion_logits": out.emotion_logits[0].tolist(),
        "enhanced_first": out.enhanced[0, :32].tolist(),
        "enhanced_energy": float((out.enhanced**2).sum()),
        "ser_gate_frame0": out.ser_probs[0, 0].tolist(),
        "se_gate_last": out.se_probs[0, -1].tolist(),
        "frames": out.se_probs.shape[1],
    }
    path.write_text(json.dumps(reference, indent=1) + "\n")


def write_relative_reference(model: MeritModel, path: Path) -> None:
    """A speaker-relative model's outputs on the reference input: with a NaN reference (the
    population's) and with the emotion statistics of the time-reversed reference input as the reference."""
    wrapper = ContractWrapper(model)
    signal = reference_input()
    nan = torch.full((1, statistics_size(model)), float("nan"))
    with torch.no_grad():
        reversed_statistics = wrapper(signal.flip(-1), nan)[-1]
        population = wrapper(signal, nan)
        relative = wrapper(signal, reversed_statistics)
    reference = {
        "samples": signal.shape[-1],
        "statistics_size": statistics_size(model),
        "statistics_first": population[-1][0, :8].tolist(),
        "logits_population": population[0][0].tolist(),
        "reversed_statistics": reversed_statistics[0].tolist(),
        "logits_relative": relative[0][0].tolist(),
    }
    path.write_text(json.dumps(reference, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "sparse-merit-tiny.onnx")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speaker-relative", action="store_true")
    args = parser.parse_args()
    model = build_tiny(args.seed, args.speaker_relative)
    metadata = metadata_for(
        model,
        version="0.1.0",
        trained_on="nothing: random weights (seed %d), for tests only" % args.seed,
        evaluation={},
    )
    export_onnx(model, args.out, metadata)
    (write_relative_reference if args.speaker_relative else write_reference)(model, args.out.with_suffix(".reference.json"))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
