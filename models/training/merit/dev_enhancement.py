"""Enhancement on the dev split, the split where SE choices are made (e.g. `merit.train --se-input`):
each model's segmental SNR gain over the noisy input on the dev split's noisy clips (seen noise, one
SNR drawn per clip), overall and on the clips mixed below 0 dB.

    .venv/bin/python -m merit.dev_enhancement --corpus work/corpus/manifest.jsonl \\
        work/runs/se_only/model.pt work/runs-se/se_only_raw/model.pt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from .data import load_split, without_family
from .metrics import segmental_snr
from .model import MeritModel
from .train import enhance_clips, load_trained
from .train_utils import configure_threads


def noisy_dev_clips(corpus: Path, exclude_family: str | None = None) -> list:
    """The dev split's mixed clips (the clean ones have no SNR)."""
    keep = without_family(exclude_family)
    return [c for c in load_split(corpus, "dev", filter_fn=keep, require_all_classes=False) if c.row.get("snr_db") is not None]


def ssnr_gains(model: MeritModel, clips: list) -> np.ndarray:
    """Each clip's segmental SNR gain (dB) of the model's enhancement over its noisy input."""
    with torch.no_grad():
        enhanced = enhance_clips(model.eval(), clips)
    return np.array([segmental_snr(c.clean, e.noisy) - segmental_snr(c.clean, c.noisy) for c, e in zip(clips, enhanced)])


def dev_gains(model_path: Path, corpus: Path, exclude_family: str | None = None) -> dict:
    """Mean SSNR gain (dB) of the model's enhancement over the noisy dev clips (without a voice family's)."""
    clips = noisy_dev_clips(corpus, exclude_family)
    model = load_trained(model_path)
    if model.se_head is None:
        raise SystemExit(f"{model_path}: the model has no SE head")
    gains = ssnr_gains(model, clips)
    below = np.array([c.row["snr_db"] < 0 for c in clips])
    return {
        "model": str(model_path),
        "se_input": "normalised" if model.se_sees_normalised else "raw",
        "clips": len(clips),
        "ssnr_gain_db": round(float(gains.mean()), 3),
        "clips_below_0db": int(below.sum()),
        "ssnr_gain_below_0db": round(float(gains[below].mean()), 3) if below.any() else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="+", help="model.pt files with an SE head (merit.train), or ONNX files of our export")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--exclude-family", help="leave this voice family's dev clips out (leave-one-family-out)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    args = parser.parse_args()
    configure_threads(args.threads)
    for path in args.models:
        print(json.dumps(dev_gains(path, args.corpus, args.exclude_family)), flush=True)


if __name__ == "__main__":
    main()
