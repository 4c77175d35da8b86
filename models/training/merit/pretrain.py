"""Self-supervised pre-training of the backbone at small scale, the way HuBERT's first iteration and
WavLM do it: k-means clusters of MFCC frames of the *clean* speech are the targets; the model sees the
noisy input with spans of frames masked (and, as WavLM does, sometimes a second utterance mixed in)
and predicts the clusters of the masked frames.

MFCCs keep the spectral envelope and drop the harmonics, so those targets teach phonetic content and
next to nothing about pitch, which is what the emotional styles are made of. `--pitch-weight` adds a
second target on every frame: the clean speech's log F0 where it is voiced, and whether it is (the
YIN tracker the corpus checks its styles with).

    .venv/bin/python -m merit.pretrain --corpus work/corpus/manifest.jsonl --out work/runs/pretrain
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .backbone import WavLMBackbone
from .config import PRESETS, BackboneConfig
from .corpus import CORPUS_VERSION
from .data import Batches, check_corpus_version, load_split, without_family
from .mixing import NoisePool
from .model import normalise_waveform
from .pitch import F0_REFERENCE_HZ
from .prosody import HOP as F0_HOP
from .prosody import f0_track
from .train_utils import configure_threads, device, load_checkpoint, log_line, save_checkpoint, set_seed


def mel_filterbank(bands: int, fft_len: int, rate: int = 16000) -> torch.Tensor:
    mel = lambda hz: 2595 * np.log10(1 + hz / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = hz(np.linspace(mel(20), mel(rate / 2), bands + 2))
    bins = np.fft.rfftfreq(fft_len, 1 / rate)
    bank = np.zeros((bands, len(bins)))
    for i in range(bands):
        low, centre, high = edges[i : i + 3]
        bank[i] = np.clip(np.minimum((bins - low) / (centre - low), (high - bins) / (high - centre)), 0, None)
    return torch.tensor(bank, dtype=torch.float32)


class Mfcc(nn.Module):
    """13 MFCCs + deltas + delta-deltas, one frame per backbone frame (400-sample window, 320 hop)."""

    def __init__(self, frame: int = 400, hop: int = 320):
        super().__init__()
        self.frame, self.hop = frame, hop
        self.register_buffer("window", torch.hann_window(frame))
        self.register_buffer("mel", mel_filterbank(40, frame))
        n = torch.arange(40, dtype=torch.float32)
        self.register_buffer("dct", torch.cos(math.pi / 40 * (n[None, :] + 0.5) * torch.arange(13, dtype=torch.float32)[:, None]))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        frames = wave.unfold(-1, self.frame, self.hop) * self.window
        power = torch.fft.rfft(frames).abs() ** 2
        ceps = torch.log(power @ self.mel.T + 1e-6) @ self.dct.T  # (batch, frames, 13)
        delta = F.pad(ceps, (0, 0, 1, 1), mode="replicate")
        delta = (delta[:, 2:] - delta[:, :-2]) / 2
        delta2 = F.pad(delta, (0, 0, 1, 1), mode="replicate")
        delta2 = (delta2[:, 2:] - delta2[:, :-2]) / 2
        return torch.cat([ceps, delta, delta2], dim=-1)


def kmeans(points: np.ndarray, k: int, iterations: int, rng: np.random.Generator) -> np.ndarray:
    centres = points[rng.choice(len(points), k, replace=False)]
    for _ in range(iterations):
        distances = ((points[:, None, :] - centres[None]) ** 2).sum(-1)
        assign = distances.argmin(1)
        for j in range(k):
            members = points[assign == j]
            centres[j] = members.mean(0) if len(members) else points[rng.integers(len(points))]
    return centres


def span_mask(batch: int, frames: int, probability: float, span: int, rng: np.random.Generator) -> torch.Tensor:
    mask = np.zeros((batch, frames), dtype=bool)
    for b in range(batch):
        starts = np.nonzero(rng.random(frames) < probability)[0]
        if len(starts) == 0:
            starts = [int(rng.integers(frames))]
        for s in starts:
            mask[b, s : s + span] = True
    return torch.from_numpy(mask)


def pitch_targets(clean: torch.Tensor, frames: int, hop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(log2 of F0 / 100 Hz, voiced flag) of the clean speech at each backbone frame, from the F0
    track's frame at each backbone frame's start; unvoiced frames (and frames past the track) are 0
    and False."""
    step = hop // F0_HOP
    log_f0 = np.zeros((clean.shape[0], frames), dtype=np.float32)
    voiced = np.zeros((clean.shape[0], frames), dtype=bool)
    for row, signal in enumerate(clean.cpu().numpy()):
        track = f0_track(signal.astype(np.float64))[::step][:frames]
        found = np.isfinite(track)
        voiced[row, : len(track)] = found
        log_f0[row, : len(track)][found] = np.log2(track[found] / F0_REFERENCE_HZ)
    return torch.from_numpy(log_f0), torch.from_numpy(voiced)


class Pretrainer(nn.Module):
    def __init__(self, config: BackboneConfig, clusters: int, pitch: bool = False):
        super().__init__()
        self.backbone = WavLMBackbone(config)
        self.predictor = nn.Linear(config.hidden_size, clusters)
        # Log F0 and a voicing logit per frame (--pitch-weight > 0).
        self.pitch = nn.Linear(config.hidden_size, 2) if pitch else None

    def forward(self, wave: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        last = self.backbone(normalise_waveform(wave), mask)[-1]
        return self.predictor(last), self.pitch(last) if self.pitch is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="manifest.jsonl")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", default="compact", choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pitch-weight", type=float, default=0.0, help="weight of the clean speech's F0 and voicing as a second target (0: clusters only)"
    )
    parser.add_argument("--exclude-family", help="leave this voice family's audio out (leave-one-family-out)")
    parser.add_argument("--max-clips", type=int, default=0, help="use at most this many clips (smoke tests)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: all cores)")
    args = parser.parse_args()
    configure_threads(args.threads)
    pretrain(args)


def pretrain(args) -> Path:
    set_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    final = args.out / "backbone.pt"
    if final.exists():
        print(f"{final} exists; pre-training already done")
        return final
    config = PRESETS[args.preset]().backbone
    # Unlabelled speech: every train clip (noisy input, clean target), labels unused.
    check_corpus_version(args.corpus, CORPUS_VERSION)
    keep = without_family(args.exclude_family)
    clips = load_split(args.corpus, "train", filter_fn=keep, require_all_classes=False)
    if args.max_clips:
        clips = clips[: args.max_clips]
    mfcc = Mfcc(config.receptive_field_samples, config.frame_hop_samples)
    with torch.no_grad():
        sample = np.concatenate(
            [mfcc(torch.from_numpy(c.clean)[None])[0].numpy() for c in clips[:: max(1, len(clips) // 300)]]
        )
    mean, std = sample.mean(0), sample.std(0) + 1e-6
    centres = kmeans((sample - mean) / std, args.clusters, 15, rng)
    centres_t, mean_t, std_t = (torch.from_numpy(x).float() for x in (centres, mean, std))
    on = device()
    model = Pretrainer(config, args.clusters, pitch=args.pitch_weight > 0).to(on)
    mfcc, centres_t, mean_t, std_t = mfcc.to(on), centres_t.to(on), mean_t.to(on), std_t.to(on)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    # Noisy inputs mixed anew each epoch, like the supervised training's.
    batches = Batches(clips, args.seconds, args.batch_size, args.seed, NoisePool(args.corpus.parent / "noise" / "train"))
    total_steps = args.epochs * len(batches)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, args.lr, total_steps=total_steps, pct_start=0.1)
    state = args.out / "state.pt"
    start_epoch = 0
    if state.exists():
        start_epoch = load_checkpoint(state, model, optimiser, schedule) + 1
    log = args.out / "log.jsonl"
    for epoch in range(start_epoch, args.epochs):
        model.train()
        started, losses, accuracies, pitch_losses = time.time(), [], [], []
        for batch in batches:
            noisy, clean = batch.noisy.to(on), batch.clean.to(on)
            if rng.random() < 0.2:
                # WavLM's utterance mixing: another utterance overlaps part of the input.
                other = noisy.roll(1, dims=0)
                length = int(noisy.shape[1] * rng.uniform(0.1, 0.5))
                start = int(rng.integers(0, noisy.shape[1] - length))
                ratio = 10 ** (rng.uniform(-5, 5) / 20)
                noisy = noisy.clone()
                noisy[:, start : start + length] += other[:, :length] * ratio * noisy.std() / (other.std() + 1e-8)
            with torch.no_grad():
                feats = (mfcc(clean) - mean_t) / std_t
                targets = torch.cdist(feats, centres_t[None].expand(feats.shape[0], -1, -1)).argmin(-1)
            frames = targets.shape[1]
            mask = span_mask(noisy.shape[0], frames, 0.065, 10, rng).to(on)
            logits, pitch = model(noisy, mask)
            logits = logits[:, :frames]
            masked_ce = F.cross_entropy(logits[mask], targets[mask])
            loss = masked_ce
            if args.pitch_weight > 0:
                log_f0, voiced = (t.to(on) for t in pitch_targets(clean, frames, config.frame_hop_samples))
                pitch = pitch[:, :frames]
                pitch_loss = F.smooth_l1_loss(pitch[..., 0][voiced], log_f0[voiced], beta=0.1) + F.binary_cross_entropy_with_logits(
                    pitch[..., 1], voiced.float()
                )
                loss = loss + args.pitch_weight * pitch_loss
                pitch_losses.append(pitch_loss.item())
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            schedule.step()
            losses.append(masked_ce.item())
            accuracies.append((logits[mask].argmax(-1) == targets[mask]).float().mean().item())
        entry = {
            "epoch": epoch,
            "masked_ce": float(np.mean(losses)),
            "masked_accuracy": float(np.mean(accuracies)),
            **({"pitch_loss": float(np.mean(pitch_losses))} if pitch_losses else {}),
            "seconds": round(time.time() - started, 1),
            "audio_s_per_s": round(len(clips) * args.seconds / (time.time() - started), 1),
        }
        log_line(log, entry)
        save_checkpoint(state, model, optimiser, schedule, epoch)
    model = model.cpu()
    torch.save({"config": json.loads(json.dumps(config.__dict__)), "state_dict": model.backbone.state_dict()}, final)
    return final


if __name__ == "__main__":
    main()
