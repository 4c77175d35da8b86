"""The paper's evaluation on our corpus's test split: SER macro-F1 and accuracy per SNR on seen and
unseen noise; SE segmental SNR, PESQ-wb, STOI and SI-SDR per SNR (with the noisy input's own figures
and RNNoise's); expert usage per task; and the relative improvements at -5 dB unseen noise.

    .venv/bin/python -m merit.evaluate --corpus work/corpus/manifest.jsonl --runs work/runs \\
        --rnnoise work/rnnoise --out work/eval

`--model NAME=PATH` scores any other model file (model.pt, or an ONNX file of our export) as the system
NAME, with its paired differences per voice family (SSNR; macro-F1 where both classify) against the
other enhancers and the --model systems named before it (two SE heads on one emotion path, say):

    .venv/bin/python -m merit.evaluate --corpus work/corpus/manifest.jsonl --runs work/runs \\
        --only "noisy input,rnnoise" --model shipped=../sparse-merit-compact.onnx \\
        --model new_head=work/se-head/routed+layers/model.pt --rnnoise work/rnnoise --out work/eval-se-head
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from . import CLASSES
from . import comparison
from .data import read_audio, read_manifest
from .metrics import macro_f1, segmental_snr, si_sdr
from .model import MeritModel
from .train import load_trained, logits_against_speakers
from .train_utils import configure_threads


def without_reference(system: str) -> str:
    """The name a speaker-relative system's rows have when scored without speaker references."""
    return f"{system} (no speaker reference)"


def with_gender_reference(system: str) -> str:
    """The name of a speaker-relative system's rows scored against the gender reference of each clip's
    speaker (EmotionHead.gender_references), as a single recording of known gender is classified."""
    return f"{system} (gender reference)"


CONDITIONS = [("clean", None)] + [(s, float(snr)) for s in ("seen", "unseen") for snr in (-5, 0, 5, 10)]


def condition_key(row) -> str:
    return "clean" if row["noise_set"] == "clean" else f"{row['noise_set']}/{row['snr_db']:+.0f}dB"


class SystemOutput(NamedTuple):
    logits: np.ndarray | None  # (clips, classes)
    enhanced: np.ndarray | None  # (clips, samples)
    routing: dict | None  # "se", "ser": (clips, frames) chosen experts
    statistics: torch.Tensor | None = None  # (clips, features): a speaker-relative head's pooled statistics


class System:
    """Something that classifies and/or enhances a batch of equal-length noisy clips."""

    name: str
    # The model that classifies emotion, if any. A speaker-relative one is scored against speaker
    # references once every clip is run.
    classifier: MeritModel | None = None

    @property
    def speaker_relative(self) -> bool:
        return self.classifier is not None and self.classifier.config.speaker_relative

    def run(self, noisy: torch.Tensor, rows: list[dict]) -> SystemOutput:
        raise NotImplementedError

    @torch.no_grad()
    def classify_relative(self, statistics: torch.Tensor, speakers: list[str]) -> np.ndarray:
        """Classes of clips from one condition against their speakers' references (the mean of the
        speaker's other clips there, as merit.train scores its dev split)."""
        return logits_against_speakers(self.classifier.ser_head, statistics, speakers).argmax(-1).numpy()

    @property
    def has_gender_references(self) -> bool:
        return self.speaker_relative and bool(self.classifier.ser_head.fitted_gender_references())

    @torch.no_grad()
    def classify_by_gender(self, statistics: torch.Tensor, genders: list[str | None]) -> np.ndarray:
        head = self.classifier.ser_head
        return head.classify(statistics, head.reference_for_genders(genders)).argmax(-1).numpy()


class ModelSystem(System):
    def __init__(self, name: str, path: Path):
        self.name = name
        self.model = self.classifier = load_trained(path)

    @torch.no_grad()
    def run(self, noisy, rows):
        out = self.model(noisy)
        logits = out.emotion_logits.numpy() if out.emotion_logits is not None else None
        enhanced = out.enhanced.numpy() if out.enhanced is not None else None
        routing = None
        if out.se_chosen is not None:
            routing = {"se": out.se_chosen.argmax(-1).numpy(), "ser": out.ser_chosen.argmax(-1).numpy()}
        return SystemOutput(logits, enhanced, routing, out.emotion_statistics if self.speaker_relative else None)


class PipelineSystem(System):
    """SE pre-processing: enhance first, then a separate SER model on the enhanced audio."""

    def __init__(self, name: str, enhancer: Path, classifier: Path):
        self.name, self.enhancer, self.classifier = name, load_trained(enhancer), load_trained(classifier)

    @torch.no_grad()
    def run(self, noisy, rows):
        enhanced = self.enhancer(noisy).enhanced
        out = self.classifier(enhanced)
        return SystemOutput(out.emotion_logits.numpy(), enhanced.numpy(), None, out.emotion_statistics if self.speaker_relative else None)


class FileSystem(System):
    """Enhanced files made elsewhere (RNNoise via `merit-studio rnnoise`), SE only."""

    def __init__(self, name: str, folder: Path):
        self.name, self.folder = name, folder

    def run(self, noisy, rows):
        enhanced = np.stack([read_audio(self.folder / row["path"])[: noisy.shape[1]] for row in rows])
        return SystemOutput(None, enhanced, None)


class NoisySystem(System):
    name = "noisy input"

    def run(self, noisy, rows):
        return SystemOutput(None, noisy.numpy(), None)


def se_scores(clean: np.ndarray, estimate: np.ndarray, with_perceptual: bool) -> dict:
    scores = {"ssnr": segmental_snr(clean, estimate), "si_sdr": si_sdr(clean, estimate)}
    if with_perceptual:
        from pesq import pesq
        from pesq.cypesq import NoUtterancesError
        from pystoi import stoi

        try:
            scores["pesq_wb"] = float(pesq(16000, clean, estimate, "wb"))
        except (NoUtterancesError, ValueError):
            scores["pesq_wb"] = float("nan")
        scores["stoi"] = float(stoi(clean, estimate, 16000, extended=False))
    return scores


def evaluate(corpus: Path, systems: list[System], perceptual_utterances: int = 60, max_utterances: int = 0, family: str | None = None) -> tuple[dict, list[dict]]:
    """The results tables and the per-clip records behind them (merit.comparison). PESQ and STOI
    (slow) are computed on the first `perceptual_utterances` test utterances (every condition of
    each); everything else on all of them. With `family`, only that voice family's test clips."""
    rows = [r for r in read_manifest(corpus) if r["split"] == "test" and (family is None or r.get("family") == family)]
    if not rows:
        raise SystemExit(f"{corpus}: no test split" + (f" for the voice family {family!r}" if family else ""))
    by_utterance = defaultdict(list)
    for row in rows:
        by_utterance[row["utterance"]].append(row)
    utterances = sorted(by_utterance)[: max_utterances or None]
    # Per speaker-relative system and condition: (record, speaker, pooled statistics).
    pending = {s.name: defaultdict(list) for s in systems if s.speaker_relative}
    se = {s.name: defaultdict(lambda: defaultdict(list)) for s in systems}
    usage = {s.name: {"se": [], "ser": []} for s in systems}
    records: list[dict] = []
    root = corpus.parent
    for number, utterance in enumerate(utterances, start=1):
        group = by_utterance[utterance]
        noisy = torch.from_numpy(np.stack([read_audio(root / r["path"]) for r in group]))
        clean = np.stack([read_audio(root / r["clean_path"]) for r in group])
        for system in systems:
            logits, enhanced, routing, statistics = system.run(noisy, group)
            by_gender = None
            if statistics is not None and system.has_gender_references:
                by_gender = system.classify_by_gender(statistics, [row.get("gender") for row in group])
            for i, row in enumerate(group):
                key = condition_key(row)
                record = {"system": system.name, "utterance": utterance, "family": row.get("family", "espeak"), "condition": key,
                          "truth": CLASSES.index(row["label"]), "guess": None, "ssnr": None}
                if logits is not None:
                    record["guess"] = int(logits[i].argmax())
                if statistics is not None:
                    pending[system.name][key].append((record, row["speaker"], statistics[i]))
                    # The same model without a speaker reference (the population's), as a single
                    # recording is classified; emotion only, so its enhancement is not counted twice.
                    records.append({**record, "system": without_reference(system.name)})
                if by_gender is not None:
                    records.append({**record, "system": with_gender_reference(system.name), "guess": int(by_gender[i])})
                if enhanced is not None and row["noise_set"] != "clean":
                    perceptual = number <= perceptual_utterances
                    for metric, value in se_scores(clean[i].astype(np.float64), enhanced[i].astype(np.float64), perceptual).items():
                        se[system.name][key][metric].append(value)
                    record["ssnr"] = se[system.name][key]["ssnr"][-1]
                records.append(record)
                if routing is not None and row["noise_set"] != "clean":
                    usage[system.name]["se"].append(routing["se"][i])
                    usage[system.name]["ser"].append(routing["ser"][i])
        if number % 20 == 0:
            print(f"  evaluated {number}/{len(utterances)} utterances", flush=True)
    for system in systems:
        for entries in pending.get(system.name, {}).values():
            guesses = system.classify_relative(torch.stack([e[2] for e in entries]), [e[1] for e in entries])
            for (record, _, _), guess in zip(entries, guesses, strict=True):
                record["guess"] = int(guess)
    predictions = {s.name: defaultdict(list) for s in systems}  # the systems' order, for the tables
    for record in records:
        if record["guess"] is not None:
            predictions.setdefault(record["system"], defaultdict(list))[record["condition"]].append((record["truth"], record["guess"]))
    results = {"ser": {}, "se": {}, "experts": {}, "test_utterances": len(utterances)}
    for name, by_condition in predictions.items():
        if not by_condition:
            continue
        results["ser"][name] = {}
        for key, pairs in by_condition.items():
            truth, guess = zip(*pairs)
            results["ser"][name][key] = {
                "macro_f1": macro_f1(truth, guess, len(CLASSES)),
                "accuracy": float(np.mean(np.array(truth) == np.array(guess))),
                "n": len(pairs),
            }
    for name, by_condition in se.items():
        if by_condition:
            results["se"][name] = {
                key: {metric: float(np.nanmean(values)) for metric, values in metrics.items()}
                for key, metrics in by_condition.items()
            }
    for name, tasks in usage.items():
        if not tasks["se"]:
            continue
        se_choice, ser_choice = np.concatenate(tasks["se"], axis=-1), np.concatenate(tasks["ser"], axis=-1)
        experts = int(max(se_choice.max(), ser_choice.max())) + 1
        results["experts"][name] = {
            "se_usage": np.bincount(se_choice.ravel(), minlength=experts).astype(float).tolist(),
            "ser_usage": np.bincount(ser_choice.ravel(), minlength=experts).astype(float).tolist(),
            "frames_routed_differently": float(np.mean(se_choice != ser_choice)),
        }
        for task in ("se_usage", "ser_usage"):
            total = sum(results["experts"][name][task])
            results["experts"][name][task] = [round(c / total, 4) for c in results["experts"][name][task]]
    return results, records


def relative(new: float, old: float) -> float:
    return 100.0 * (new - old) / abs(old) if old and math.isfinite(old) else float("nan")


def headline(results: dict, ours: str = "sparse_merit") -> dict:
    """The paper's headline comparison at -5 dB on unseen noise."""
    key = "unseen/-5dB"
    out = {}
    f1 = {name: by[key]["macro_f1"] for name, by in results["ser"].items() if key in by}
    ssnr = {name: by[key]["ssnr"] for name, by in results["se"].items() if key in by}
    noisy = ssnr.get("noisy input", float("nan"))
    for baseline in ("se_preprocessing", "naive_mtl"):
        if ours in f1 and baseline in f1:
            out[f"f1_vs_{baseline}_pct"] = relative(f1[ours], f1[baseline])
        if ours in ssnr and baseline in ssnr:
            out[f"ssnr_gain_vs_{baseline}_pct"] = relative(ssnr[ours] - noisy, ssnr[baseline] - noisy)
            out[f"ssnr_vs_{baseline}_db"] = ssnr[ours] - ssnr[baseline]
    if ours in ssnr:
        out["ssnr_improvement_over_noisy_db"] = ssnr[ours] - noisy
        if "rnnoise" in ssnr:
            out["ssnr_vs_rnnoise_db"] = ssnr[ours] - ssnr["rnnoise"]
    return out


def markdown(results: dict) -> str:
    keys = [("clean" if s == "clean" else f"{s}/{snr:+.0f}dB") for s, snr in CONDITIONS]
    lines = [f"### SER macro-F1 (accuracy) on the test split ({results['test_utterances']} utterances, each clean and at 4 SNRs with seen and with unseen noise)", "", "| system | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, by in results["ser"].items():
        cells = [f"{by[k]['macro_f1']:.3f} ({by[k]['accuracy']:.2f})" if k in by else "–" for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    noisy_keys = keys[1:]
    subset = f" (first {results.get('perceptual_utterances')} of {results['test_utterances']} test utterances)"
    for metric, title in (("ssnr", "segmental SNR (dB)"), ("pesq_wb", "PESQ-wb" + subset), ("stoi", "STOI" + subset), ("si_sdr", "SI-SDR (dB)")):
        if not any(metric in next(iter(by.values()), {}) for by in results["se"].values()):
            continue
        lines += ["", f"### SE {title}", "", "| system | " + " | ".join(noisy_keys) + " |", "|---" * (len(noisy_keys) + 1) + "|"]
        for name, by in results["se"].items():
            cells = [f"{by[k][metric]:.2f}" if k in by and metric in by[k] else "–" for k in noisy_keys]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if results["experts"]:
        lines += ["", "### Expert usage on noisy test clips (fraction of frames)", "", "| model | SE router | SER router | frames routed differently |", "|---|---|---|---|"]
        for name, e in results["experts"].items():
            lines.append(f"| {name} | {e['se_usage']} | {e['ser_usage']} | {e['frames_routed_differently']:.2f} |")
    if results.get("headline"):
        lines += ["", "### At -5 dB on unseen noise", ""]
        lines += [f"- {k}: {v:+.1f}" for k, v in results["headline"].items()]
    lines += ["", comparison.markdown(results.get("by_family", {}), results.get("differences", {}))]
    return "\n".join(lines) + "\n"


def write_report(folder: Path, stem: str, data: dict, text: str) -> None:
    """STEM.json and STEM.md in the folder, and the markdown on standard output."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(data, indent=1))
    (folder / f"{stem}.md").write_text(text)
    print(text)


def model_argument(value: str) -> tuple[str, Path]:
    """NAME=PATH of --model, the file checked before any scoring starts."""
    name, separator, path = value.partition("=")
    if not separator or not name or not path:
        raise SystemExit(f"--model {value!r}: expected NAME=PATH")
    if not Path(path).is_file():
        raise SystemExit(f"--model {value!r}: {path} is not a file")
    return name, Path(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--rnnoise", type=Path, help="folder of RNNoise outputs mirroring the corpus paths")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--perceptual-utterances", type=int, default=60, help="test utterances scored with PESQ and STOI (0: none)")
    parser.add_argument("--max-utterances", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    parser.add_argument("--only", help="comma-separated systems to evaluate (default: every trained one)")
    parser.add_argument("--add-to", action="store_true", help="merge these systems into OUT/results.json instead of replacing it")
    parser.add_argument("--family", help="only this voice family's test clips (leave-one-family-out evaluation)")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH", help="also score this model file as the system NAME (repeatable)")
    args = parser.parse_args()
    extra = dict(model_argument(value) for value in args.model)
    configure_threads(args.threads)
    runs = args.runs
    systems: list[System] = [NoisySystem()]
    candidates = {
        "sparse_merit": lambda: ModelSystem("sparse_merit", runs / "sparse_merit/model.pt"),
        "sparse_merit_no_pretraining": lambda: ModelSystem("sparse_merit_no_pretraining", runs / "scratch/model.pt"),
        "naive_mtl": lambda: ModelSystem("naive_mtl", runs / "mtl/model.pt"),
        "se_preprocessing": lambda: PipelineSystem("se_preprocessing", runs / "se_only/model.pt", runs / "ser_enhanced/model.pt"),
        "ser_clean_trained": lambda: ModelSystem("ser_clean_trained", runs / "ser_clean/model.pt"),
    }
    needed = {
        "sparse_merit": ["sparse_merit"],
        "sparse_merit_no_pretraining": ["scratch"],
        "naive_mtl": ["mtl"],
        "se_preprocessing": ["se_only", "ser_enhanced"],
        "ser_clean_trained": ["ser_clean"],
    }
    only = set(args.only.split(",")) if args.only else None
    if only is not None:
        systems = [s for s in systems if s.name in only]
    for name, make in candidates.items():
        if only is not None and name not in only:
            continue
        if all((runs / run / "model.pt").exists() for run in needed[name]):
            systems.append(make())
        else:
            print(f"skipping {name}: not trained yet")
    if args.rnnoise and args.rnnoise.is_dir() and (only is None or "rnnoise" in only):
        systems.append(FileSystem("rnnoise", args.rnnoise))
    systems += [ModelSystem(name, path) for name, path in extra.items()]
    results, records = evaluate(args.corpus, systems, args.perceptual_utterances, args.max_utterances, args.family)
    results["perceptual_utterances"] = min(args.perceptual_utterances, results["test_utterances"])
    previous, previous_records = args.out / "results.json", args.out / "records.jsonl"
    if args.add_to and previous.exists():
        merged = json.loads(previous.read_text())
        if (merged["test_utterances"], merged.get("perceptual_utterances")) != (results["test_utterances"], results["perceptual_utterances"]):
            raise SystemExit(f"{previous} was measured on a different subset; evaluate everything again")
        for part in ("ser", "se", "experts"):
            merged[part].update(results[part])
        results = merged
        names = {s.name for s in systems}
        kept = [json.loads(line) for line in previous_records.read_text().splitlines()] if previous_records.exists() else []
        records = [r for r in kept if r["system"] not in names] + records
    args.out.mkdir(parents=True, exist_ok=True)
    previous_records.write_text("".join(json.dumps(r) + "\n" for r in records))
    results["headline"] = headline(results)
    results["by_family"] = comparison.by_family(records)
    results["differences"] = comparison.comparison_table(records)
    # Each --model against the other enhancers and the --model systems named before it.
    others = [name for name in results["se"] if name != "noisy input" and name not in extra]
    for number, name in enumerate(extra):
        results["differences"].update(comparison.model_differences(records, name, others + list(extra)[:number]))
    write_report(args.out, "results", results, markdown(results))


if __name__ == "__main__":
    main()
