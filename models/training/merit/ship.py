"""Exports a trained Sparse MERIT to ONNX with the contract and its evaluation in the metadata, checks
PyTorch/ONNX Runtime parity on real test clips, writes its CPU variant beside it (merit.cpu_int8,
checked on the real voices' test recordings), and writes the figures into the model card.

    .venv/bin/python -m merit.ship --model work/runs/sparse_merit/model.pt --eval work/eval \\
        --corpus work/corpus/manifest.jsonl --out ../sparse-merit-compact.onnx
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from .cpu_int8 import PRECISION as INT8, Int8Error, corpus_test_pairs, variant_path, write_cpu_variant
from .data import read_audio, read_manifest
from .precision_parity import describe
from .evaluate import with_gender_reference, without_reference
from .export import ContractWrapper, contract_names, export_onnx, metadata_for, statistics_size
from .train import load_trained


def parity(model, onnx_path: Path, clips: list[np.ndarray]) -> dict:
    """PyTorch against ONNX Runtime on `clips`; a speaker-relative model alternately without a speaker
    reference (NaN: the population's) and with the previous clip's statistics as one."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    input_names, output_names = contract_names(model.config.speaker_relative)
    worst = dict.fromkeys(output_names, 0.0)
    gate_agreement = []
    wrapper = ContractWrapper(model).eval()
    reference_row = None
    for number, clip in enumerate(clips):
        x = clip[None].astype(np.float32)
        feeds = {"waveform": x}
        if model.config.speaker_relative:
            nan = np.full((1, statistics_size(model)), np.nan, np.float32)
            feeds[input_names[1]] = reference_row if number % 2 and reference_row is not None else nan
        with torch.no_grad():
            reference = wrapper(*(torch.from_numpy(v) for v in feeds.values()))
        results = session.run(None, feeds)
        if model.config.speaker_relative:
            reference_row = results[-1]
        for name, a, b in zip(output_names, results, reference, strict=True):
            b = b.numpy()
            worst[name] = max(worst[name], float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-6)))
        gate_agreement.append(float(np.mean(results[2].argmax(-1) == reference[2].numpy().argmax(-1))))
    return {"max_relative_difference": worst, "top1_gate_agreement": float(np.mean(gate_agreement)), "clips": len(clips)}


NO_REFERENCE = without_reference("sparse_merit")
GENDER_REFERENCE = with_gender_reference("sparse_merit")
RELATIVE_NOTE = (
    "**Speaker-relative.** This model classifies a recording against its speaker's own voice: the "
    "`sparse_merit` rows use, for each test clip, the mean statistics of the same speaker's other test "
    f"clips of the same condition; the `{NO_REFERENCE}` rows use the training population's mean, what a "
    "recording without a known speaker (or with fewer than 2 other recordings) gets in the studio; the "
    f"`{GENDER_REFERENCE}` rows the mean of the training recordings of the speaker's gender, what such a "
    "recording gets when its manifest gives the gender."
)


def own_log(model_path: Path) -> list[dict]:
    """The entries of the log.jsonl beside the model at `model_path` (none when it has no log)."""
    log = model_path.parent / "log.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []


def step_entry(entries: list[dict], step: str) -> dict | None:
    """A log's one line of `step`: merit.refit's "refit" (naming its source model), merit.train's "int8"."""
    return next((e for e in entries if e.get("step") == step), None)


def derived_from(entries: list[dict]) -> Path | None:
    """The model a refitted (merit.refit) or polished (merit.se_polish) model was made from."""
    derived = step_entry(entries, "refit") or step_entry(entries, "before polishing")
    return Path(derived["source"]) if derived and "source" in derived else None


def training_log(model_path: Path) -> list[dict]:
    """The training log of the model at `model_path`: its own log.jsonl, or, for a refitted or
    polished model, the log of the training it came from."""
    entries = own_log(model_path)
    source = derived_from(entries)
    return training_log(source) if source else entries


def polish_summary(model_path: Path) -> str | None:
    """How merit.se_polish polished the SE head of the model at `model_path` or of the model it was
    refitted from, from the polishing's log."""
    entries = own_log(model_path)
    if step_entry(entries, "refit"):
        entries = own_log(derived_from(entries))
    polished, before = step_entry(entries, "polished"), step_entry(entries, "before polishing")
    if polished is None or before is None:
        return None
    loss = "the L1 on log1p magnitudes"
    if polished["ssnr_weight"]:
        loss += f" plus {polished['ssnr_weight']} × the negative segmental SNR"
    noise = ", the training noise randomised (`--randomise-noise`)" if polished["randomise_noise"] else ""
    kept = "the model as trained" if polished["best_epoch"] < 0 else f"epoch {polished['best_epoch'] + 1} of {polished['epochs']}"
    return (
        f"SE head polished (`merit.se_polish`): {polished['epochs']} more epochs for the SE head alone (everything else "
        f"fixed), {loss}{noise}; kept by the dev split's SSNR gain: {kept}, {before['dev_ssnr_gain']:.2f} → "
        f"{polished['rounded_dev_ssnr_gain']:.2f} dB."
    )


def se_head_input_summary(model) -> str:
    """What the model's SE head reads beside the noisy spectrum (merit.config's se_head_input)."""
    if model.se_reads_layers:
        return (
            "SE head input: the routed expert output and the backbone's aggregated layers (`merit.train --se-head-input "
            'routed+layers`; models/README.md, "What the SE head reads").'
        )
    if model.moe is None:
        return "SE head input: the backbone's aggregated layers (no experts to route)."
    return "SE head input: the routed expert output (the paper's design)."


def refit_summary(model_path: Path) -> str | None:
    """How merit.refit fitted the pitch path of the model at `model_path`, from its own log."""
    refit = step_entry(own_log(model_path), "refit")
    if refit is None:
        return None
    rounds = "the clean round" if refit.get("fit_rounds") == "clean" else f"all {refit['rounds']} rounds (clean and noisy)"
    voiced = " with the voiced frames' pitch (`--voiced-pitch`)" if refit.get("voiced_pitch") else ""
    # The log scores each (gate, L2) it tried; a single L2 among them was given, not chosen.
    tried_l2 = {key.split("l2 ")[1] for key in refit.get("held_out_family_macro_f1", {})}
    l2 = "given" if len(tried_l2) == 1 else "chosen with the gate"
    return (
        f"Refit (`merit.refit`): the pitch path refitted on the training statistics of {refit['clips']:,} clips, "
        f"fitted on {rounds}{voiced}, L2 weight {refit['l2']} ({l2}); the wide classifier's gate {refit['gate']} "
        "(chosen by fitting on all training families but one and scoring on that one)."
    )


def schedule_summary(entries: list[dict]) -> str | None:
    """How long the model trained, from its training log."""
    frozen = sum(e.get("step") == "frozen" for e in entries)
    finetune = sum(e.get("step") == "finetune" for e in entries)
    rounded = step_entry(entries, "int8")
    if not frozen + finetune or rounded is None:
        return None
    return (
        f"Training: {frozen} epochs with the pre-trained backbone frozen, then {finetune} fine-tuning it "
        f"(`merit.train --frozen-epochs {frozen} --finetune-epochs {finetune}`); the model is the best "
        f"epoch on the dev split, epoch {rounded['best_epoch'] + 1} of {frozen + finetune}."
    )


def int8_summary(entries: list[dict]) -> str | None:
    """What rounding the weights to int8 did on the dev split, from the training log."""
    rounded = step_entry(entries, "int8")
    if rounded is None:
        return None
    best = next(e for e in entries if e.get("epoch") == rounded["best_epoch"] and e.get("step") != "int8")
    f1 = ""
    if "dev_macro_f1" in best:
        f1 = f", macro-F1 {best['dev_macro_f1']:.4f} -> {rounded['rounded_dev_macro_f1']:.4f}"
    return (
        f"Weights: {rounded['tensors']} matrices ({rounded['values']:,} values) rounded to int8 per row at the end of "
        f"training (merit.quantize) and stored as int8; on the dev split this moved the training objective "
        f"{rounded['best_dev_objective']:.4f} -> {rounded['rounded_dev_objective']:.4f}{f1}. Every figure below is of the rounded model."
    )


REPOSITORY = Path(__file__).resolve().parents[3]


def shown(path: Path) -> str:
    """A path as the card names it: relative to the repository when it lies inside it (a work folder
    reached through a link inside the repository is named by that link)."""
    absolute = Path(path).absolute()
    try:
        return str(absolute.relative_to(REPOSITORY))
    except ValueError:
        return str(path)


# The stages run_all.sh and run_lofo.sh (the shipped recipe, any seed) write to timings.jsonl; other
# lines of the same work folder (recipe trials, experiments, label-efficiency curves) made no part of
# the shipped model and get a table of their own. A model shipped with the leave-one-family-out runs of
# a named recipe (run_lofo.sh's RECIPE, merit.ship --lofo-recipe) counts that recipe's stages instead.
def recipe_stage(lofo_recipe: str | None = None) -> re.Pattern:
    suffix = re.escape(f"-{lofo_recipe}") if lofo_recipe else ""
    return re.compile(
        r"(corpus|pretrain|train (sparse_merit|mtl|ser_enhanced|se_only)-trained|polish (sparse_merit-polished|mtl-polished|se_only)"
        r"|refit (sparse_merit|mtl|ser_enhanced)|build studio|rnnoise|evaluate|ser_by_input|ship|lofo (espeak|festival|real) pretrain"
        rf"|lofo (espeak|festival|real){suffix}(-seed\d+)? (train|polish|refit|evaluate))"
    )


def stage_table(stages: dict[str, list[float]]) -> list[str]:
    lines = ["| stage | wall time (min) | CPU time (min) | invocations |", "|---|---|---|---|"]
    for stage, (wall, cpu, count) in stages.items():
        lines.append(f"| {stage} | {wall / 60:.1f} | {cpu / 60:.1f} | {count} |")
    return lines


def describe_source(work: Path, lofo_recipe: str | None = None, se_reads_layers: bool = False) -> list[str]:
    """The run that made the model: its command (with the recipe.sh settings that differ from the
    defaults) and each stage's wall and CPU time (timings.jsonl, every invocation of a stage added up:
    a resumed stage counts all its parts)."""
    is_recipe = recipe_stage(lofo_recipe).fullmatch
    timings = Path(work) / "timings.jsonl"
    settings = ("SE_HEAD_INPUT=routed+layers " if se_reads_layers else "") + (f"LOFO_RECIPE={lofo_recipe} " if lofo_recipe else "")
    lines = ["", f"Source run: `{settings}models/training/run_all.sh {shown(work)}`."]
    if not timings.exists():
        return lines
    recipe: dict[str, list[float]] = {}
    other: dict[str, list[float]] = {}
    for line in timings.read_text().splitlines():
        # GNU time appends its own note ("Command exited with non-zero status 143") before the
        # JSON line of a stage that failed or was killed; that JSON line carries the exit code.
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        stages = recipe if is_recipe(entry["stage"]) else other
        totals = stages.setdefault(entry["stage"], [0.0, 0.0, 0])
        totals[0] += entry["wall_s"]
        totals[1] += entry["user_s"] + entry["system_s"]
        totals[2] += 1
    lines += ["", *stage_table(recipe), ""]
    lines.append(
        "Trainings run two at a time, so the run's wall time is less than the sum of its stages. A stage "
        "run again after its output was removed (a new recipe's refit, say) counts every invocation."
    )
    if other:
        lines += ["", "Other runs in the same work folder (trials and experiments, not part of this model):", "", *stage_table(other)]
    return lines


def ordering_statements(differences: dict) -> str:
    """Where the paper's ordering (Sparse MERIT above each baseline) holds, by the 95 % intervals."""
    if not differences:
        return ""
    lines = ["### Does the paper's ordering hold here?", ""]
    for name, d in differences.items():
        if d["low"] > 0:
            verdict = "holds (the whole interval is above 0)"
        elif d["high"] < 0:
            verdict = "does not hold (the whole interval is below 0)"
        else:
            verdict = "not resolved by this test set (the interval contains 0)"
        lines.append(f"- {name}: {d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]: {verdict}")
    return "\n".join(lines) + "\n"


def lofo_section(work: Path, recipe: str | None = None) -> str:
    """Leave-one-voice-family-out: each family scored by a Sparse MERIT trained (and pre-trained)
    without it (run_lofo.sh writes WORK/eval-lofo[-RECIPE]/FAMILY/results.json); a speaker-relative
    model's row also says what it scores without speaker references."""
    folder = Path(work) / ("eval-lofo" + (f"-{recipe}" if recipe else ""))
    reports = sorted(folder.glob("*/results.json")) if folder.is_dir() else []
    if not reports:
        return "### Leave-one-voice-family-out\n\nNot run yet (models/training/run_lofo.sh).\n"
    lines = [
        "### Leave-one-voice-family-out (trained and pre-trained without the family, tested on its test split)",
        "",
        "| held-out family | clean F1 | per class angry/sad/happy/neutral | -5 dB unseen F1 | clean / -5 dB F1 without speaker references | the same with the gender reference | SSNR gain -5 dB unseen (dB) | RNNoise's gain (dB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        family = report.parent.name
        table = json.loads(report.read_text()).get("by_family", {}).get(family, {})
        ours = table.get("sparse_merit", {})
        clean, hard = ours.get("clean", {}), ours.get("unseen/-5dB", {})
        without, by_gender = (clean_and_hard(table.get(name, {})) for name in (NO_REFERENCE, GENDER_REFERENCE))
        noisy = table.get("noisy input", {}).get("unseen/-5dB", {}).get("ssnr")
        rnnoise = table.get("rnnoise", {}).get("unseen/-5dB", {}).get("ssnr")
        per_class = "/".join(f"{v:.2f}" for v in clean.get("per_class_f1", {}).values()) or "–"
        gain = f"{hard['ssnr'] - noisy:+.2f}" if "ssnr" in hard and noisy is not None else "–"
        rn_gain = f"{rnnoise - noisy:+.2f}" if rnnoise is not None and noisy is not None else "–"
        lines.append(
            f"| {family} | {clean.get('macro_f1', float('nan')):.3f} | {per_class} | {hard.get('macro_f1', float('nan')):.3f} | {without} | {by_gender} | {gain} | {rn_gain} |"
        )
    return "\n".join(lines) + "\n"


def clean_and_hard(rows: dict) -> str:
    """A system's clean and -5 dB unseen macro-F1, as one cell."""
    if "clean" in rows and "unseen/-5dB" in rows:
        return f"{rows['clean']['macro_f1']:.3f} / {rows['unseen/-5dB']['macro_f1']:.3f}"
    return "–"


def corpus_section(report_path: Path) -> list[str]:
    if not report_path.exists():
        return []
    report = json.loads(report_path.read_text())
    lines = [
        f"### Corpus v2: utterances kept and dropped by the prosody check ({report['dropped']} dropped in all)",
        "",
        "| family | style | kept | dropped | F0 vs neutral | F0 range (st, median) |",
        "|---|---|---|---|---|---|",
    ]
    for family, styles in report["styles"].items():
        for style, st in styles.items():
            lines.append(f"| {family} | {style} | {st['kept']} | {st['dropped']} | {st['f0_vs_neutral']:.2f} | {st['f0_range_st_median']:.1f} |")
    return lines


def cpu_variant_line(model_path: Path, corpus: Path) -> str:
    """Writes the model's CPU variant (merit.cpu_int8), checked on the test recordings of the real
    voices (all test recordings in a corpus without them); the card's line on it. A variant that
    fails its check is not written, and a stale one goes."""
    pairs = corpus_test_pairs(corpus, "real") or corpus_test_pairs(corpus, None)
    target = variant_path(model_path)
    try:
        report = write_cpu_variant(model_path, pairs, threads=2)
    except Int8Error as error:
        target.unlink(missing_ok=True)
        return f"No CPU variant: {error}."
    except Exception as error:  # noqa: BLE001 - the quantiser and ONNX Runtime raise many types; the card still gets written
        target.unlink(missing_ok=True)
        return f"No CPU variant: {type(error).__name__}: {error}."
    return (
        f"CPU variant `{target.name}` ({target.stat().st_size / 1e6:.1f} MB; the studio runs it on the CPU in this file's "
        f"place): {report['quantised']} of the {report['matmuls']} matrix products in int8 (merit.cpu_int8); "
        + describe(report, INT8, with_targets=False)
        + "."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True, help="folder with results.json and results.md")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--card", type=Path, help="markdown file for the measured figures (default: OUT with .md)")
    parser.add_argument("--version", default="0.2.0")
    parser.add_argument("--work", type=Path, help="the run's work folder (timings.jsonl, eval-lofo/): named in the card relative to the repository")
    parser.add_argument("--lofo-recipe", help="the leave-one-family-out results of this recipe (WORK/eval-lofo-RECIPE, run_lofo.sh's RECIPE)")
    args = parser.parse_args()
    model = load_trained(args.model)
    results = json.loads((args.eval / "results.json").read_text())
    evaluation = {
        "test_set": "merit synthetic corpus v2, test split (unseen speakers and voices of three families, unseen sentences)",
        "ser_macro_f1": {k: round(v["macro_f1"], 4) for k, v in results["ser"].get("sparse_merit", {}).items()},
        "se_ssnr_db": {k: round(v["ssnr"], 2) for k, v in results["se"].get("sparse_merit", {}).items()},
        "headline_unseen_minus5db": {k: round(v, 2) for k, v in results.get("headline", {}).items()},
        "expert_usage": results["experts"].get("sparse_merit"),
    }
    if model.config.speaker_relative:
        evaluation["speaker_reference"] = "the mean statistics of the same speaker's other test clips of the same condition"
        evaluation["ser_macro_f1_without_speaker_reference"] = {
            k: round(v["macro_f1"], 4) for k, v in results["ser"].get(NO_REFERENCE, {}).items()
        }
        evaluation["ser_macro_f1_with_gender_reference"] = {
            k: round(v["macro_f1"], 4) for k, v in results["ser"].get(GENDER_REFERENCE, {}).items()
        }
    metadata = metadata_for(
        model,
        version=args.version,
        trained_on=(
            "merit synthetic corpus v2 (espeak-ng pseudo-speakers, Festival voices and real prompt recordings "
            "in four prosody styles, noise mixed on the fly; see models/README.md); recognises synthetic "
            "prosody styles, not real human emotion"
        ),
        evaluation=evaluation,
    )
    export_onnx(model, args.out, metadata)
    rows = [r for r in read_manifest(args.corpus) if r["split"] == "test"][:40]
    clips = [read_audio(args.corpus.parent / r["path"]) for r in rows]
    check = parity(model, args.out, clips)
    variant_line = cpu_variant_line(args.out, args.corpus)
    card = args.card or args.out.with_suffix(".md")
    log = training_log(args.model)
    summaries = (schedule_summary(log), int8_summary(log), se_head_input_summary(model), polish_summary(args.model), refit_summary(args.model))
    training_lines = [line for line in summaries if line]
    lines = [
        f"# {model.config.name} — measured figures",
        "",
        f"Written by `python -m merit.ship` from the evaluation in `{shown(args.eval)}`; do not edit by hand.",
        *(describe_source(args.work, args.lofo_recipe, model.se_reads_layers) if args.work else []),
        "",
        f"Parameters: {sum(p.numel() for p in model.parameters()):,}; ONNX file {args.out.stat().st_size / 1e6:.1f} MB.",
        f"PyTorch vs ONNX Runtime on {check['clips']} real test clips: max relative difference "
        + ", ".join(f"{k} {v:.1e}" for k, v in check["max_relative_difference"].items())
        + f"; top-1 SER router agreement {check['top1_gate_agreement']:.4f}.",
        variant_line,
        *training_lines,
        *([RELATIVE_NOTE] if model.config.speaker_relative else []),
        "",
        (args.eval / "results.md").read_text(),
        ordering_statements(results.get("differences", {})),
    ]
    by_input = args.eval / "ser_by_input.md"
    if by_input.exists():
        lines.append(by_input.read_text())
    if args.work:
        lines.append(lofo_section(args.work, args.lofo_recipe))
    lines += corpus_section(args.corpus.parent / "corpus.json")
    card.write_text("\n".join(lines) + "\n")
    print(json.dumps(check, indent=1))
    print(f"wrote {args.out} and {card}")


if __name__ == "__main__":
    main()
