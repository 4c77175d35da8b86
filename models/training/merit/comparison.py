"""Comparisons with uncertainty, from per-utterance records: SER and SE figures per voice family and
class, and 95 % bootstrap intervals over utterances for each difference between two systems.

A record is one system's result on one test clip: {"system", "utterance", "family", "condition",
"truth", "guess" (None for SE-only systems), "ssnr" (None for clean clips or SER-only systems)}.
Resampling is by utterance: an utterance's clips (its conditions) stay together, so the interval
reflects how the figure would move on another draw of speakers' utterances.
"""

from __future__ import annotations

import numpy as np

from . import CLASSES
from .metrics import macro_f1, per_class_f1

HEADLINE_CONDITION = "unseen/-5dB"


def select(records: list[dict], system: str, condition: str, family: str | None = None) -> list[dict]:
    return [r for r in records if r["system"] == system and r["condition"] == condition and (family is None or r["family"] == family)]


def ser_summary(records: list[dict]) -> dict | None:
    pairs = [(r["truth"], r["guess"]) for r in records if r["guess"] is not None]
    if not pairs:
        return None
    truth, guess = zip(*pairs)
    return {
        "macro_f1": macro_f1(truth, guess, len(CLASSES)),
        "per_class_f1": dict(zip(CLASSES, per_class_f1(truth, guess, len(CLASSES)))),
        "n": len(pairs),
    }


def by_family(records: list[dict], conditions: tuple[str, ...] = ("clean", HEADLINE_CONDITION)) -> dict:
    """family -> system -> condition -> {macro_f1, per_class_f1, n, ssnr}."""
    table: dict = {}
    families = sorted({r["family"] for r in records})
    systems = sorted({r["system"] for r in records})
    for family in families:
        for system in systems:
            for condition in conditions:
                chosen = select(records, system, condition, family)
                if not chosen:
                    continue
                entry = ser_summary(chosen) or {}
                ssnr = [r["ssnr"] for r in chosen if r["ssnr"] is not None]
                if ssnr:
                    entry["ssnr"] = float(np.nanmean(ssnr))
                if entry:
                    table.setdefault(family, {}).setdefault(system, {})[condition] = entry
    return table


def _paired(records: list[dict], ours: str, baseline: str, condition: str, family: str | None) -> tuple[list[str], dict, dict]:
    mine = {(r["utterance"]): r for r in select(records, ours, condition, family)}
    theirs = {(r["utterance"]): r for r in select(records, baseline, condition, family)}
    utterances = sorted(set(mine) & set(theirs))
    return utterances, mine, theirs


def bootstrap_difference(
    records: list[dict], ours: str, baseline: str, condition: str, metric: str, family: str | None = None, rounds: int = 2000, seed: int = 0
) -> dict | None:
    """ours - baseline in macro-F1 ("f1") or mean segmental SNR ("ssnr") on the utterances both were
    scored on (of one voice family, if given), with the 2.5th and 97.5th percentiles of the same
    difference over `rounds` resamplings of those utterances."""
    utterances, mine, theirs = _paired(records, ours, baseline, condition, family)
    if metric == "f1":
        utterances = [u for u in utterances if mine[u]["guess"] is not None and theirs[u]["guess"] is not None]
    else:
        utterances = [u for u in utterances if mine[u]["ssnr"] is not None and theirs[u]["ssnr"] is not None]
    if len(utterances) < 2:
        return None
    truth = np.array([mine[u]["truth"] for u in utterances])
    if metric == "f1":
        a = np.array([mine[u]["guess"] for u in utterances])
        b = np.array([theirs[u]["guess"] for u in utterances])

        def statistic(index: np.ndarray) -> float:
            return macro_f1(truth[index], a[index], len(CLASSES)) - macro_f1(truth[index], b[index], len(CLASSES))
    else:
        gaps = np.array([mine[u]["ssnr"] - theirs[u]["ssnr"] for u in utterances])

        def statistic(index: np.ndarray) -> float:
            return float(np.nanmean(gaps[index]))

    rng = np.random.default_rng(seed)
    everything = np.arange(len(utterances))
    samples = np.array([statistic(rng.integers(0, len(utterances), len(utterances))) for _ in range(rounds)])
    low, high = np.percentile(samples, [2.5, 97.5])
    return {"difference": statistic(everything), "low": float(low), "high": float(high), "utterances": len(utterances)}


def comparison_table(records: list[dict], ours: str = "sparse_merit", baselines: tuple[str, ...] = ("se_preprocessing", "naive_mtl", "rnnoise")) -> dict:
    """Each difference of ours against each baseline, for macro-F1 and SSNR, clean and at the headline
    condition, with its bootstrap interval; None where one of the two has no such figure."""
    table = {}
    for baseline in baselines:
        for condition in ("clean", HEADLINE_CONDITION):
            for metric in ("f1", "ssnr"):
                if metric == "ssnr" and condition == "clean":
                    continue
                result = bootstrap_difference(records, ours, baseline, condition, metric)
                if result is not None:
                    table[f"{metric} {ours} - {baseline} @ {condition}"] = result
    return table


def model_differences(records: list[dict], ours: str, baselines: list[str]) -> dict:
    """ours - each baseline, over all test clips and per voice family, with bootstrap intervals: SSNR
    at -5 dB on seen and on unseen noise, and macro-F1 clean and at -5 dB unseen where both classify
    (two SE heads on one emotion path, or two trainings of one model)."""
    table = {}
    families = sorted({r["family"] for r in records})
    # One family's rows would repeat the overall ones (a leave-one-family-out evaluation).
    scopes = [None, *families] if len(families) > 1 else [None]
    measures = (("ssnr", "seen/-5dB"), ("ssnr", HEADLINE_CONDITION), ("f1", "clean"), ("f1", HEADLINE_CONDITION))
    for baseline in baselines:
        for metric, condition in measures:
            for family in scopes:
                result = bootstrap_difference(records, ours, baseline, condition, metric, family)
                if result is not None:
                    table[f"{metric} {ours} - {baseline} @ {condition}" + (f" ({family})" if family else "")] = result
    return table


def markdown(family_table: dict, differences: dict) -> str:
    lines = []
    if family_table:
        lines += [
            "### By voice family (SER macro-F1, per class F1 angry/sad/happy/neutral; SSNR in dB)",
            "",
            "| family | system | clean F1 | clean per class | -5 dB unseen F1 | -5 dB unseen SSNR |",
            "|---|---|---|---|---|---|",
        ]
        for family, systems in family_table.items():
            for system, by in systems.items():
                clean, hard = by.get("clean", {}), by.get(HEADLINE_CONDITION, {})
                per_class = "/".join(f"{clean['per_class_f1'][c]:.2f}" for c in CLASSES) if "per_class_f1" in clean else "–"
                cells = [
                    f"{clean['macro_f1']:.3f}" if "macro_f1" in clean else "–",
                    per_class,
                    f"{hard['macro_f1']:.3f}" if "macro_f1" in hard else "–",
                    f"{hard['ssnr']:.2f}" if "ssnr" in hard else "–",
                ]
                lines.append(f"| {family} | {system} | " + " | ".join(cells) + " |")
    if differences:
        lines += ["", "### Differences with 95 % bootstrap intervals over utterances", "", "| difference | value | 95 % interval | utterances |", "|---|---|---|---|"]
        for name, d in differences.items():
            lines.append(f"| {name} | {d['difference']:+.3f} | [{d['low']:+.3f}, {d['high']:+.3f}] | {d['utterances']} |")
    return "\n".join(lines) + "\n"
