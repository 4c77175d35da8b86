"""Re-exports an ONNX model of this pipeline through the current exporter, without retraining: the
weights are read back from the file (as merit.finetune reads them), the metadata is kept, and the new
file is checked against the old one in ONNX Runtime on the demo project's recordings and a synthetic
signal. It replaces the old file only when every output agrees (largest absolute difference of the
class probabilities, trajectory probabilities, router probabilities and enhanced samples printed);
the model's card, if given, gets a "Re-export" section with those figures.

    .venv/bin/python -m merit.reexport ../sparse-merit-compact.onnx [--card ../sparse-merit-compact.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import soundfile as sf

from . import SAMPLE_RATE
from .cpu_int8 import variant_path
from .cpu_timing import test_signals
from .export import METADATA_KEY, OUTPUT_NAMES, REFERENCE_INPUT, STATISTICS_OUTPUT, export_onnx, load_onnx_model, model_sha256

REPOSITORY = Path(__file__).resolve().parents[3]
DEMO = REPOSITORY / "projects" / "demo" / "audio"
# Largest absolute difference allowed on probabilities and enhanced samples (float32 rounding of a
# re-ordered computation is ~1e-6).
TOLERANCE = 1e-4
CARD_SECTION = "## Re-export"


def clips() -> list[tuple[str, np.ndarray]]:
    """The demo project's WAV and FLAC recordings (16 kHz mono after a plain mix-down; what the
    model hears does not need to be the studio's resampling for a file-against-file check), and
    30 s of a synthetic signal (one analysis chunk)."""
    out = []
    for path in sorted(DEMO.glob("*")):
        if path.suffix not in (".wav", ".flac"):
            continue
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        if rate != SAMPLE_RATE:
            positions = np.arange(0, len(audio), rate / SAMPLE_RATE)
            audio = np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)
        out.append((path.name, audio))
    out.append(("synthetic 30 s", test_signals((30.0,))[0]))
    return out


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def compare(old: Path, new: Path) -> dict[str, float]:
    """Largest absolute differences between the two files' outputs over `clips()`."""
    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (old, new)]
    worst = {"probabilities": 0.0, "trajectory_probabilities": 0.0, "ser_gate": 0.0, "se_gate": 0.0, "enhanced": 0.0}
    # A speaker-relative model runs each clip without a reference (NaN: the population's) and against
    # the previous clip's statistics, which the old model's last run of that clip gave.
    relative = REFERENCE_INPUT in {i.name for i in sessions[0].get_inputs()}
    names = [*OUTPUT_NAMES, STATISTICS_OUTPUT] if relative else list(OUTPUT_NAMES)
    population = np.full((1, sessions[0].get_outputs()[-1].shape[1]), np.nan, np.float32) if relative else None
    previous = None
    for _, audio in clips():
        references = [r for r in (population, previous) if r is not None] or [None]
        for reference in references:
            feeds = {"waveform": audio[None]} if reference is None else {"waveform": audio[None], REFERENCE_INPUT: reference}
            a, b = (s.run(names, feeds) for s in sessions)
            pairs = {
                "probabilities": (softmax(a[0]), softmax(b[0])),
                "enhanced": (a[1], b[1]),
                "ser_gate": (a[2], b[2]),
                "se_gate": (a[3], b[3]),
                "trajectory_probabilities": (softmax(a[4]), softmax(b[4])),
            }
            for name, (x, y) in pairs.items():
                worst[name] = max(worst[name], float(np.abs(x - y).max()))
        if relative:
            previous = a[-1]
    return worst


def update_card(card: Path, lines: list[str]) -> None:
    text = card.read_text()
    if CARD_SECTION in text:
        text = text[: text.index(CARD_SECTION)].rstrip("\n") + "\n"
    card.write_text(text.rstrip("\n") + "\n\n" + "\n".join([CARD_SECTION, "", *lines]) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="an ONNX model exported by this pipeline; replaced in place")
    parser.add_argument("--card", type=Path, help="its card, to which the re-export's figures are written")
    args = parser.parse_args()
    model, metadata, digest = load_onnx_model(args.model)
    metadata.pop("graph_rewrites", None)
    with tempfile.TemporaryDirectory(dir=args.model.parent, prefix=".reexport-") as staging:
        new = export_onnx(model, Path(staging) / args.model.name, metadata)
        worst = compare(args.model, new)
        print(json.dumps({"largest_absolute_difference": worst}, indent=1))
        if not all(value <= TOLERANCE for value in worst.values()):
            print(f"error: the re-exported model differs by more than {TOLERANCE}; {args.model} left as it was", file=sys.stderr)
            return 1
        props = {p.key: p.value for p in onnx.load(str(new), load_external_data=False).metadata_props}
        rewrites = json.loads(props[METADATA_KEY]).get("graph_rewrites")
        new.replace(args.model)
    print(f"replaced {args.model} (was SHA-256 {digest[:16]}..., now {model_sha256(args.model)[:16]}...)")
    variant = variant_path(args.model)
    if variant.exists():
        # Quantised from the file replaced: the studio would pass it over with a warning at every load.
        variant.unlink()
        print(f"removed {variant}, the old file's CPU variant: `python -m merit.cpu_int8 {args.model} --corpus MANIFEST` writes the new one's")
    if args.card:
        names = ", ".join(name for name, _ in clips())
        update_card(
            args.card,
            [
                f"Re-exported without retraining by `python -m merit.reexport` (the same weights; the exporter's graph "
                f"rewrites {rewrites}, the position bias and trajectory box sums computed in fewer passes). "
                f"ONNX Runtime, old file against new on {names}: largest absolute difference of the class "
                f"probabilities {worst['probabilities']:.1e}, trajectory probabilities {worst['trajectory_probabilities']:.1e}, "
                f"router probabilities {max(worst['ser_gate'], worst['se_gate']):.1e}, enhanced samples {worst['enhanced']:.1e}. "
                f"The figures above were measured on the model before the re-export.",
            ],
        )
        print(f"updated {args.card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
