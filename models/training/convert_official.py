"""Converts the authors' released Sparse MERIT checkpoint into an ONNX model the studio opens.

    models/training/.venv/bin/python models/training/convert_official.py \\
        --weights ~/Downloads/Sparse-MERIT --out models/sparse-merit-official.onnx

--weights is the folder the release was downloaded into (the seven files may sit in sub-folders, as
the authors' download_weight.py lays them out). The converter builds our WavLM Large + Sparse MERIT
model, fills it with every released tensor (checked: each used once, every shape matching), exports
ONNX with the studio's contract (weights over 1.5 GB go to `<out>.data` beside the model), checks
PyTorch against ONNX Runtime on test signals, times ONNX Runtime on this machine's CPU, and writes a
model card (`<out>` with .md) stating the provenance and the files' SHA-256.

With --int8, the model written at --out is the CPU model: its matrix products with int8 weights
(per output channel) and activations quantised at run time (merit.cpu_int8; the STFT, the SER and SE
heads and the routers stay float32). It is checked against the float32 export on clean/noisy test
pairs (logit error relative to the logits' spread, pooled-embedding cosine >= 0.99, enhanced audio
within 0.3 dB segmental SNR); when the check fails nothing is written and the exit code is 1. Both are
timed (real-time factor, peak memory of a separate process) and the card states the figures.

With --fp16, the model written at --out is the CUDA model: the backbone and the experts in half
precision, float32 islands where rounding could flip a decision or overflow (merit.half_precision),
float32 inputs and outputs. It is checked against the float32 export the same way (on CUDA when ONNX
Runtime has it, else on the CPU, which runs it slower than float32); its speed is measured on a GPU
by scripts/gpu-check.sh.

Without the real files, `python -m merit.official_fixture DIR [--full]` writes a random stand-in
with the same structure to try the whole path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from merit.cpu_int8 import PRECISION as INT8, Int8Error, quantise_for_cpu
from merit.cpu_timing import StagePeaks, test_pairs, test_signals
from merit.export import METADATA_KEY, ContractError, export_onnx, external_data_path, metadata_for, stamp_metadata, verify_onnx_contract
from merit.half_precision import PRECISION as FP16, to_half_precision
from merit.precision_parity import describe, parity_with_float32
from merit.official import PROVENANCE, OfficialCheckpointError, OfficialModel, load_official
from merit.ship import parity

# PyTorch and ONNX Runtime must agree to this relative difference on every output.
PARITY_TOLERANCE = 1e-3
PARITY_SECONDS = (1.0, 3.3, 7.9)


def time_cpu(path: Path, threads: int, seconds: float = 10.0) -> dict:
    """ONNX Runtime on the CPU, one clip of `seconds`: load time, best of two runs, real-time factor,
    and the peak resident memory of a process doing only that (merit.cpu_timing: this process holds
    the PyTorch model)."""
    result = subprocess.run(
        [sys.executable, "-m", "merit.cpu_timing", str(path), "--threads", str(threads), "--seconds", str(seconds)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent,
    )
    if result.returncode != 0:
        raise RuntimeError(f"timing {path.name} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_card(
    path: Path,
    out: Path,
    official: OfficialModel,
    checks: dict,
    timing: dict,
    conversion_s: float,
    memory: StagePeaks,
    int8: dict | None = None,
    fp16: dict | None = None,
) -> None:
    config = official.model.config
    data = external_data_path(out)
    size = out.stat().st_size + (data.stat().st_size if data.exists() else 0)
    lines = [
        f"# {out.name}: the authors' Sparse MERIT, converted",
        "",
        "The model of the paper, with its authors' weights, in the studio's ONNX contract. Converted by",
        "`models/training/convert_official.py`; nothing was retrained.",
        "",
        "## Provenance",
        *[f"- {key}: {value}" for key, value in PROVENANCE.items()],
        "- licence: the code is MIT; for the weights, see the licence on the model page above.",
        "",
        "| file | SHA-256 |",
        "|---|---|",
        *[f"| {name} | `{digest}` |" for name, digest in official.sha256.items()],
        "",
        "## Model",
        f"- classes, in output order: {', '.join(config.classes)}",
        f"- backbone: WavLM, {config.backbone.num_layers} layers of {config.backbone.hidden_size}; "
        f"{config.backbone.num_hidden_states} hidden states, per-layer LayerNorm, concatenated",
        f"- experts: {config.num_experts} ({config.expert_hidden} hidden, {config.expert_out} out), "
        f"one router each for SE and SER, top-{config.top_k}, one-hot gate (as released)",
        f"- input: 16 kHz mono, normalised with the training set's mean {config.input_mean:.6g} and std {config.input_std:.6g}",
        f"- parameters: {official.report.parameters:,}; on disk {size / 1e6:,.1f} MB"
        + (f" (`{out.name}` + `{data.name}`)" if data.exists() else ""),
        "",
        "## Checks at conversion",
        *[f"- {line}" for line in official.report.lines()],
        f"- PyTorch vs ONNX Runtime on {checks['clips']} test signals ({', '.join(f'{s} s' for s in PARITY_SECONDS)}): "
        "largest relative difference "
        + ", ".join(f"{name} {value:.1e}" for name, value in checks["max_relative_difference"].items())
        + f"; top-1 expert agreement {checks['top1_gate_agreement']:.4f}",
        f"- ONNX Runtime, CPU, {timing['threads']} threads, on the converting machine: load {timing['load_s']} s, "
        f"{timing['clip_s']:.0f} s clip in {timing['run_s']} s (real-time factor {timing['rtf']}), "
        f"peak resident memory {timing['peak_mb']:,} MB"
        + (" (float32)" if int8 or fp16 else ""),
        *(_int8_lines(int8) if int8 else []),
        *(_fp16_lines(fp16) if fp16 else []),
        f"- conversion took {conversion_s:.0f} s; {memory.describe()}",
        "",
        "Its emotion classes are MSP-Podcast's (real podcast speech), unlike the bundled compact model,",
        "which recognises synthetic prosody styles.",
        "",
    ]
    path.write_text("\n".join(lines))


def _int8_lines(int8: dict) -> list[str]:
    done, timing = int8["quantisation"], int8["timing"]
    return [
        f"- int8 (`--int8`, this file): {done['quantised']} of the {done['matmuls']} matrix products with int8 weights per "
        f"output channel, activations quantised at run time (ONNX Runtime's dynamic quantiser, with every weight transpose "
        "folded into its weight); {done['kept_float32']} kept float32 on purpose (SER and SE heads, "
        "routers, small gates), as are the STFT and its inverse",
        _parity_line(int8["parity"], "int8"),
        f"- int8, ONNX Runtime, CPU, {timing['threads']} threads, same machine: load {timing['load_s']} s, "
        f"{timing['clip_s']:.0f} s clip in {timing['run_s']} s (real-time factor {timing['rtf']}), "
        f"peak resident memory {timing['peak_mb']:,} MB",
    ]


def _parity_line(parity: dict, precision: str) -> str:
    return (
        f"- {describe(parity, precision)}; segmental SNR of the enhanced test audio, float32 {parity['ssnr_float_db']} dB, "
        f"{precision} {parity['ssnr_reduced_db']} dB"
    )


def _fp16_lines(fp16: dict) -> list[str]:
    return [
        f"- fp16 (`--fp16`, this file, for CUDA): {', '.join(fp16['half_modules'])} in half precision; float32 islands "
        "(input normalisation, layer aggregation, routers, SER and SE heads, STFT) with casts at their borders",
        _parity_line(fp16["parity"], "fp16") + f" (ONNX Runtime's {fp16['provider']})",
        "- its speed is a GPU's to measure: `scripts/gpu-check.sh MODEL`",
    ]


def _move_model(source: Path, target: Path) -> None:
    """Moves a model (and its external data, whose file name is recorded inside it, so only between
    files of the same name) into place; a target's stale data file goes."""
    data = external_data_path(source)
    if data.exists():
        shutil.move(str(data), external_data_path(target))
    else:
        external_data_path(target).unlink(missing_ok=True)
    shutil.move(str(source), target)


def write_int8(float_path: Path, target: Path, staging: Path, threads: int) -> dict | None:
    """Quantises the float32 model at `float_path` (in `staging`), checks it against float32 and,
    when it passes, moves it to `target`; returns what was done and measured, or None (with the
    reason printed) when nothing was written."""
    int8_path = staging / "int8" / target.name
    try:
        print("quantising the matrix products to int8 ...", flush=True)
        quantisation = quantise_for_cpu(float_path, int8_path)
        print(json.dumps(quantisation))
        checked = parity_with_float32(float_path, int8_path, test_pairs(PARITY_SECONDS), threads=threads)
    except Int8Error as error:
        print(f"error: {error}; nothing written", file=sys.stderr)
        return None
    print(json.dumps(checked, indent=1))
    print(describe(checked, "int8"))
    if not checked["passed"]:
        print("error: the int8 model does not keep the float32 model's outputs; nothing written", file=sys.stderr)
        return None
    int8 = {"quantisation": quantisation, "parity": checked, "timing": time_cpu(int8_path, threads)}
    print(f"ONNX Runtime CPU, int8: {int8['timing']}")
    stamp_metadata(int8_path, {"precision": INT8, "int8": {"quantisation": quantisation, "parity": checked}})
    verify_onnx_contract(int8_path)
    _move_model(int8_path, target)
    return int8


def write_fp16(model, float_path: Path, target: Path, staging: Path, threads: int) -> dict | None:
    """Exports `model` with merit.half_precision's fp16 modules (in `staging`), checks it against
    the float32 export at `float_path` (on CUDA when ONNX Runtime has it, else on the CPU) and, when
    it passes, moves it to `target`; returns what was done and measured, or None (with the reason
    printed) when nothing was written. `model` is left in half precision."""
    import onnx
    import onnxruntime as ort

    fp16_path = staging / "fp16" / target.name
    props = {p.key: p.value for p in onnx.load(str(float_path), load_external_data=False).metadata_props}
    metadata = {**json.loads(props[METADATA_KEY]), "precision": FP16}
    print("exporting the fp16 model ...", flush=True)
    halved = to_half_precision(model)
    export_onnx(model, fp16_path, metadata)
    provider = "CUDAExecutionProvider" if "CUDAExecutionProvider" in ort.get_available_providers() else "CPUExecutionProvider"
    checked = parity_with_float32(float_path, fp16_path, test_pairs(PARITY_SECONDS), threads=threads, providers=[provider])
    print(json.dumps(checked, indent=1))
    print(describe(checked, FP16))
    if not checked["passed"]:
        print("error: the fp16 model does not keep the float32 model's outputs; nothing written", file=sys.stderr)
        return None
    fp16 = {"half_modules": halved, "parity": checked, "provider": provider}
    stamp_metadata(fp16_path, {FP16: fp16})
    verify_onnx_contract(fp16_path)
    _move_model(fp16_path, target)
    return fp16


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True, help="folder holding the downloaded release")
    parser.add_argument("--out", type=Path, required=True, help="the ONNX file to write, e.g. models/sparse-merit-official.onnx")
    parser.add_argument("--classes", help="comma-separated class names in output order, for a fine-tune with other classes")
    parser.add_argument("--card", type=Path, help="model card to write (default: OUT with .md)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads for the timing run")
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument("--int8", action="store_true", help="write the dynamic-int8 CPU model (checked against float32)")
    precision.add_argument("--fp16", action="store_true", help="write the fp16 CUDA model (checked against float32)")
    args = parser.parse_args()
    if args.int8 or args.fp16:
        # The float32 export, its checks and the reduced model are made in a folder beside --out;
        # only a model that passes its checks is moved there.
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=args.out.parent, prefix=".convert-") as staging:
            return convert(args, Path(staging))
    return convert(args, None)


def convert(args: argparse.Namespace, staging: Path | None) -> int:
    started = time.perf_counter()
    target = args.out
    if staging is not None:
        args.out = staging / "float32" / target.name
    classes = tuple(c.strip() for c in args.classes.split(",")) if args.classes else None
    memory = StagePeaks()
    try:
        with memory.stage("build"):
            official = load_official(args.weights.expanduser(), classes)
        for line in official.report.lines():
            print(line)
        model = official.model
        metadata = metadata_for(
            model,
            version="authors-release",
            trained_on=PROVENANCE["trained_on"],
            evaluation={},
            provenance={**PROVENANCE, "files_sha256": official.sha256},
        )
        print(f"exporting {args.out} ...", flush=True)
        with memory.stage("export"):
            export_onnx(model, args.out, metadata)
    except (OfficialCheckpointError, ContractError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    conversion_s = time.perf_counter() - started
    with memory.stage("parity"):
        checks = parity(model, args.out, test_signals(PARITY_SECONDS))
    print(json.dumps(checks, indent=1))
    failed = {name: value for name, value in checks["max_relative_difference"].items() if not value <= PARITY_TOLERANCE}
    timing = time_cpu(args.out, args.threads)
    print(f"ONNX Runtime CPU: {timing}")
    int8 = fp16 = None
    if staging is not None:
        if failed:
            print(f"error: PyTorch and ONNX Runtime differ beyond {PARITY_TOLERANCE}: {failed}; nothing written", file=sys.stderr)
            return 1
        if args.int8:
            with memory.stage("int8"):
                int8 = write_int8(args.out, target, staging, args.threads)
            if int8 is None:
                return 1
        else:
            with memory.stage(FP16):
                fp16 = write_fp16(model, args.out, target, staging, args.threads)
            if fp16 is None:
                return 1
        args.out = target
    print(memory.describe())
    card = args.card or args.out.with_suffix(".md")
    write_card(card, args.out, official, checks, timing, conversion_s, memory, int8, fp16)
    print(f"wrote {args.out} and its card {card}")
    if failed:
        print(f"error: PyTorch and ONNX Runtime differ beyond {PARITY_TOLERANCE}: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
