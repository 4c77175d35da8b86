"""Training Sparse MERIT and the baselines on a corpus manifest, in the paper's two steps: heads on a
frozen self-supervised backbone, then fine-tuning (CNN front end frozen, backbone at half the rate).
Every epoch is checkpointed; a rerun resumes. The checkpoint kept is the best on the dev split, with
its weights rounded to int8 (merit.quantize).

    .venv/bin/python -m merit.train --variant sparse_merit --corpus work/corpus/manifest.jsonl \\
        --backbone work/runs/pretrain/backbone.pt --out work/runs/sparse_merit
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import PRESETS, SE_HEAD_INPUTS, MeritConfig
from .corpus import CORPUS_VERSION
from .export import load_onnx_model
from .data import Batches, Clip, check_corpus_version, load_split, without_family
from .mixing import NoisePool
from .metrics import macro_f1
from .heads import MIN_OTHER_RECORDINGS, EmotionHead, leave_one_out_reference
from .model import VARIANTS, MeritModel, class_weights, merit_loss
from .quantize import round_weights_int8
from .train_utils import configure_threads, device, load_checkpoint, log_line, save_checkpoint, set_seed


def build_model(
    preset: str,
    variant: str,
    backbone: Path | None,
    se_loss_weight: float | None = None,
    speaker_relative: bool = False,
    pitch_features: bool = False,
    se_normalised: bool | None = None,
    se_head_input: str = "routed",
) -> MeritModel:
    config: MeritConfig = PRESETS[preset]()
    if se_loss_weight is not None:
        config.se_loss_weight = se_loss_weight
    if se_normalised is not None:
        config.se_normalised = se_normalised
    config.speaker_relative = speaker_relative
    config.pitch_features = pitch_features
    config.se_head_input = se_head_input
    model = MeritModel(config, variant)
    if backbone is not None:
        state = torch.load(backbone, map_location="cpu", weights_only=False)
        model.backbone.load_state_dict(state["state_dict"])
    return model


def load_trained(path: Path) -> MeritModel:
    """A model written by this script (model.pt: config, variant, weights), or an ONNX file of our
    export (its weights and config, merit.export.load_onnx_model), in eval mode."""
    if path.suffix == ".onnx":
        return load_onnx_model(path)[0]
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = MeritModel(MeritConfig.from_dict(state["config"]), state["variant"])
    model.load_state_dict(state["state_dict"])
    return model.eval()


@torch.no_grad()
def enhance_clips(enhancer: MeritModel, clips: list[Clip]) -> list[Clip]:
    """The SE pre-processing baseline's inputs: every clip replaced by the enhancer's output."""
    enhanced = []
    on = next(enhancer.parameters()).device
    for clip in clips:
        out = enhancer(torch.from_numpy(clip.noisy)[None].to(on)).enhanced[0].cpu().numpy()
        enhanced.append(Clip(clip.row, out.astype(np.float32), clip.clean, clip.label))
    return enhanced


def speaker_references(statistics: torch.Tensor, speakers: list[str | None], fallback: torch.Tensor) -> torch.Tensor:
    """Each clip's speaker reference among a set of clips (the dev split, a test condition, an
    export), as the studio forms it from a project: the mean statistics of the same speaker's other
    clips, from at least MIN_OTHER_RECORDINGS of them, else `fallback` (a speaker-relative head's
    population reference). A clip without a speaker has no other clips."""
    ids: dict[str, int] = {}
    numbers = [ids.setdefault(s, len(ids)) if s else -1 - n for n, s in enumerate(speakers)]
    speaker_ids = torch.tensor(numbers, device=statistics.device)
    return leave_one_out_reference(statistics, speaker_ids, fallback, MIN_OTHER_RECORDINGS)


def logits_against_speakers(head: EmotionHead, statistics: torch.Tensor, speakers: list[str | None]) -> torch.Tensor:
    """A speaker-relative head's logits for a set of clips, each against its speaker's reference
    among them (speaker_references; the head's population reference where there is none)."""
    return head.classify(statistics, speaker_references(statistics, speakers, head.population_reference))


@torch.no_grad()
def evaluate_dev(model: MeritModel, clips: list[Clip]) -> dict:
    """Dev-split figures; a speaker-relative model is scored against each clip's speaker reference."""
    model.eval()
    on = next(model.parameters()).device
    logits, statistics, labels, l1 = [], [], [], []
    for clip in clips:
        output = model(torch.from_numpy(clip.noisy)[None].to(on))
        clean = torch.from_numpy(clip.clean)[None].to(on) if clip.clean is not None else None
        parts = merit_loss(model, output, None, clean, None)
        if output.emotion_logits is not None:
            logits.append(output.emotion_logits[0])
            statistics.append(output.emotion_statistics[0])
            labels.append(clip.label)
        if "l1" in parts:
            l1.append(parts["l1"].item())
    predictions, ce = [], []
    if logits:
        scores = torch.stack(logits)
        if model.config.speaker_relative:
            scores = logits_against_speakers(model.ser_head, torch.stack(statistics), [clip.row["speaker"] for clip in clips])
        targets = torch.tensor(labels, device=on)
        predictions = scores.argmax(dim=-1).tolist()
        ce = F.cross_entropy(scores, targets, reduction="none").tolist()
    result = {}
    if predictions:
        result["dev_macro_f1"] = macro_f1(labels, predictions, len(model.config.classes))
        result["dev_ce"] = float(np.mean(ce))
    if l1:
        result["dev_l1"] = float(np.mean(l1))
    # Lower is better: the training objective on the dev split (SER-only: 1 - macro-F1).
    if predictions and l1:
        result["dev_objective"] = result["dev_ce"] + model.config.se_loss_weight * result["dev_l1"]
    elif predictions:
        result["dev_objective"] = 1 - result["dev_macro_f1"]
    else:
        result["dev_objective"] = result["dev_l1"]
    return result


def set_trainable(model: MeritModel, backbone: bool, cnn: bool = False) -> None:
    for parameter in model.backbone.parameters():
        parameter.requires_grad = backbone
    # The CNN front end stays frozen in fine-tuning, as in the paper (unless training from scratch).
    for parameter in model.backbone.feature_extractor.parameters():
        parameter.requires_grad = backbone and cnn


def fit(args) -> Path:
    set_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    final = args.out / "model.pt"
    if final.exists():
        print(f"{final} exists; training already done")
        return final
    check_corpus_version(args.corpus, CORPUS_VERSION)
    # Leave-one-family-out: a voice family kept out of training and model selection entirely.
    keep = without_family(args.exclude_family)
    train = load_split(args.corpus, "train", filter_fn=keep)
    dev = load_split(args.corpus, "dev", filter_fn=keep)
    if args.max_clips:
        train, dev = train[: args.max_clips], dev[: max(4, args.max_clips // 4)]
    on = device()
    enhancer = None
    noise = None if args.input == "clean" else NoisePool(args.corpus.parent / "noise" / "train")
    if args.input == "clean":
        dev = [Clip(c.row, c.clean, c.clean, c.label) for c in dev]
    elif args.input == "enhanced":
        # Training examples are mixed anew each epoch, so each batch is enhanced as it is drawn.
        enhancer = load_trained(args.enhancer).to(on)
        dev = enhance_clips(enhancer, dev)
    model = build_model(
        args.preset,
        args.variant,
        args.backbone,
        args.se_loss_weight,
        args.speaker_relative,
        args.pitch_features,
        None if args.se_input is None else args.se_input == "normalised",
        args.se_head_input,
    ).to(on)
    counts = [sum(c.label == i for c in train) for i in range(len(model.config.classes))]
    weights = class_weights(counts).to(on) if model.has_ser else None
    batches = Batches(train, args.seconds, args.batch_size, args.seed, noise, args.speaker_group if args.speaker_relative else 1)
    reference_rng = np.random.default_rng(args.seed + 1)
    epochs = args.frozen_epochs + args.finetune_epochs
    state_path, log = args.out / "state.pt", args.out / "log.jsonl"
    best = {"dev_objective": float("inf")}
    start_epoch = 0

    def make_optimiser(finetune: bool):
        set_trainable(model, finetune, cnn=args.train_cnn)
        backbone_ids = {id(p) for p in model.backbone.parameters()}
        heads = [p for p in model.parameters() if id(p) not in backbone_ids]
        groups = [{"params": heads, "lr": args.lr}]
        if finetune:
            groups.append({"params": [p for p in model.backbone.parameters() if p.requires_grad], "lr": args.lr * 0.5})
        optimiser = torch.optim.AdamW(groups, weight_decay=0.01)
        steps = (args.finetune_epochs if finetune else args.frozen_epochs) * len(batches)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, [g["lr"] for g in groups], total_steps=max(steps, 1), pct_start=0.1
        )
        return optimiser, schedule

    if state_path.exists():
        saved = torch.load(state_path, map_location="cpu", weights_only=False)
        start_epoch, best = saved["epoch"] + 1, saved["best"]
    phase_is_finetune = start_epoch >= args.frozen_epochs
    optimiser, schedule = make_optimiser(finetune=phase_is_finetune)
    if state_path.exists():
        # Optimiser state carries over only within the same step; a new step starts fresh.
        same_phase = saved["finetune"] == phase_is_finetune
        load_checkpoint(state_path, model, optimiser if same_phase else None, schedule if same_phase else None)
    for epoch in range(start_epoch, epochs):
        finetune = epoch >= args.frozen_epochs
        if finetune and not phase_is_finetune:
            optimiser, schedule = make_optimiser(finetune=True)
            phase_is_finetune = True
        model.train()
        if not finetune:
            model.backbone.eval()  # frozen: no dropout in the backbone either
        started, totals = time.time(), {}
        for batch in batches:
            noisy, clean, labels = batch.noisy.to(on), batch.clean.to(on), batch.labels.to(on)
            if enhancer is not None:
                with torch.no_grad():
                    noisy = enhancer(noisy).enhanced
            relative = model.config.speaker_relative and reference_rng.random() >= model.config.population_reference_share
            output = model(noisy, speakers=batch.speakers.to(on) if relative else None)
            if model.config.speaker_relative:
                model.ser_head.update_population_reference(output.emotion_statistics)
            parts = merit_loss(model, output, labels if model.has_ser else None, clean if model.has_se else None, weights)
            optimiser.zero_grad()
            parts["total"].backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            schedule.step()
            for key, value in parts.items():
                totals.setdefault(key, []).append(value.item())
        entry = {
            "epoch": epoch,
            "step": "finetune" if finetune else "frozen",
            **{f"train_{k}": float(np.mean(v)) for k, v in totals.items()},
            **evaluate_dev(model, dev),
            "seconds": round(time.time() - started, 1),
        }
        entry["audio_s_per_s"] = round(len(train) * args.seconds / entry["seconds"], 1)
        if entry["dev_objective"] < best["dev_objective"]:
            best = {"dev_objective": entry["dev_objective"], "epoch": epoch}
            torch.save(model.state_dict(), args.out / "best.pt")
        entry["best_epoch"] = best["epoch"]
        log_line(log, entry)
        save_checkpoint(state_path, model, optimiser, schedule, epoch, best=best, finetune=finetune)
    model.load_state_dict(torch.load(args.out / "best.pt", map_location=on, weights_only=True))
    # The model that is evaluated and shipped has int8 weights (merit.quantize); the log records what
    # rounding did to the dev split.
    rounding = round_weights_int8(model)
    rounding.update({f"rounded_{k}": v for k, v in evaluate_dev(model, dev).items()})
    log_line(log, {"step": "int8", **rounding, "best_epoch": best["epoch"], "best_dev_objective": best["dev_objective"]})
    model = model.cpu()
    temp = final.with_suffix(".tmp")
    torch.save(
        {
            "config": json.loads(model.config.to_json()),
            "variant": args.variant,
            "state_dict": model.state_dict(),
            "best": best,
            "input": args.input,
            "excluded_family": args.exclude_family,
            "class_counts": counts,
        },
        temp,
    )
    temp.replace(final)
    return final


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", choices=VARIANTS, required=True)
    p.add_argument("--corpus", type=Path, required=True, help="manifest.jsonl")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--preset", default="compact", choices=sorted(PRESETS))
    p.add_argument("--backbone", type=Path, help="pre-trained backbone (merit.pretrain); random if absent")
    p.add_argument("--input", choices=("noisy", "clean", "enhanced"), default="noisy")
    p.add_argument("--enhancer", type=Path, help="SE model.pt whose output feeds --input enhanced")
    p.add_argument("--frozen-epochs", type=int, default=2)
    p.add_argument("--finetune-epochs", type=int, default=3)
    p.add_argument("--se-loss-weight", type=float, help="lambda in CE + lambda * L1 (default: the preset's, 1.0 as in the paper)")
    p.add_argument(
        "--se-input",
        choices=("normalised", "raw"),
        help="the SE head's STFT input: the normalised waveform, scaled back after (the compact preset's), or the raw one",
    )
    p.add_argument(
        "--se-head-input", choices=SE_HEAD_INPUTS, default="routed", help="what Sparse MERIT's SE head reads beside the noisy spectrum (merit.config)"
    )
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--speaker-relative", action="store_true", help="classify emotion against a speaker reference (merit.config.MeritConfig.speaker_relative)"
    )
    p.add_argument("--pitch-features", action="store_true", help="give the emotion head each frame's pitch (merit.pitch)")
    p.add_argument("--speaker-group", type=int, default=4, help="with --speaker-relative: clips of one speaker drawn together")
    p.add_argument("--train-cnn", action="store_true", help="train the CNN front end too (for a backbone from scratch)")
    p.add_argument("--exclude-family", help="leave this voice family out of train and dev (leave-one-family-out)")
    p.add_argument("--max-clips", type=int, default=0, help="use at most this many clips (smoke tests)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    return p


def main() -> None:
    args = parser().parse_args()
    if args.input == "enhanced" and args.enhancer is None:
        raise SystemExit("--input enhanced needs --enhancer (the SE model's model.pt)")
    configure_threads(args.threads)
    fit(args)


if __name__ == "__main__":
    main()
