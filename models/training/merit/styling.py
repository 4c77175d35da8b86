"""Applying a speaking style to a neutral recording, and the class-independent nuisances of corpus v2.

`apply_style` turns one neutral utterance (a real prompt recording or a Festival rendition) into a
styled one with Praat (PyPI praat-parselmouth): an optional formant shift makes a pseudo-speaker
("Change gender" with the pitch kept), then pitch-synchronous overlap-add (Manipulation) sets the F0
level, the F0 range around the median, F0 jitter and the duration; spectral tilt and the intensity
contour are filters on the result. Every class, neutral included, goes through the same resynthesis,
so its artefacts are never a cue for the class.

`add_nuisance` draws microphone colouring, telephone band and codecs, reverberation and clipping
without looking at the class (corpus-spec.md v2, "Nuisance randomisation").
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal as sps

RATE = 16000


class StylingError(RuntimeError):
    pass


def _praat():
    try:
        import parselmouth
        from parselmouth.praat import call
    except ImportError:
        raise StylingError("praat-parselmouth is not installed (models/training/setup.sh installs it)") from None
    return parselmouth, call


@dataclass(frozen=True)
class StyleRequest:
    """What to do to one neutral utterance. Factors are relative to the (formant-shifted) source."""

    f0_factor: float  # median F0 x
    range_factor: float  # F0 excursions around the median (in log F0) x
    duration_factor: float  # length x (1 / speaking-rate factor)
    tilt_db: float  # gain of a high shelf above ~1.5 kHz: > 0 brighter, < 0 darker
    dynamics: float  # exponent on the syllable envelope: > 0 stronger stress, < 0 flatter
    jitter: float  # relative std of per-10-ms F0 perturbations (roughness)
    breath: float  # aspiration noise level relative to the speech envelope (0 = none)


def seed_praat(rng: np.random.Generator) -> None:
    """Praat's overlap-add resynthesis fills unvoiced stretches with random periods from its own
    generator, seeded from the clock: without this, two runs of the corpus differ."""
    parselmouth, _ = _praat()
    parselmouth.praat.run(f"random_initializeWithSeedUnsafelyButPredictably ({int(rng.integers(2**31))})")


def f0_values(samples: np.ndarray, floor: float = 60.0, ceiling: float = 500.0) -> np.ndarray:
    """F0 (Hz) of the voiced 10 ms frames by Praat's autocorrelation pitch."""
    parselmouth, _ = _praat()
    values = parselmouth.Sound(samples, RATE).to_pitch(0.01, floor, ceiling).selected_array["frequency"]
    return values[values > 0]


def f0_median(samples: np.ndarray, floor: float = 60.0, ceiling: float = 500.0) -> float:
    """Median F0 (Hz) of the voiced frames; NaN when fewer than five are voiced."""
    voiced = f0_values(samples, floor, ceiling)
    return float(np.median(voiced)) if len(voiced) >= 5 else float("nan")


def _voiced(samples: np.ndarray, rng: np.random.Generator, floor: float, ceiling: float, what: str):
    """Praat's call, the sound and its median F0, with Praat's generator seeded from `rng`; a
    StylingError when nothing is voiced."""
    parselmouth, call = _praat()
    median = f0_median(samples, floor, ceiling)
    if not np.isfinite(median):
        raise StylingError(f"no voiced frames to {what}")
    seed_praat(rng)
    return call, parselmouth.Sound(samples, RATE), median


def shift_formants(samples: np.ndarray, ratio: float, pitch_factor: float, rng: np.random.Generator, floor: float, ceiling: float) -> np.ndarray:
    """A pseudo-speaker: formants x `ratio` and F0 x `pitch_factor` (Praat's "Change gender")."""
    if ratio == 1.0 and pitch_factor == 1.0:
        return samples
    call, sound, median = _voiced(samples, rng, floor, ceiling, "shift")
    shifted = call(sound, "Change gender", floor, ceiling, ratio, median * pitch_factor, 1.0, 1.0)
    return np.asarray(shifted.values[0], dtype=np.float64)


def apply_style(samples: np.ndarray, request: StyleRequest, rng: np.random.Generator, floor: float, ceiling: float) -> np.ndarray:
    call, sound, median = _voiced(samples, rng, floor, ceiling, "style")
    manipulation = call(sound, "To Manipulation", 0.01, floor, ceiling * 2)
    tier = call(manipulation, "Extract pitch tier")
    points = call(tier, "Get number of points")
    target = median * request.f0_factor
    # Excursions scale in log F0 around the median: F0' = target * (F0 / median) ^ range_factor.
    call(tier, "Formula", f"{target} * (self / {median}) ^ {request.range_factor}")
    if request.jitter > 0 and points > 0:
        noise = rng.normal(0.0, request.jitter, points)
        times = [call(tier, "Get time from index", i + 1) for i in range(points)]
        values = [call(tier, "Get value at index", i + 1) for i in range(points)]
        call(tier, "Remove points between", 0, sound.duration)
        for time, value, wobble in zip(times, values, noise):
            call(tier, "Add point", time, value * (1 + wobble))
    call([tier, manipulation], "Replace pitch tier")
    durations = call("Create DurationTier", "duration", 0, sound.duration)
    call(durations, "Add point", 0, request.duration_factor)
    call([durations, manipulation], "Replace duration tier")
    styled = call(manipulation, "Get resynthesis (overlap-add)")
    out = np.asarray(styled.values[0], dtype=np.float64)
    out = high_shelf(out, request.tilt_db)
    out = shape_dynamics(out, request.dynamics)
    if request.breath > 0:
        out = add_breath(out, request.breath, rng)
    return out


def high_shelf(samples: np.ndarray, gain_db: float, corner_hz: float = 1500.0) -> np.ndarray:
    """RBJ high-shelf biquad (shelf slope 1): the spectral tilt of vocal effort."""
    if abs(gain_db) < 1e-3:
        return samples
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * corner_hz / RATE
    alpha = np.sin(w0) / 2 * np.sqrt(2)
    cos = np.cos(w0)
    root = 2 * np.sqrt(a) * alpha
    b = [a * ((a + 1) + (a - 1) * cos + root), -2 * a * ((a - 1) + (a + 1) * cos), a * ((a + 1) + (a - 1) * cos - root)]
    den = [(a + 1) - (a - 1) * cos + root, 2 * ((a - 1) - (a + 1) * cos), (a + 1) - (a - 1) * cos - root]
    return sps.lfilter(b, den, samples)


def peaking(samples: np.ndarray, centre_hz: float, gain_db: float, q: float) -> np.ndarray:
    """RBJ peaking biquad: one band of a random microphone colouring."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * centre_hz / RATE
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a]
    den = [1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a]
    return sps.lfilter(b, den, samples)


def envelope(samples: np.ndarray, window_s: float = 0.05) -> np.ndarray:
    width = max(1, int(window_s * RATE))
    power = np.convolve(samples**2, np.ones(width) / width, mode="same")
    return np.sqrt(power + 1e-12)


def shape_dynamics(samples: np.ndarray, exponent: float) -> np.ndarray:
    """Stressed syllables louder (exponent > 0) or the contour flatter (< 0), relative to the
    envelope of the active part; gains bounded to [1/3, 3]."""
    if abs(exponent) < 1e-3:
        return samples
    env = envelope(samples)
    active = env > env.max() * 0.03
    if not active.any():
        return samples
    reference = np.median(env[active])
    gain = np.clip((env / reference) ** exponent, 1 / 3, 3)
    gain[~active] = 1.0
    return samples * gain


def add_breath(samples: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Aspiration: high-passed noise following the speech envelope (breathy, low-effort voice)."""
    b, a = sps.butter(2, 1800 / (RATE / 2), btype="high")
    noise = sps.lfilter(b, a, rng.standard_normal(len(samples)))
    noise /= np.std(noise) + 1e-12
    return samples + level * envelope(samples) * noise


# ----------------------------------------------------------------------------- nuisances


def reverb(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A short synthetic room: exponentially decaying noise tail after a direct path."""
    rt60 = rng.uniform(0.15, 0.6)
    length = int(rt60 * RATE)
    t = np.arange(length) / RATE
    tail = rng.standard_normal(length) * np.exp(-6.9 * t / rt60)
    tail[: int(0.002 * RATE)] = 0
    direct_to_reverb_db = rng.uniform(3, 12)
    tail *= 10 ** (-direct_to_reverb_db / 20) / (np.sqrt(np.sum(tail**2)) + 1e-12)
    rir = np.concatenate([[1.0], tail[1:]])
    return sps.fftconvolve(samples, rir)[: len(samples)]


def mu_law(samples: np.ndarray, mu: float = 255.0) -> np.ndarray:
    """8-bit mu-law companding round trip (G.711 style quantisation)."""
    peak = np.abs(samples).max() + 1e-12
    x = samples / peak
    compressed = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    quantised = np.round(compressed * 127) / 127
    return peak * np.sign(quantised) * ((1 + mu) ** np.abs(quantised) - 1) / mu


def gsm_round_trip(samples: np.ndarray) -> np.ndarray:
    """GSM 06.10 full-rate codec at 8 kHz through sox (Debian's sox reads and writes .gsm)."""
    narrow = sps.resample_poly(samples, 1, 2)
    peak = np.abs(narrow).max() + 1e-12
    with tempfile.TemporaryDirectory() as folder:
        source, coded, back = (Path(folder) / name for name in ("in.wav", "out.gsm", "back.wav"))
        sf.write(source, narrow / peak * 0.9, 8000, subtype="PCM_16")
        for command in (["sox", str(source), str(coded)], ["sox", "-t", "gsm", "-r", "8000", "-c", "1", str(coded), str(back)]):
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                raise StylingError(f"sox failed ({' '.join(command)}): {result.stderr.strip()} (apt-get install sox)")
        decoded, _ = sf.read(back, dtype="float64")
    wide = sps.resample_poly(decoded * peak / 0.9, 2, 1)
    return np.pad(wide, (0, max(0, len(samples) - len(wide))))[: len(samples)]


def telephone(samples: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Band-limited to 8 kHz sampling, plain, mu-law or GSM."""
    kind = ("band8k", "mulaw", "gsm")[int(rng.integers(3))]
    if kind == "gsm":
        return gsm_round_trip(samples), kind
    narrow = sps.resample_poly(samples, 1, 2)
    if kind == "mulaw":
        narrow = mu_law(narrow)
    return sps.resample_poly(narrow, 2, 1)[: len(samples)], kind


def add_nuisance(samples: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Class-independent channel effects; returns the signal and what was applied."""
    applied = []
    if rng.random() < 0.8:
        for _ in range(int(rng.integers(1, 4))):
            samples = peaking(samples, float(np.exp(rng.uniform(np.log(150), np.log(6000)))), float(rng.uniform(-6, 6)), float(rng.uniform(0.7, 2.0)))
        applied.append("eq")
    if rng.random() < 0.3:
        samples = reverb(samples, rng)
        applied.append("reverb")
    if rng.random() < 0.25:
        samples, kind = telephone(samples, rng)
        applied.append(kind)
    if rng.random() < 0.05:
        limit = np.abs(samples).max() * rng.uniform(0.3, 0.7)
        samples = np.clip(samples, -limit, limit)
        applied.append("clip")
    return samples, applied
