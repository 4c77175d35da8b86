"""PyTorch eager baseline for `merit-studio bench`: the same analysis (chunks of --chunk-seconds, 20 s
as the studio's, overlapping by the 3 s trajectory window, as many per run as the studio puts in one,
each giving enhancement, routing and the one-pass trajectory) on the same synthetic signal, with the
same number of threads.

    .venv/bin/python bench_torch.py --model ../sparse-merit-compact.onnx --seconds 600 --threads 2

The model is an ONNX file our pipeline exported (rebuilt from the file's own weights, as
merit.finetune does) or a training checkpoint (model.pt). The last line, `elapsed_s X`, is what
scripts/bench-vs-torch.sh reads.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from merit.export import TRAJECTORY_WINDOW_S
from merit.finetune import load_onnx_model
from merit.train import load_trained


def speech_like(seconds: float, rate: int = 16000) -> np.ndarray:
    """The Rust bench's signal (merit-studio bench): a gliding harmonic voice with a syllable-rate
    envelope and light noise (the noise generator differs; its level is the same)."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140 + 30 * np.sin(t * 0.7)
    phase = 2 * math.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(h * phase) / h for h in range(1, 6))
    envelope = np.maximum(0.5 + 0.5 * np.sin(t * 4 * 2 * math.pi), 0)
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, len(t))
    return (0.2 * voice * envelope + 0.03 * noise).astype(np.float32)


def starts(total: int, length: int, step: int) -> list[int]:
    if total <= length:
        return [0]
    out = list(range(0, total - length + 1, step))
    if out[-1] + length < total:
        out.append(total - length)
    return out


# The studio's batch: as much audio per run as 16 trajectory windows (AnalysisParams::default).
STUDIO_BATCH_WINDOWS = 16


@torch.no_grad()
def analyse(model, signal: np.ndarray, chunk_s: float) -> int:
    x = torch.from_numpy(signal)
    window = model.trajectory_window_frames(TRAJECTORY_WINDOW_S)
    length = min(int(chunk_s * 16000), len(signal))
    pieces = starts(len(signal), length, length - int(TRAJECTORY_WINDOW_S * 16000))
    per_run = max(1, int(STUDIO_BATCH_WINDOWS * TRAJECTORY_WINDOW_S // chunk_s))
    for first in range(0, len(pieces), per_run):
        batch = torch.stack([x[start : start + length] for start in pieces[first : first + per_run]])
        model(batch, trajectory_window=window)
    return len(pieces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="an ONNX model of our pipeline, or model.pt from merit.train")
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk-seconds", type=float, default=20.0, help="the studio's chunk length (merit-studio bench --chunk-seconds)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_onnx_model(args.model)[0] if args.model.suffix == ".onnx" else load_trained(args.model)
    signal = speech_like(args.seconds)
    analyse(model, signal[: 4 * 16000], args.chunk_seconds)
    started = time.time()
    analyse(model, signal, args.chunk_seconds)
    elapsed = time.time() - started
    print(f"PyTorch eager, {args.threads} threads: {args.seconds:.0f} s in {elapsed:.2f} s, "
          f"real-time factor {elapsed / args.seconds:.4f} ({args.seconds / elapsed:.0f}x faster than real time)")
    print(f"elapsed_s {elapsed:.4f}")


if __name__ == "__main__":
    main()
