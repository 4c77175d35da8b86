"""Mixing speech and noise at an exact SNR, the corpus's stored noise pools, and the on-the-fly mixer
that gives every training example a new noise clip, SNR and level each epoch (corpus-spec.md v2).

The same `mix` makes the test split's fixed mixtures on disk, the dev split's seeded mixtures and the
training examples, so "SNR" means one thing everywhere: noise power against the clean speech's
active level.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .noise import NoiseClip
from .prosody import active_level_dbfs

RATE = 16000
LEVEL_RANGE_DBFS = (-35.0, -15.0)
TRAIN_SNR_RANGE = (-10.0, 20.0)
TEST_SNRS = (-5, 0, 5, 10)
# Share of training examples left clean (no noise), so clean speech is in-domain too.
CLEAN_SHARE = 0.1
# The pools: seen noise types for training and dev (disjoint recordings and seeds), seen types from
# held-out recordings for the seen-noise test, unseen types for the unseen-noise test.
POOLS = ("train", "dev", "test-seen", "test-unseen")


def unit_rms(samples: np.ndarray) -> np.ndarray:
    return samples / (np.sqrt(np.mean(samples**2)) + 1e-12)


def set_active_level(samples: np.ndarray, target_dbfs: float) -> np.ndarray:
    return samples * 10 ** ((target_dbfs - active_level_dbfs(samples)) / 20)


def mix(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Scales unit-RMS noise to `snr_db` below the clean speech's active level; if the mixture would
    clip, scales both (the SNR is kept). Returns noisy, clean (possibly scaled) and the scale."""
    gain = 10 ** ((active_level_dbfs(clean) - snr_db) / 20)
    noisy = clean + gain * noise[: len(clean)]
    peak = np.abs(noisy).max()
    scale = min(1.0, 0.98 / peak) if peak > 0 else 1.0
    return noisy * scale, clean * scale, scale


class NoisePool:
    """The noise clips of one pool (`POOLS`), as written by the corpus generator: POOL/*.wav with one
    JSON line each in POOL/clips.jsonl (type, source, licence)."""

    def __init__(self, folder: Path):
        index = folder / "clips.jsonl"
        if not index.is_file():
            raise FileNotFoundError(f"{index}: noise pool not found (regenerate the corpus with python -m merit.corpus)")
        self.clips: list[NoiseClip] = []
        for line in index.read_text().splitlines():
            entry = json.loads(line)
            samples, rate = sf.read(folder / entry["file"], dtype="float32")
            if rate != RATE:
                raise ValueError(f"{folder / entry['file']}: {rate} Hz, expected {RATE}")
            samples = samples / (np.sqrt(np.mean(samples.astype(np.float64) ** 2)) + 1e-12)
            self.clips.append(NoiseClip(samples.astype(np.float32), entry["type"], entry["source"], entry["licence"]))
        if not self.clips:
            raise ValueError(f"{index}: the noise pool is empty")
        self.types = sorted({c.noise_type for c in self.clips})

    def excerpt(self, rng: np.random.Generator, length: int, noise_type: str | None = None) -> NoiseClip:
        """`length` samples from a random clip (of `noise_type`, or of a random type), from a random
        offset, looped when the clip is shorter."""
        kind = noise_type or self.types[int(rng.integers(len(self.types)))]
        candidates = [c for c in self.clips if c.noise_type == kind]
        clip = candidates[int(rng.integers(len(candidates)))]
        reps = np.tile(clip.samples, length // len(clip.samples) + 2)
        start = int(rng.integers(len(clip.samples)))
        return NoiseClip(unit_rms(reps[start : start + length].astype(np.float64)), clip.noise_type, clip.source, clip.licence)


# The SE head's polishing hears each noise excerpt randomised (merit.se_polish --randomise-noise):
# half of them tilted by up to this many dB per octave, some with a second noise type added below it.
TILT_DB_PER_OCTAVE = 6.0
TILT_SHARE = 0.5
SECOND_TYPE_SHARE = 0.3
SECOND_TYPE_LEVEL_DB = (-10.0, 0.0)


def tilt(samples: np.ndarray, db_per_octave: float) -> np.ndarray:
    """The signal with its spectrum tilted by `db_per_octave` around 1 kHz (flat below 50 Hz)."""
    frequencies = np.maximum(np.fft.rfftfreq(len(samples), 1 / RATE), 50.0)
    gain = (frequencies / 1000.0) ** (db_per_octave / (20 * np.log10(2)))
    return np.fft.irfft(np.fft.rfft(samples) * gain, len(samples))


class RandomisedNoise:
    """A noise pool whose random excerpts have what is not their type randomised, so that enhancement
    learns noise rather than the spectra of the pool's few recordings per type (corpus-spec v2's
    domain randomisation, applied to the noise): TILT_SHARE of them tilted by a uniform slope within
    TILT_DB_PER_OCTAVE, SECOND_TYPE_SHARE with a second random excerpt added SECOND_TYPE_LEVEL_DB
    below; unit RMS like the pool's. An excerpt of a named type is the pool's own."""

    def __init__(self, pool: NoisePool):
        self.pool = pool

    def excerpt(self, rng: np.random.Generator, length: int, noise_type: str | None = None) -> NoiseClip:
        clip = self.pool.excerpt(rng, length, noise_type)
        if noise_type is not None:
            return clip
        samples = clip.samples
        if rng.random() < TILT_SHARE:
            samples = tilt(samples, float(rng.uniform(-TILT_DB_PER_OCTAVE, TILT_DB_PER_OCTAVE)))
        if rng.random() < SECOND_TYPE_SHARE:
            second = self.pool.excerpt(rng, length).samples
            samples = unit_rms(samples) + second * 10 ** (float(rng.uniform(*SECOND_TYPE_LEVEL_DB)) / 20)
        return NoiseClip(unit_rms(samples), clip.noise_type, clip.source, clip.licence)


def write_pool(folder: Path, clips: list[tuple[str, NoiseClip]]) -> None:
    """Writes (file name, clip) pairs and the pool's index, the index last (its presence means done)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, clip in clips:
        peak = np.abs(clip.samples).max() + 1e-12
        sf.write(folder / name, (clip.samples / peak * 0.9).astype(np.float32), RATE, subtype="PCM_16")
        lines.append(json.dumps({"file": name, "type": clip.noise_type, "source": clip.source, "licence": clip.licence}))
    temp = folder / "clips.tmp"
    temp.write_text("\n".join(lines) + "\n")
    temp.replace(folder / "clips.jsonl")


@dataclass
class Mixture:
    noisy: np.ndarray
    clean: np.ndarray
    noise_type: str | None
    snr_db: float | None
    level_dbfs: float


def random_mixture(
    clean: np.ndarray,
    pool: NoisePool | RandomisedNoise,
    rng: np.random.Generator,
    snr_range: tuple[float, float] = TRAIN_SNR_RANGE,
    clean_share: float = CLEAN_SHARE,
) -> Mixture:
    """One training (or dev) example: a random active level, then, unless left clean, a random noise
    excerpt at an SNR drawn uniformly from `snr_range`."""
    level = float(rng.uniform(*LEVEL_RANGE_DBFS))
    reference = set_active_level(clean.astype(np.float64), level)
    if rng.random() < clean_share:
        return Mixture(reference, reference, None, None, level)
    snr = float(rng.uniform(*snr_range))
    noise = pool.excerpt(rng, len(reference))
    noisy, reference, _ = mix(reference, noise.samples, snr)
    return Mixture(noisy, reference, noise.noise_type, snr, level)
