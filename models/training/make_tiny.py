"""Exports the tiny, randomly initialised Sparse MERIT (same contract as the real one) for fast tests.

    .venv/bin/python make_tiny.py --out ../sparse-merit-tiny.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from merit.config import tiny
from merit.export import export_onnx, metadata_for
from merit.model import MeritModel


def build_tiny(seed: int = 0) -> MeritModel:
    torch.manual_seed(seed)
    return MeritModel(tiny()).eval()


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
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
