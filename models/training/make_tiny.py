"""Exports the tiny, randomly initialised Sparse MERIT (same contract as the real one) for fast tests.

    .venv/bin/python make_tiny.py --out ../sparse-merit-tiny.onnx
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from merit.config import tiny
from merit.export import export_onnx, metadata_for
from merit.model import MeritModel


def build_tiny(seed: int = 0) -> MeritModel:
    torch.manual_seed(seed)
    return MeritModel(tiny()).eval()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "sparse-merit-tiny.onnx")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = build_tiny(args.seed)
    metadata = metadata_for(
        model,
        version="0.1.0",
        trained_on="nothing: random weights (seed %d), for tests only" % args.seed,
        evaluation={},
    )
    export_onnx(model, args.out, metadata)
    write_reference(model, args.out.with_suffix(".reference.json"))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
