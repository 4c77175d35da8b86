"""Reading a corpus manifest (JSON Lines) into memory, with the checks that make a bad corpus fail
early and clearly: missing or malformed manifest, empty split, a class missing from a split,
a wrong sample rate."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf
import torch

from . import CLASSES, SAMPLE_RATE
from .mixing import NoisePool, RandomisedNoise, random_mixture


class CorpusError(ValueError):
    pass


@dataclass
class Clip:
    row: dict
    noisy: np.ndarray
    clean: np.ndarray | None
    label: int


def read_json_lines(path: Path, required: tuple[str, ...], not_found: str) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSON-lines file; a line that is not JSON or
    lacks a required key is a CorpusError naming the file and line."""
    if not path.is_file():
        raise CorpusError(f"{path}: {not_found}")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise CorpusError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        missing = [key for key in required if key not in row]
        if missing:
            raise CorpusError(f"{path}:{number}: missing {', '.join(missing)}")
        rows.append((number, row))
    return rows


def check_corpus_version(path: Path, version: int) -> None:
    """Training needs a corpus of the current generator: an older one lacks the noise pools that
    training mixes from, and its labels follow an older spec."""
    rows = read_manifest(path)
    found = sorted({row.get("corpus_version", 1) for row in rows})
    if found != [version]:
        raise CorpusError(
            f"{path}: a corpus of generator version {', '.join(map(str, found))}; training needs version {version} "
            "(regenerate it: python -m merit.corpus --out ...)"
        )


def read_manifest(path: Path) -> list[dict]:
    rows = [row for _, row in read_json_lines(path, ("path", "split", "label"), "manifest not found (generate the corpus first: python -m merit.corpus --out ...)")]
    if not rows:
        raise CorpusError(f"{path}: the manifest is empty")
    return rows


def read_audio(path: Path) -> np.ndarray:
    try:
        samples, rate = sf.read(path, dtype="float32")
    except RuntimeError as error:
        raise CorpusError(f"{path}: cannot read audio ({error})") from None
    if rate != SAMPLE_RATE:
        raise CorpusError(f"{path}: sample rate {rate} Hz, the model needs {SAMPLE_RATE} Hz")
    if samples.ndim != 1:
        raise CorpusError(f"{path}: {samples.shape[1]} channels, the model needs mono")
    return samples


def without_family(family: str | None):
    """A `load_split` filter that leaves a voice family out (leave-one-family-out), or None for all."""
    return (lambda row: row["family"] != family) if family else None


def load_split(
    manifest: Path,
    split: str,
    classes: tuple[str, ...] = CLASSES,
    filter_fn=None,
    with_clean: bool = True,
    require_all_classes: bool = True,
) -> list[Clip]:
    rows = [r for r in read_manifest(manifest) if r["split"] == split and (filter_fn is None or filter_fn(r))]
    if not rows:
        raise CorpusError(f"{manifest}: the {split!r} split is empty")
    unknown = sorted({r["label"] for r in rows} - set(classes))
    if unknown:
        raise CorpusError(f"{manifest}: the {split!r} split has labels {unknown} outside the classes {list(classes)}")
    if require_all_classes:
        absent = [c for c in classes if not any(r["label"] == c for r in rows)]
        if absent:
            raise CorpusError(f"{manifest}: the {split!r} split has no examples of {absent}")
    root = manifest.parent
    clips = []
    for row in rows:
        clean = read_audio(root / row["clean_path"]) if with_clean and row.get("clean_path") else None
        clips.append(Clip(row, read_audio(root / row["path"]), clean, classes.index(row["label"])))
    return clips


def crop(signal: np.ndarray, length: int, offset: int) -> np.ndarray:
    """A window of `length` samples starting at `offset`, tiling short signals (keeps their prosody
    rather than padding with silence)."""
    if len(signal) < length + offset:
        signal = np.tile(signal, (length + offset) // len(signal) + 1)
    return signal[offset : offset + length]


class Batch(NamedTuple):
    noisy: torch.Tensor  # (batch, samples)
    clean: torch.Tensor
    labels: torch.Tensor  # (batch,)
    speakers: torch.Tensor  # (batch,) speaker ids, for speaker references within the batch


class Batches:
    """Random fixed-length crops, reshuffled each epoch. With a noise pool, each crop of the clean
    utterance is mixed anew every epoch (merit.mixing.random_mixture): new noise, SNR and level;
    without one, the clip's stored noisy and clean signals are cropped. With `speaker_group` > 1,
    clips come in runs of that many from one speaker (drawn regardless of their labels), so that
    each has others of its speaker in the batch to be relative to."""

    def __init__(
        self,
        clips: list[Clip],
        seconds: float,
        batch_size: int,
        seed: int,
        noise: NoisePool | RandomisedNoise | None = None,
        speaker_group: int = 1,
    ):
        self.clips, self.length, self.batch_size = clips, int(seconds * SAMPLE_RATE), batch_size
        self.rng = np.random.default_rng(seed)
        self.noise = noise
        self.speaker_group = speaker_group
        ids = {speaker: number for number, speaker in enumerate(sorted({clip.row.get("speaker", "") for clip in clips}))}
        self.speaker_ids = [ids[clip.row.get("speaker", "")] for clip in clips]

    def __len__(self) -> int:
        return (len(self.clips) + self.batch_size - 1) // self.batch_size

    def order(self) -> np.ndarray:
        """Every clip once: shuffled, or in shuffled runs of `speaker_group` clips of one speaker."""
        if self.speaker_group <= 1:
            return self.rng.permutation(len(self.clips))
        by_speaker = defaultdict(list)
        for index in self.rng.permutation(len(self.clips)):
            by_speaker[self.speaker_ids[index]].append(int(index))
        runs = [
            members[start : start + self.speaker_group]
            for _, members in sorted(by_speaker.items())
            for start in range(0, len(members), self.speaker_group)
        ]
        return np.array([index for run in (runs[i] for i in self.rng.permutation(len(runs))) for index in run])

    def __iter__(self):
        order = self.order()
        for start in range(0, len(order), self.batch_size):
            noisy, clean, labels, speakers = [], [], [], []
            for index in order[start : start + self.batch_size]:
                clip = self.clips[index]
                offset = int(self.rng.integers(0, max(1, len(clip.noisy) - self.length + 1)))
                reference = crop(clip.clean if clip.clean is not None else clip.noisy, self.length, offset)
                if self.noise is not None:
                    mixture = random_mixture(reference, self.noise, self.rng)
                    noisy.append(mixture.noisy.astype(np.float32))
                    clean.append(mixture.clean.astype(np.float32))
                else:
                    noisy.append(crop(clip.noisy, self.length, offset))
                    clean.append(reference)
                labels.append(clip.label)
                speakers.append(self.speaker_ids[index])
            yield Batch(
                torch.from_numpy(np.stack(noisy)), torch.from_numpy(np.stack(clean)), torch.tensor(labels), torch.tensor(speakers)
            )
