"""Measuring what the corpus spec promises: F0 mean and range, speaking rate, active level."""

from __future__ import annotations

import numpy as np

FRAME = 640  # 40 ms at 16 kHz: two periods of 50 Hz
HOP = 160


def active_level_dbfs(signal: np.ndarray, rate: int = 16000) -> float:
    """RMS level of the active part (frames within 30 dB of the loudest 10 ms frame), in dBFS."""
    frame = rate // 100
    usable = len(signal) // frame * frame
    if usable == 0:
        return -120.0
    energies = (signal[:usable].reshape(-1, frame) ** 2).mean(axis=1)
    active = energies[energies > energies.max() * 1e-3]
    return float(10 * np.log10(max(active.mean(), 1e-12)))


def f0_track(signal: np.ndarray, rate: int = 16000, fmin: float = 60.0, fmax: float = 500.0) -> np.ndarray:
    """F0 per 10 ms frame by the YIN cumulative-mean-normalised difference; NaN where unvoiced.
    The difference function of all frames is computed at once through FFT cross-correlation."""
    min_lag, max_lag = int(rate / fmax), int(rate / fmin)
    span = FRAME + max_lag
    if len(signal) < span:
        return np.full(0, np.nan)
    starts = np.arange(0, len(signal) - span + 1, HOP)
    windows = np.lib.stride_tricks.sliding_window_view(signal, span)[starts]
    base = windows[:, :FRAME]
    size = 1 << int(np.ceil(np.log2(span + FRAME)))
    cross = np.fft.irfft(np.conj(np.fft.rfft(base, size)) * np.fft.rfft(windows, size), size)[:, : max_lag + 1]
    squares = np.concatenate([np.zeros((len(starts), 1)), np.cumsum(windows**2, axis=1)], axis=1)
    lags = np.arange(max_lag + 1)
    shifted_energy = squares[:, lags + FRAME] - squares[:, lags]
    diff = np.maximum(squares[:, FRAME][:, None] + shifted_energy - 2 * cross, 0.0)
    cumulative = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, max_lag + 1)
    normalised = np.ones_like(diff)
    normalised[:, 1:] = diff[:, 1:] / np.maximum(cumulative, 1e-12)
    level = active_level_dbfs(signal, rate)
    loud = 10 * np.log10(np.mean(base**2, axis=1) + 1e-12) >= level - 25
    f0 = np.full(len(starts), np.nan)
    for i in np.nonzero(loud)[0]:
        candidates = np.nonzero(normalised[i, min_lag:] < 0.15)[0]
        if len(candidates) == 0:
            continue
        lag = candidates[0] + min_lag
        while lag + 1 <= max_lag and normalised[i, lag + 1] < normalised[i, lag]:
            lag += 1
        if 1 <= lag < max_lag:
            a, b, c = normalised[i, lag - 1], normalised[i, lag], normalised[i, lag + 1]
            denominator = a - 2 * b + c
            f0[i] = rate / (lag + (0.5 * (a - c) / denominator if denominator else 0.0))
    return f0


def prosody_stats(signal: np.ndarray, words: int, rate: int = 16000) -> dict:
    """F0 mean (Hz), F0 range (semitones between the 10th and 90th percentiles), words/s, level."""
    f0 = f0_track(signal, rate)
    voiced = f0[np.isfinite(f0)]
    frame = rate // 100
    energies = (signal[: len(signal) // frame * frame].reshape(-1, frame) ** 2).mean(axis=1)
    speech_frames = np.nonzero(energies > energies.max() * 1e-3)[0]
    speech_secs = (speech_frames[-1] - speech_frames[0] + 1) / 100 if len(speech_frames) else 0.0
    stats = {
        "f0_mean_hz": float(np.mean(voiced)) if len(voiced) else float("nan"),
        "f0_range_st": float(12 * np.log2(np.percentile(voiced, 90) / np.percentile(voiced, 10)))
        if len(voiced) > 5
        else float("nan"),
        "words_per_s": words / speech_secs if speech_secs else float("nan"),
        "level_dbfs": active_level_dbfs(signal, rate),
        "voiced_fraction": float(len(voiced) / max(len(f0), 1)),
    }
    return stats
