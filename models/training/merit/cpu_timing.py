"""Test signals for the converter's checks, and ONNX Runtime timed on the CPU in a process of its own
(numpy and onnxruntime only, so its peak resident memory is the model's, not PyTorch's).

    .venv/bin/python -m merit.cpu_timing MODEL.onnx [--threads N] [--seconds S]

prints one JSON line: threads, clip_s, load_s, run_s (best of two runs), rtf, peak_mb.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import resource
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from . import SAMPLE_RATE


def test_pairs(seconds: tuple[float, ...], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(clean, noisy) speech-band test signals: a gliding harmonic tone with a syllable-rate envelope,
    and the same plus noise."""
    rng = np.random.default_rng(seed)
    pairs = []
    for duration in seconds:
        t = np.arange(round(duration * SAMPLE_RATE)) / SAMPLE_RATE
        f0 = 120 + 40 * np.sin(2 * math.pi * 0.7 * t)
        phase = 2 * math.pi * np.cumsum(f0) / SAMPLE_RATE
        voiced = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * math.pi * 4 * t)) ** 2
        clean = 0.05 * voiced
        pairs.append((clean.astype(np.float32), (clean + 0.01 * rng.standard_normal(t.size)).astype(np.float32)))
    return pairs


def test_signals(seconds: tuple[float, ...], seed: int = 0) -> list[np.ndarray]:
    """The noisy halves of `test_pairs`."""
    return [noisy for _, noisy in test_pairs(seconds, seed)]


def time_here(path: Path, threads: int, seconds: float = 10.0) -> dict:
    """Load time, best of two runs on one clip of `seconds`, real-time factor, and this process's
    peak resident memory."""
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
    return {
        "threads": threads,
        "clip_s": seconds,
        "load_s": round(load_s, 2),
        "run_s": round(min(runs), 3),
        "rtf": round(min(runs) / seconds, 4),
        "peak_mb": round(peak_resident_mb()),
    }


def peak_resident_mb() -> float:
    """This process's peak resident memory: VmHWM (Linux), which starts afresh at exec; getrusage's
    ru_maxrss can carry the high-water mark of the parent that started this process."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StagePeaks:
    """Peak resident memory of this process per stage of a longer job (the converter's build,
    export and parity): Linux lets a process reset its high-water mark (VmHWM, by writing 5 to
    /proc/self/clear_refs), so each stage's peak is its own. Where that fails, the figures are the
    peak so far, and `cumulative` says so."""

    def __init__(self):
        self.peaks_mb: dict[str, int] = {}
        self.cumulative = False

    @contextlib.contextmanager
    def stage(self, name: str):
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.cumulative = True
        try:
            yield
        finally:
            self.peaks_mb[name] = round(peak_resident_mb())

    def describe(self) -> str:
        figures = ", ".join(f"{name} {mb:,} MB" for name, mb in self.peaks_mb.items())
        return f"peak resident memory by stage{' (peak so far, not per stage)' if self.cumulative else ''}: {figures}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(time_here(args.model, args.threads, args.seconds)))


if __name__ == "__main__":
    main()
