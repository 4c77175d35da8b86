"""Where the corpus's voices come from (corpus-spec.md v2): three families, and the sources that are
reserved for outside checks and must never be used.

- espeak-ng pseudo-speakers: variant files written per utterance into a private copy of espeak-ng's
  data (see EspeakVoice);
- Festival's festvox voices from Debian, speaking neutrally (styled afterwards by merit.styling);
- real recorded voices: professional prompt recordings from Debian's Asterisk packages (styled
  afterwards by merit.styling).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .debian import extract_package
from .noise import to_rate

RATE = 16000
ESPEAK_DATA = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data")
VARIANT_PREFIX = "mx"


class ReservedSourceError(ValueError):
    """A voice or recording that corpus-spec v2 keeps for outside checks was asked for."""


# Substrings of voice and package names kept for outside checks of generalisation: never in train,
# dev or test. English Asterisk prompts may only be mixed in as real-speech babble noise.
RESERVED = ("pico", "flite", "mbrola", "mb-", "us1", "us2", "us3", "kal", "slt", "alsa-utils", "asterisk-core-sounds-en")
BABBLE_ONLY = ("asterisk-core-sounds-en",)


def check_allowed(source: str, as_noise: bool = False) -> str:
    """Returns `source` when the corpus may use it; raises ReservedSourceError otherwise."""
    name = source.lower()
    for reserved in RESERVED:
        if reserved in name and not (as_noise and any(b in name for b in BABBLE_ONLY)):
            raise ReservedSourceError(f"{source}: reserved for outside checks by corpus-spec v2 (matches {reserved!r})")
    return source


def trim(samples: np.ndarray, pad_s: float = 0.15) -> np.ndarray:
    """Leading and trailing silence cut to `pad_s`."""
    frame = RATE // 100
    usable = len(samples) // frame * frame
    if usable == 0:
        return samples
    energies = (samples[:usable].reshape(-1, frame) ** 2).mean(axis=1)
    active = np.nonzero(energies > energies.max() * 1e-4)[0]
    if len(active) == 0:
        return samples
    start, end = active[0] * frame, (active[-1] + 1) * frame
    pad = np.zeros(int(pad_s * RATE))
    return np.concatenate([pad, samples[start:end], pad])


def read_any(path: Path) -> np.ndarray:
    """A prompt recording at 16 kHz mono: WAV through soundfile, Asterisk's raw .gsm through sox."""
    if path.suffix == ".gsm":
        with tempfile.NamedTemporaryFile(suffix=".wav") as out:
            result = subprocess.run(["sox", "-t", "gsm", "-r", "8000", "-c", "1", str(path), out.name], capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"{path}: sox cannot decode it ({result.stderr.strip()}; apt-get install sox)")
            samples, rate = sf.read(out.name, dtype="float64")
    else:
        samples, rate = sf.read(path, dtype="float64")
    return to_rate(samples, rate)


# ----------------------------------------------------------------------------- espeak-ng


class EspeakVoice:
    """A private copy of espeak-ng's data for our variant files, one per process. espeak-ng lists
    every voice file when it starts; a variant file that another process creates or deletes
    meanwhile can cut that listing short, and espeak-ng then speaks without the variant, silently.
    espeak-ng also lists at most 349 voice files, so each variant exists only while its utterance
    is spoken."""

    def __init__(self, root: Path):
        if not ESPEAK_DATA.exists() or shutil.which("espeak-ng") is None:
            raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
        self.root = root
        data = root / "espeak-ng-data"
        shutil.copytree(ESPEAK_DATA, data, dirs_exist_ok=True)
        self.variants = data / "voices" / "!v"
        for stale in self.variants.glob(f"{VARIANT_PREFIX}*"):
            stale.unlink()

    def speak(self, voice: str, variant_text: str | None, variant_name: str, words_per_minute: int, text: str) -> np.ndarray:
        check_allowed(voice)
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


# ----------------------------------------------------------------------------- Festival


@dataclass(frozen=True)
class FestivalVoice:
    name: str  # festival's voice name, as in (voice_NAME)
    package: str  # the Debian package that holds it
    gender: str
    language: str


# Diphone and HTS voices packaged in Debian (none of the RESERVED ones); they read English text
# with their own language's letter-to-sound rules, which is fine: the styles are prosodic.
FESTIVAL_VOICES = (
    FestivalVoice("ked_diphone", "festvox-kdlpc16k", "male", "en"),
    FestivalVoice("czech_machac", "festvox-czech-machac", "male", "cs"),
    FestivalVoice("upc_ca_ona_hts", "festvox-ca-ona-hts", "female", "ca"),
    FestivalVoice("czech_dita", "festvox-czech-dita", "female", "cs"),
    FestivalVoice("hy_fi_mv_diphone", "festvox-suopuhe-mv", "male", "fi"),
    FestivalVoice("suo_fi_lj_diphone", "festvox-suopuhe-lj", "female", "fi"),
    FestivalVoice("pc_diphone", "festvox-itapc16k", "male", "it"),
    FestivalVoice("lp_diphone", "festvox-italp16k", "female", "it"),
)
FESTIVAL_PACKAGES = ("festival",) + tuple(v.package for v in FESTIVAL_VOICES)


def festival_speak(voice: str, text: str) -> np.ndarray:
    check_allowed(voice)
    if shutil.which("text2wave") is None:
        raise RuntimeError(f"Festival is not installed (apt-get install {' '.join(FESTIVAL_PACKAGES)})")
    with tempfile.TemporaryDirectory() as folder:
        source, out = Path(folder) / "text.txt", Path(folder) / "out.wav"
        source.write_text(text + "\n")
        result = subprocess.run(["text2wave", "-eval", f"(voice_{voice})", str(source), "-o", str(out)], capture_output=True, text=True)
        if result.returncode != 0 or not out.exists():
            raise RuntimeError(f"Festival failed for voice {voice}: {result.stderr.strip()[-300:]}")
        samples, rate = sf.read(out, dtype="float64")
    return trim(to_rate(samples, rate))


# ----------------------------------------------------------------------------- real voices


@dataclass(frozen=True)
class RealVoice:
    name: str
    package: str
    folder: str  # under the package's usr/share/asterisk/sounds/
    pattern: str
    gender: str
    language: str
    licence: str


# One professional speaker per entry. es_MX_f_Allison is left out: the English Asterisk prompts,
# reserved for outside checks, are Allison's voice too.
REAL_VOICES = (
    RealVoice("fr_CA_f_June", "asterisk-core-sounds-fr-wav", "fr_CA_f_June", "*.wav", "female", "fr", "CC-BY-SA-3.0"),
    RealVoice("it_IT_m_Carlo", "asterisk-core-sounds-it-wav", "it_IT_m_Carlo", "*.wav", "male", "it", "CC-BY-SA-3.0"),
    RealVoice("it_IT_f_Menardi", "asterisk-prompt-it-menardi-wav", "it_IT_f_Menardi", "*.wav", "female", "it", "CC-BY-SA-3.0 (Menardi, Dal Zot)"),
    RealVoice("es_CO", "asterisk-prompt-es-co", "", "*.gsm", "male", "es", "GPL-2+ (asterisk-prompt-es-co)"),
    RealVoice("fr_armelle", "asterisk-prompt-fr-armelle", "", "*.gsm", "female", "fr", "GPL-2+ (Armelle Desjardins)"),
    RealVoice("ru_RU_f_IvrvoiceRU", "asterisk-core-sounds-ru-wav", "ru_RU_f_IvrvoiceRU", "*.wav", "female", "ru", "CC-BY-SA-3.0"),
)


def prompt_files(voice: RealVoice, cache: Path, min_s: float = 1.2, max_s: float = 6.0) -> list[Path]:
    """The voice's prompt recordings of a usable length, in a fixed order (digits, letters and
    one-word prompts are too short to carry a contour)."""
    check_allowed(voice.package)
    root = extract_package(voice.package, cache) / "usr/share/asterisk/sounds" / voice.folder
    files = []
    for path in sorted(root.rglob(voice.pattern)):
        if any(part in ("digits", "letters", "phonetic", "silence") for part in path.relative_to(root).parts[:-1]):
            continue
        # GSM frames are 33 bytes per 20 ms; WAV prompts are 16-bit at 8 kHz.
        seconds = path.stat().st_size / (33 * 50 if path.suffix == ".gsm" else 16000)
        if min_s <= seconds <= max_s:
            files.append(path)
    return files
