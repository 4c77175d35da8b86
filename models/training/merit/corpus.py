"""The synthetic noisy emotional-speech corpus of ../shared/docs/corpus-spec.md.

espeak-ng pseudo-speakers read fortune-file sentences in four prosody styles; each clean utterance is
normalised to a random active level and mixed with seen (train/dev) or unseen (test) noise.

    .venv/bin/python -m merit.corpus --out work/corpus            # the full corpus (resumable)
    .venv/bin/python -m merit.corpus --out /tmp/c --preset smoke  # a handful of clips
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from . import CLASSES
from .debian import extract_package
from .noise import RECORDED, SEEN_TYPES, UNSEEN_TYPES, NoiseBank, to_rate
from .prosody import active_level_dbfs, prosody_stats

RATE = 16000
ACCENTS = ("en", "en-us", "en-gb-scotland", "en-029", "en-gb-x-rp")
TEST_SNRS = (-5, 0, 5, 10)
TRAIN_SNR_RANGE = (-5.0, 20.0)
LEVEL_RANGE_DBFS = (-35.0, -15.0)
ESPEAK_DATA = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data")
VARIANT_PREFIX = "mx"
# Each worker process speaks with its own copy of espeak-ng's data, in OUT/.espeak-XXXX (see Voice).
VOICE_COPY_PREFIX = ".espeak-"

# Style recipes relative to the speaker's neutral voice, calibrated so that the *measured* prosody
# matches corpus-spec.md's table (espeak's mean F0 grows with the pitch range, hence sad's 1.06 base
# gives about 0.75 of neutral's mean F0 with its narrow range). `rate` multiplies words per minute.
STYLES = {
    "neutral": dict(f0=1.00, range_st=10.5, rate=1.00, extra=""),
    "happy": dict(f0=1.02, range_st=17.0, rate=1.12, extra="tone 600 150 1200 175 2000 200\nstressAdd 0 0 0 0 0 0 20 40\n"),
    "sad": dict(
        f0=1.10,
        range_st=3.5,
        rate=0.75,
        extra="breath 30 30 25 20 15 10 5 5\nbreathw 150 150 200 200 400 400\ntone 600 200 1200 100 2000 45\nconsonants 70 70\n",
    ),
    "angry": dict(
        f0=1.13,
        range_st=14.0,
        rate=1.15,
        extra="roughness 5\nflutter 8\nconsonants 170 150\ntone 600 130 1200 185 2000 230\nstressAdd 10 10 0 0 0 0 30 50\n",
    ),
}
assert tuple(sorted(STYLES)) == tuple(sorted(CLASSES))


@dataclass
class Speaker:
    id: str
    split: str
    gender: str
    accent: str
    base_f0: float
    formant_scale: list[float]
    breath: int
    roughness: int
    speed: float

    def variant_name(self, style: str) -> str:
        # Short on purpose: espeak-ng overflows a buffer on long "voice+variant" names.
        return f"{VARIANT_PREFIX}{self.id[:2]}{self.id[-3:]}{style[0]}"

    def variant(self, style: str) -> str:
        recipe = STYLES[style]
        base = self.base_f0 * recipe["f0"]
        top = base * 2 ** (recipe["range_st"] / 12)
        lines = [
            "language variant",
            f"name {self.variant_name(style)}",
            f"gender {self.gender}",
            f"pitch {base:.0f} {top:.0f}",
        ]
        lines += [f"formant {i} {100 * s:.0f} 100 100" for i, s in enumerate(self.formant_scale)]
        extra = recipe["extra"]
        if self.breath and "breath " not in extra:
            lines.append(f"breath {self.breath} {self.breath} {self.breath // 2}")
        if self.roughness and "roughness" not in extra:
            lines.append(f"roughness {self.roughness}")
        return "\n".join(lines) + "\n" + extra


@dataclass
class CorpusPlan:
    speakers: dict[str, int] = field(default_factory=lambda: {"train": 32, "dev": 8, "test": 10})
    sentences_per_style: dict[str, int] = field(default_factory=lambda: {"train": 8, "dev": 4, "test": 4})
    noise_sources: tuple[str, ...] = SEEN_TYPES + UNSEEN_TYPES
    clean_fraction_train: float = 0.1


PRESETS = {
    "full": CorpusPlan(),
    "smoke": CorpusPlan(
        speakers={"train": 2, "dev": 1, "test": 1},
        sentences_per_style={"train": 2, "dev": 1, "test": 1},
        noise_sources=("white", "pink", "hum", "tones", "clicks", "engine", "brown", "siren", "wind"),
    ),
}


# ----------------------------------------------------------------------------- sentences

_SENTENCE = re.compile(r"[A-Z][^.!?]*[.!?]")
_ALLOWED = re.compile(r"^[A-Za-z ,;'.!?-]+$")


def fortune_sentences(cache: Path) -> list[str]:
    """4-14 word sentences from Debian's fortune files (the offensive ones are not in these packages)."""
    sentences = set()
    for package in ("fortunes-min", "fortunes"):
        root = extract_package(package, cache) / "usr/share/games/fortunes"
        for path in sorted(root.glob("*")):
            if path.suffix in (".dat", ".u8") or path.is_dir() or "off" in path.parts:
                continue
            text = path.read_text(encoding="latin-1")
            for fortune in text.split("\n%\n"):
                for sentence in _SENTENCE.findall(" ".join(fortune.split())):
                    words = sentence.split()
                    if 4 <= len(words) <= 14 and _ALLOWED.match(sentence) and "--" not in sentence:
                        sentences.add(sentence)
    return sorted(sentences)


def template_sentences(cache: Path, rng: np.random.Generator, count: int) -> list[str]:
    """Fillers from wamerican's word list in fixed templates."""
    words_file = extract_package("wamerican", cache) / "usr/share/dict/american-english"
    words = [w for w in words_file.read_text(encoding="latin-1").split() if w.isalpha() and w.islower() and 3 <= len(w) <= 9]
    templates = (
        "Please bring the {} to the {} tonight.",
        "I saw a {} next to the old {}.",
        "The {} was left beside the {} again.",
        "Nobody told me about the {} or the {}.",
        "We will talk about the {} after the {}.",
    )
    return sorted(
        {templates[int(rng.integers(len(templates)))].format(*rng.choice(words, 2)) for _ in range(count)}
    )


# ----------------------------------------------------------------------------- synthesis


class Voice:
    """A private copy of espeak-ng's data for our variant files, one per process. espeak-ng lists
    every voice file when it starts; a variant file that another process creates or deletes
    meanwhile can cut that listing short, and espeak-ng then speaks without the variant, silently
    (two 2-worker runs of the full corpus differed in 155 of 1,312 utterances that way). espeak-ng
    also lists at most 349 voice files, so each variant exists only while its utterance is spoken."""

    def __init__(self, root: Path):
        if not ESPEAK_DATA.exists():
            raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
        self.root = root
        data = root / "espeak-ng-data"
        shutil.copytree(ESPEAK_DATA, data, dirs_exist_ok=True)
        self.variants = data / "voices" / "!v"
        for stale in self.variants.glob(f"{VARIANT_PREFIX}*"):
            stale.unlink()

    def speak(self, voice: str, variant_text: str | None, variant_name: str, words_per_minute: int, text: str) -> np.ndarray:
        variant_file = self.variants / variant_name
        if variant_text is not None:
            variant_file.write_text(variant_text)
        try:
            with tempfile.NamedTemporaryFile(suffix=".wav") as out:
                cmd = ["espeak-ng", f"--path={self.root}", "-v", f"{voice}+{variant_name}", "-s", str(words_per_minute), "-w", out.name, text]
                result = subprocess.run(cmd, capture_output=True, text=True)
                if result.returncode != 0:
                    raise RuntimeError(f"espeak-ng failed for {voice}+{variant_name}: {result.stderr.strip()}")
                samples, rate = sf.read(out.name, dtype="float64")
        finally:
            if variant_text is not None:
                variant_file.unlink(missing_ok=True)
        return trim(to_rate(samples, rate))


def trim(samples: np.ndarray, pad_s: float = 0.15) -> np.ndarray:
    frame = RATE // 100
    energies = np.array([np.mean(samples[i : i + frame] ** 2) for i in range(0, len(samples) - frame, frame)])
    if len(energies) == 0:
        return samples
    active = np.nonzero(energies > energies.max() * 1e-4)[0]
    start, end = active[0] * frame, (active[-1] + 1) * frame
    pad = np.zeros(int(pad_s * RATE))
    return np.concatenate([pad, samples[start:end], pad])


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


def write_wav(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(samples, -1, 1).astype(np.float32), RATE, subtype="PCM_16")


# ----------------------------------------------------------------------------- the plan


def make_speakers(rng: np.random.Generator, plan: CorpusPlan) -> list[Speaker]:
    speakers = []
    for split, count in plan.speakers.items():
        for i in range(count):
            gender = "female" if i % 2 else "male"
            female = gender == "female"
            speakers.append(
                Speaker(
                    id=f"{split}{i:03d}",
                    split=split,
                    gender=gender,
                    accent=ACCENTS[int(rng.integers(len(ACCENTS)))],
                    # espeak's "pitch" base sits about 0.65x below the mean F0 it produces (at neutral range).
                    base_f0=float(rng.uniform(112, 135) if female else rng.uniform(60, 73)),
                    formant_scale=[float(rng.uniform(0.93, 1.07) * (1.08 if female else 1.0)) for _ in range(6)],
                    breath=int(rng.integers(0, 12)),
                    roughness=int(rng.integers(0, 3)),
                    speed=float(rng.uniform(0.93, 1.07)),
                )
            )
    return speakers


@dataclass
class Job:
    uid: str
    speaker: Speaker
    style: str
    text: str
    seed: int


def plan_jobs(plan: CorpusPlan, seed: int, cache: Path) -> tuple[list[Job], dict[str, list[str]]]:
    rng = np.random.default_rng(seed)
    pool = fortune_sentences(cache)
    pool += template_sentences(cache, rng, max(0, 400 - len(pool)))
    order = rng.permutation(len(pool))
    needed = {s: plan.sentences_per_style[s] * len(STYLES) for s in plan.speakers}
    # Sentence-disjoint splits: each split draws from its own slice of the shuffled pool.
    sizes = {s: min(len(pool) // 3, max(needed[s] * 3, 30)) for s in plan.speakers}
    sentences, start = {}, 0
    for split in ("test", "dev", "train"):
        sentences[split] = [pool[i] for i in order[start : start + sizes[split]]]
        start += sizes[split]
    jobs = []
    for speaker in make_speakers(rng, plan):
        texts = sentences[speaker.split]
        for style in STYLES:
            picks = rng.choice(len(texts), plan.sentences_per_style[speaker.split], replace=False)
            for n, pick in enumerate(picks):
                uid = f"{speaker.id}_{style}_{n:02d}"
                jobs.append(Job(uid, speaker, style, texts[int(pick)], int(rng.integers(2**31))))
    return jobs, sentences


# ----------------------------------------------------------------------------- one utterance


class Worker:
    """Per-process state: espeak data copy, noise bank with a babble bank."""

    def __init__(self, out: Path, cache: Path, plan: CorpusPlan, babble_texts: list[str]):
        self.out, self.plan = out, plan
        self.voice = Voice(Path(tempfile.mkdtemp(prefix=VOICE_COPY_PREFIX, dir=out)))
        self.babble_bank: list[np.ndarray] = []
        if "babble" in plan.noise_sources:
            for i, text in enumerate(babble_texts[:24]):
                variant = ("m1", "m2", "m3", "m4", "f1", "f2", "f3", "f4")[i % 8]
                self.babble_bank.append(self.voice.speak("en", None, variant, 170, text))
        self.noise = NoiseBank(cache, self._babble if self.babble_bank else None, set(plan.noise_sources))

    def _babble(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = np.zeros(n)
        for _ in range(int(rng.integers(3, 7))):
            talker = self.babble_bank[int(rng.integers(len(self.babble_bank)))]
            reps = np.tile(talker, n // len(talker) + 2)
            start = int(rng.integers(len(talker)))
            part = reps[start : start + n]
            out += part / (np.std(part) + 1e-9)
        return out

    def run(self, job: Job) -> list[dict]:
        rows_path = self.out / "rows" / f"{job.uid}.json"
        if rows_path.exists():
            return json.loads(rows_path.read_text())
        rng = np.random.default_rng(job.seed)
        speaker = job.speaker
        recipe = STYLES[job.style]
        words_per_minute = int(round(155 * recipe["rate"] * speaker.speed))
        speech = self.voice.speak(
            speaker.accent, speaker.variant(job.style), speaker.variant_name(job.style), words_per_minute, job.text
        )
        clean = set_active_level(speech, float(rng.uniform(*LEVEL_RANGE_DBFS)))
        base = {
            "speaker": speaker.id,
            "gender": speaker.gender,
            "accent": speaker.accent,
            "label": job.style,
            "text": job.text,
            "words": len(job.text.split()),
            "utterance": job.uid,
            "split": speaker.split,
        }
        conditions = []
        if speaker.split == "test":
            conditions.append(("clean", None, None))
            for noise_set in ("seen", "unseen"):
                types = self.noise.types(noise_set == "unseen")
                for snr in TEST_SNRS:
                    conditions.append((noise_set, types[int(rng.integers(len(types)))], float(snr)))
        elif rng.random() < self.plan.clean_fraction_train:
            conditions.append(("clean", None, None))
        else:
            types = self.noise.types(False)
            conditions.append(("seen", types[int(rng.integers(len(types)))], float(rng.uniform(*TRAIN_SNR_RANGE))))
        rows = []
        split_dir = self.out / speaker.split
        for noise_set, noise_type, snr in conditions:
            suffix = "clean" if noise_type is None else f"{noise_set}_{noise_type}_{snr:+.0f}dB".replace("+-", "-")
            name = f"{job.uid}_{suffix}"
            if noise_type is None:
                noisy, reference, scale = clean, clean, 1.0
                source, licence = None, None
            else:
                # The seen-noise test draws recorded noise from files that training never heard.
                held_out = speaker.split == "test"
                clip = self.noise.make(noise_type, rng, len(clean), held_out)
                noisy, reference, scale = mix(clean, clip.samples, snr)
                source, licence = clip.source, clip.licence
            write_wav(split_dir / "noisy" / f"{name}.wav", noisy)
            write_wav(split_dir / "clean" / f"{name}.wav", reference)
            rows.append(
                {
                    **base,
                    "path": f"{speaker.split}/noisy/{name}.wav",
                    "clean_path": f"{speaker.split}/clean/{name}.wav",
                    "duration_s": round(len(noisy) / RATE, 3),
                    "noise_set": noise_set,
                    "noise_type": noise_type,
                    "noise_source": source,
                    "noise_licence": licence,
                    "snr_db": snr,
                    "clean_level_dbfs": round(active_level_dbfs(reference), 2),
                    "mix_scale": round(scale, 4),
                }
            )
        rows_path.parent.mkdir(parents=True, exist_ok=True)
        rows_path.write_text(json.dumps(rows))
        return rows


_worker: Worker | None = None


def _init(out, cache, plan, babble_texts):
    global _worker
    _worker = Worker(out, cache, plan, babble_texts)


def _run(job: Job) -> list[dict]:
    assert _worker is not None
    return _worker.run(job)


# ----------------------------------------------------------------------------- statistics


def style_statistics(out: Path, rows: list[dict]) -> dict:
    """Prosody per style, measured on the clean references: F0 relative to the speaker's neutral,
    F0 range in semitones, words per second, active level."""
    by_utterance = {}
    for row in rows:
        by_utterance.setdefault(row["utterance"], row)
    measured = []
    # Up to 150 utterances per style (every speaker's neutral ones included) are plenty for the table.
    chosen = [r for r in by_utterance.values() if r["label"] == "neutral"]
    for style in STYLES:
        if style != "neutral":
            same = [r for r in by_utterance.values() if r["label"] == style]
            chosen += same[:: max(1, len(same) // 150)]
    for row in chosen:
        samples, _ = sf.read(out / row["clean_path"], dtype="float64")
        measured.append({**row, **prosody_stats(samples, row["words"])})
    neutral_f0 = {}
    for m in measured:
        if m["label"] == "neutral" and np.isfinite(m["f0_mean_hz"]):
            neutral_f0.setdefault(m["speaker"], []).append(m["f0_mean_hz"])
    table = {}
    for style in STYLES:
        ms = [m for m in measured if m["label"] == style]
        ratios = [m["f0_mean_hz"] / np.mean(neutral_f0[m["speaker"]]) for m in ms if m["speaker"] in neutral_f0 and np.isfinite(m["f0_mean_hz"])]
        table[style] = {
            "utterances": len(ms),
            "f0_vs_neutral": float(np.mean(ratios)) if ratios else float("nan"),
            "f0_range_st_median": float(np.nanmedian([m["f0_range_st"] for m in ms])),
            "words_per_s": float(np.nanmean([m["words_per_s"] for m in ms])),
            "level_dbfs": float(np.mean([m["level_dbfs"] for m in ms])),
            "f0_mean_hz_male": float(np.nanmean([m["f0_mean_hz"] for m in ms if m["gender"] == "male"] or [np.nan])),
            "f0_mean_hz_female": float(np.nanmean([m["f0_mean_hz"] for m in ms if m["gender"] == "female"] or [np.nan])),
        }
    return table


def print_statistics(table: dict) -> None:
    print(f"{'style':8} {'n':>5} {'F0/neutral':>10} {'F0 range st':>11} {'words/s':>8} {'level dBFS':>10} {'F0 male':>8} {'F0 female':>9}")
    for style, s in table.items():
        print(
            f"{style:8} {s['utterances']:5d} {s['f0_vs_neutral']:10.2f} {s['f0_range_st_median']:11.1f} {s['words_per_s']:8.2f} "
            f"{s['level_dbfs']:10.1f} {s['f0_mean_hz_male']:8.0f} {s['f0_mean_hz_female']:9.0f}"
        )


# ----------------------------------------------------------------------------- main


def remove_voice_copies(out: Path) -> None:
    for copy in out.glob(f"{VOICE_COPY_PREFIX}*"):
        shutil.rmtree(copy, ignore_errors=True)


def generate(out: Path, plan: CorpusPlan, seed: int, workers: int, cache: Path | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    cache = cache or out / "debian"
    jobs, sentences = plan_jobs(plan, seed, cache)
    speakers = {job.speaker.id: asdict(job.speaker) for job in jobs}
    (out / "plan.json").write_text(
        json.dumps({"seed": seed, "plan": asdict(plan), "sentences": sentences, "speakers": list(speakers.values())}, indent=1)
    )
    babble_texts = sentences["train"]
    remove_voice_copies(out)  # left by an interrupted run
    # Fetch the recorded noise packages here too: workers racing on one download would clash.
    for noise_type in plan.noise_sources:
        if noise_type in RECORDED:
            extract_package(RECORDED[noise_type][0], cache)
    rows: list[dict] = []
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(out, cache, plan, babble_texts)) as pool:
        for index, job_rows in enumerate(pool.map(_run, jobs, chunksize=4)):
            rows += job_rows
            if (index + 1) % 100 == 0:
                print(f"  {index + 1}/{len(jobs)} utterances", flush=True)
    remove_voice_copies(out)
    manifest = out / "manifest.jsonl"
    temp = manifest.with_suffix(".tmp")
    temp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    temp.replace(manifest)
    table = style_statistics(out, rows)
    (out / "prosody.json").write_text(json.dumps(table, indent=1))
    counts = {split: sum(r["split"] == split for r in rows) for split in plan.speakers}
    print(f"wrote {len(rows)} clips ({counts}) to {out}; manifest {manifest}")
    print_statistics(table)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="full")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--noise-sources", help="comma-separated noise types to use (default: all)")
    args = parser.parse_args()
    plan = PRESETS[args.preset]
    if args.noise_sources:
        plan.noise_sources = tuple(args.noise_sources.split(","))
    generate(args.out, plan, args.seed, args.workers)


if __name__ == "__main__":
    main()
