"""Evaluation metrics: macro-F1, segmental SNR, SI-SDR."""

from __future__ import annotations

import numpy as np


def confusion(labels, predictions, classes: int) -> np.ndarray:
    matrix = np.zeros((classes, classes), dtype=int)
    for truth, guess in zip(labels, predictions):
        matrix[truth, guess] += 1
    return matrix


def per_class_f1(labels, predictions, classes: int) -> list[float]:
    matrix = confusion(labels, predictions, classes)
    scores = []
    for c in range(classes):
        tp = matrix[c, c]
        precision = tp / matrix[:, c].sum() if matrix[:, c].sum() else 0.0
        recall = tp / matrix[c].sum() if matrix[c].sum() else 0.0
        scores.append(float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0)
    return scores


def macro_f1(labels, predictions, classes: int) -> float:
    return float(np.mean(per_class_f1(labels, predictions, classes)))


def segmental_snr(clean: np.ndarray, estimate: np.ndarray, frame: int = 400, hop: int = 200) -> float:
    """Mean over 25 ms frames of the per-frame SNR clipped to [-10, 35] dB (silent frames skipped)."""
    n = min(len(clean), len(estimate))
    if n < frame:
        return float("nan")
    starts = np.arange(0, n - frame + 1, hop)
    s = np.lib.stride_tricks.sliding_window_view(clean[:n], frame)[starts]
    e = np.lib.stride_tricks.sliding_window_view(estimate[:n], frame)[starts]
    signal = np.sum(s**2, axis=1)
    noise = np.sum((s - e) ** 2, axis=1) + 1e-12
    voiced = signal >= 1e-10
    if not voiced.any():
        return float("nan")
    return float(np.mean(np.clip(10 * np.log10(signal[voiced] / noise[voiced]), -10, 35)))


def si_sdr(clean: np.ndarray, estimate: np.ndarray) -> float:
    n = min(len(clean), len(estimate))
    s, e = clean[:n] - clean[:n].mean(), estimate[:n] - estimate[:n].mean()
    target = np.dot(e, s) / (np.dot(s, s) + 1e-12) * s
    return float(10 * np.log10(np.sum(target**2) / (np.sum((e - target) ** 2) + 1e-12) + 1e-12))
