"""PyTorch eager baseline for `merit-studio bench`: the same analysis (chunks of --chunk-seconds, 20 s
as the studio's, overlapping by the 3 s trajectory window, as many per run as the studio puts in one,
each giving enhancement, routing and the one-pass trajectory) on the same synthetic signal, with the
same number of threads; on a GPU (`--device cuda`, as scripts/gpu-check.sh runs it) with the batch of
`merit-studio bench --batch`, timed to the GPU's last kernel, with its peak memory.

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
def analyse(model, signal: np.ndarray, chunk_s: float, batch_windows: int = STUDIO_BATCH_WINDOWS, device: torch.device | None = None) -> int:
    """Runs the studio's chunks through `model`; each run's audio is copied to `device` (as ONNX
    Runtime's inputs are), and the time ends when the device has finished."""
    device = device or torch.device("cpu")
    x = torch.from_numpy(signal)
    window = model.trajectory_window_frames(TRAJECTORY_WINDOW_S)
    length = min(int(chunk_s * 16000), len(signal))
    pieces = starts(len(signal), length, length - int(TRAJECTORY_WINDOW_S * 16000))
    per_run = max(1, int(batch_windows * TRAJECTORY_WINDOW_S // chunk_s))
    for first in range(0, len(pieces), per_run):
        batch = torch.stack([x[start : start + length] for start in pieces[first : first + per_run]]).to(device)
        model(batch, trajectory_window=window)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return len(pieces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="an ONNX model of our pipeline, or model.pt from merit.train")
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk-seconds", type=float, default=20.0, help="the studio's chunk length (merit-studio bench --chunk-seconds)")
    parser.add_argument("--batch", type=int, default=STUDIO_BATCH_WINDOWS, help="audio per run in trajectory windows (merit-studio bench --batch)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = load_trained(args.model).to(device)
    signal = speech_like(args.seconds)
    # Warm-up on as much audio as one full run, so a GPU's kernels are chosen before the clock starts.
    analyse(model, signal[: int(max(4, args.batch * TRAJECTORY_WINDOW_S) * 16000)], args.chunk_seconds, args.batch, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.time()
    analyse(model, signal, args.chunk_seconds, args.batch, device)
    elapsed = time.time() - started
    where = f"{args.threads} threads" if device.type == "cpu" else f"{torch.cuda.get_device_name(device)}, batch {args.batch}"
    print(f"PyTorch eager, {where}: {args.seconds:.0f} s in {elapsed:.2f} s, "
          f"real-time factor {elapsed / args.seconds:.4f} ({args.seconds / elapsed:.0f}x faster than real time)")
    if device.type == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MB (PyTorch's allocations)")
    print(f"elapsed_s {elapsed:.4f}")


if __name__ == "__main__":
    main()
