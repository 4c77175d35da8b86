"""Polishing a trained model's enhancement head alone, after training: more epochs for the SE head on
the fixed backbone, experts and routers, so the emotion path (and its refit) is untouched to the last
bit while enhancement gets the training it lacks within the joint schedule.

Each epoch mixes every training utterance anew (merit.mixing: new noise, SNR and level; with
`--randomise-noise` the noise's spectrum tilted and a second type added at times). The loss
is the paper's L1 on log1p magnitudes, plus, with `--ssnr-weight W`, W times the negative segmental
SNR of the enhanced waveform (`segmental_snr_torch`, the evaluation's metric made differentiable):
the metric the card and the issue judge enhancement by. The epoch kept is the best on the dev split's
segmental SNR gain (merit.dev_enhancement); its SE head is rounded to int8 as training ends
(merit.quantize). Every epoch is checkpointed; a rerun resumes.

With `--new-head INPUT` the SE head is replaced by a freshly initialised one that reads INPUT beside
the noisy spectrum (merit.config.SE_HEAD_INPUTS): Sparse MERIT's routed expert output, or that and the
aggregated layers. The source may be an ONNX file of our export (its weights are read back), so a
shipped model's SE head can be retrained without its training run.

    .venv/bin/python -m merit.se_polish --model work/runs/sparse_merit-trained/model.pt \\
        --corpus work/corpus/manifest.jsonl --out work/runs/sparse_merit-polished
    .venv/bin/python -m merit.se_polish --model ../sparse-merit-compact.onnx --new-head routed+layers \\
        --corpus work/corpus/manifest.jsonl --out work/se-head/routed+layers
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .data import Batches, load_split, without_family
from .dev_enhancement import noisy_dev_clips, ssnr_gains
from .mixing import NoisePool, RandomisedNoise
from .config import SE_HEAD_INPUTS
from .model import MeritModel, merit_loss
from .quantize import round_weights_int8
from .train import load_trained
from .train_utils import configure_threads, load_checkpoint, log_line, save_checkpoint, set_seed

# segmental SNR's frame, hop and clipping, as merit.metrics.segmental_snr
FRAME, HOP, FLOOR_DB, CEILING_DB = 400, 200, -10.0, 35.0
SILENT = 1e-10


def segmental_snr_torch(clean: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Each item's mean over 25 ms frames of the per-frame SNR clipped to [-10, 35] dB, silent frames
    of the clean signal skipped (batch,): merit.metrics.segmental_snr, differentiable in `estimate`."""
    frames_clean = clean.unfold(-1, FRAME, HOP)
    frames_error = (clean - estimate).unfold(-1, FRAME, HOP)
    signal = frames_clean.pow(2).sum(-1)
    noise = frames_error.pow(2).sum(-1) + 1e-12
    voiced = (signal >= SILENT).float()
    snr = (10 * torch.log10(signal.clamp_min(SILENT) / noise)).clamp(FLOOR_DB, CEILING_DB)
    return (snr * voiced).sum(-1) / voiced.sum(-1).clamp_min(1)


def polish_loss(model: MeritModel, noisy: torch.Tensor, clean: torch.Tensor, ssnr_weight: float) -> dict[str, torch.Tensor]:
    output = model(noisy)
    parts = merit_loss(model, output, None, clean, None)
    total = model.config.se_loss_weight * parts["l1"]
    if ssnr_weight > 0:
        parts["ssnr"] = segmental_snr_torch(clean, output.enhanced).mean()
        total = total - ssnr_weight * parts["ssnr"]
    parts["total"] = total
    return parts


def se_parameters(model: MeritModel) -> list[nn.Parameter]:
    """Freezes everything but the SE head and returns its parameters."""
    if model.se_head is None:
        raise SystemExit("the model has no SE head to polish")
    for parameter in model.parameters():
        parameter.requires_grad = False
    for parameter in model.se_head.parameters():
        parameter.requires_grad = True
    return list(model.se_head.parameters())


def polish(args) -> Path:
    set_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    final = args.out / "model.pt"
    if final.exists():
        print(f"{final} exists; polishing already done")
        return final
    keep = without_family(args.exclude_family)
    train = load_split(args.corpus, "train", filter_fn=keep)
    dev = noisy_dev_clips(args.corpus, args.exclude_family)
    if args.max_clips:
        train, dev = train[: args.max_clips], dev[: max(4, args.max_clips // 4)]
    model = load_trained(args.model)
    if args.new_head:
        model.use_se_head_input(args.new_head)
    parameters = se_parameters(model)
    noise = NoisePool(args.corpus.parent / "noise" / "train")
    batches = Batches(train, args.seconds, args.batch_size, args.seed, RandomisedNoise(noise) if args.randomise_noise else noise)
    optimiser = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, args.lr, total_steps=max(args.epochs * len(batches), 1), pct_start=0.1)
    state_path, log = args.out / "state.pt", args.out / "log.jsonl"
    start_epoch = 0
    if state_path.exists():
        saved = torch.load(state_path, map_location="cpu", weights_only=False)
        start_epoch, best = saved["epoch"] + 1, saved["best"]
        load_checkpoint(state_path, model, optimiser, schedule)
    else:
        # Epoch -1 is the trained model as it came: polishing must beat it on the dev split to count.
        best = {"dev_ssnr_gain": float(np.mean(ssnr_gains(model, dev))), "epoch": -1}
        torch.save(model.state_dict(), args.out / "best.pt")
        log_line(log, {"epoch": -1, "step": "before polishing", "source": str(args.model), **best})
    for epoch in range(start_epoch, args.epochs):
        # The frozen parts run in eval mode (no dropout); only the SE head learns.
        model.eval()
        started, totals = time.time(), {}
        for batch in batches:
            parts = polish_loss(model, batch.noisy, batch.clean, args.ssnr_weight)
            optimiser.zero_grad()
            parts["total"].backward()
            nn.utils.clip_grad_norm_(parameters, 5.0)
            optimiser.step()
            schedule.step()
            for key, value in parts.items():
                totals.setdefault(key, []).append(value.item())
        gain = float(np.mean(ssnr_gains(model, dev)))
        if gain > best["dev_ssnr_gain"]:
            best = {"dev_ssnr_gain": gain, "epoch": epoch}
            torch.save(model.state_dict(), args.out / "best.pt")
        entry = {"epoch": epoch, "step": "polish", **{f"train_{k}": float(np.mean(v)) for k, v in totals.items()}}
        log_line(log, {**entry, "dev_ssnr_gain": gain, "best_epoch": best["epoch"], "seconds": round(time.time() - started, 1)})
        save_checkpoint(state_path, model, optimiser, schedule, epoch, best=best)
    model.load_state_dict(torch.load(args.out / "best.pt", map_location="cpu", weights_only=True))
    with torch.no_grad():
        rounding = round_weights_int8(model.se_head)
    rounded_gain = float(np.mean(ssnr_gains(model, dev)))
    options = {"epochs": args.epochs, "ssnr_weight": args.ssnr_weight, "randomise_noise": args.randomise_noise, "new_head": args.new_head}
    rounded = {"best_epoch": best["epoch"], "dev_ssnr_gain": best["dev_ssnr_gain"], "rounded_dev_ssnr_gain": rounded_gain}
    log_line(log, {"step": "polished", **options, **rounding, **rounded})
    # A model.pt source keeps its training record; an ONNX file has none beyond its weights and config.
    saved = {"variant": model.variant} if args.model.suffix == ".onnx" else torch.load(args.model, map_location="cpu", weights_only=False)
    saved["state_dict"] = model.state_dict()
    saved["config"] = json.loads(model.config.to_json())
    saved["se_polish"] = {"source": str(args.model), **options, "best_epoch": best["epoch"]}
    temp = final.with_suffix(".tmp")
    torch.save(saved, temp)
    temp.replace(final)
    return final


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="model.pt of merit.train (or merit.refit) with an SE head, or an ONNX file of our export")
    p.add_argument("--new-head", choices=SE_HEAD_INPUTS, help="replace the SE head by a freshly initialised one reading this input")
    p.add_argument("--corpus", type=Path, required=True, help="manifest.jsonl")
    p.add_argument("--out", type=Path, required=True, help="folder for the polished model.pt, its log and checkpoints")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--ssnr-weight", type=float, default=0.0, help="weight of the negative segmental SNR (dB) beside the L1")
    p.add_argument(
        "--randomise-noise", action="store_true", help="tilt the training noise's spectrum and add a second type (merit.mixing.RandomisedNoise)"
    )
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--exclude-family", help="the family the model was trained without (leave-one-family-out)")
    p.add_argument("--max-clips", type=int, default=0, help="use at most this many clips (smoke tests)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    args = p.parse_args()
    configure_threads(args.threads)
    polish(args)


if __name__ == "__main__":
    main()
