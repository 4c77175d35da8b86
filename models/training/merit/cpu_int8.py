"""Dynamic int8 for CPUs: the matrix products of an exported model with 8-bit weights (one scale per
output channel) and activations quantised on the fly, by ONNX Runtime's quantiser.

The exporter hands every Linear weight to its MatMul through a Transpose node, and the quantiser only
quantises a MatMul whose weight is an initializer, so the transposes are folded first
(`merit.weight_folding`: the transposed weight becomes the initializer; a large model's export has
them folded already). What stays float32: the
STFT and inverse STFT (convolutions, never touched), the SER head (attentive pooling and classifier),
the SE head (its BLSTM and mask), and the routers (a small change there can flip the chosen expert).
What is quantised: the backbone's projections and feed-forward layers and the experts, i.e. nearly all
of the weights.

`merit.precision_parity` compares the int8 model with the float32 one. On random weights (the authors'
model's stand-in) label flips mean nothing, so the same recipe is checked on a trained model, the
compact one, over a corpus's test recordings. For a model of one file, such as the compact one, the
int8 model is its **CPU variant** (`write_cpu_variant`): written beside it as `X.cpu-int8.onnx` (the
weights that stay float32 stored as int8 plus scales again, as the exporter stores them), its card
naming the float model's blake3, which the studio checks before running it on the CPU in that
model's place; written only when its utterance labels agree with float32's on at least
LABEL_AGREEMENT_MIN of the recordings (the other parity figures are reported: a speaker-relative
model's classifier reads a difference from the speaker's reference, whose cosine moves more than
an embedding's). merit.ship writes the shipped model's; by hand:

    .venv/bin/python -m merit.cpu_int8 ../sparse-merit-compact.onnx --corpus work/corpus/manifest.jsonl \
        --family real [--out M]          (default: ../sparse-merit-compact.cpu-int8.onnx)
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
from pathlib import Path

import numpy as np
import onnx

from .export import external_data_path, stamp_metadata, verify_onnx_contract
from .precision_parity import describe, parity_with_float32
from .quantize import pack_int8_weights, unpack_int8_weights
from .weight_folding import FoldError, fold_weight_transposes

PRECISION = "int8"
# Parameters (by ONNX initializer name) whose matrix products stay float32; the pitch path's
# autocorrelation basis is signal processing, not a learned weight, like the STFT's.
FLOAT_PREFIXES = ("model.ser_head.", "model.se_head.", "model.moe.gates.", "model.pitch.")
# A CPU variant must give the float model's utterance label on at least this share of recordings.
LABEL_AGREEMENT_MIN = 0.98
# Smaller weights stay float: a per-head gate (grep_linear) gains nothing from int8.
MIN_QUANTISED_ELEMENTS = 4096


class Int8Error(ValueError):
    """The model could not be quantised (the op that failed is named), or failed its parity check."""


def matmuls_to_quantise(graph: onnx.GraphProto, min_elements: int = MIN_QUANTISED_ELEMENTS) -> tuple[list[str], list[str]]:
    """(names of the MatMul/Gemm nodes to quantise, names of those kept float32 on purpose)."""
    initializers = {init.name: init for init in graph.initializer}
    chosen, kept = [], []
    for node in graph.node:
        if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2 or node.input[1] not in initializers:
            continue
        weight = node.input[1]
        if weight.startswith(FLOAT_PREFIXES) or int(np.prod(initializers[weight].dims)) < min_elements:
            kept.append(node.name)
        else:
            chosen.append(node.name)
    return chosen, kept


def quantise_for_cpu(float_path: Path, out: Path, min_elements: int = MIN_QUANTISED_ELEMENTS) -> dict:
    """Writes the dynamic-int8 model of `float_path` at `out` (weights over 2 GB in `<out>.data`).
    Returns what was done: transposes folded, MatMuls quantised and kept float32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    external = external_data_path(float_path).exists()
    proto = onnx.load(str(float_path))
    # A model whose training rounded its weights stores them as int8 + scales; the quantiser needs
    # them as initializers (its own per-channel int8 gives the same integers back).
    unpacked = unpack_int8_weights(proto)
    try:
        folded = fold_weight_transposes(proto.graph)
    except FoldError as error:
        raise Int8Error(str(error)) from error
    chosen, kept = matmuls_to_quantise(proto.graph, min_elements)
    total = sum(1 for node in proto.graph.node if node.op_type in ("MatMul", "Gemm"))
    out.parent.mkdir(parents=True, exist_ok=True)
    folded_path = out.with_name(out.stem + ".folded.onnx")
    if external:
        onnx.save_model(proto, str(folded_path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=folded_path.name + ".data", size_threshold=1024)
    else:
        onnx.save_model(proto, str(folded_path))
    names = [node.name for node in proto.graph.node]
    gemm_chosen = any(node.op_type == "Gemm" and node.name in set(chosen) for node in proto.graph.node)
    del proto
    gc.collect()
    # Everything else is excluded by name; the quantiser rewrites a Gemm into "<name>_MatMul" first.
    excluded = [name for name in names if name not in set(chosen)]
    excluded += [name + "_MatMul" for name in excluded]
    logging.getLogger("root").setLevel(logging.WARNING)  # the quantiser logs every node it skips
    try:
        quantize_dynamic(
            folded_path,
            out,
            op_types_to_quantize=["MatMul", "Gemm"] if gemm_chosen else ["MatMul"],
            nodes_to_exclude=excluded,
            per_channel=True,
            weight_type=QuantType.QInt8,
            use_external_data_format=external,
            extra_options={"MatMulConstBOnly": True},
        )
    except Exception as error:  # noqa: BLE001 - the quantiser raises many types; name what failed
        raise Int8Error(f"ONNX Runtime's quantiser refused {float_path.name}: {type(error).__name__}: {error}") from error
    finally:
        folded_path.unlink(missing_ok=True)
        external_data_path(folded_path).unlink(missing_ok=True)
    quantised = onnx.load(str(out), load_external_data=False)
    integer = sum(1 for node in quantised.graph.node if node.op_type in ("MatMulInteger", "DynamicQuantizeMatMul"))
    if integer != len(chosen):
        raise Int8Error(f"the quantiser quantised {integer} of the {len(chosen)} matrix products chosen")
    repacked = 0
    if not external:
        # The weights left float32 were rounded to int8 in training: stored so again, the file
        # stays about the float model's size.
        repacked = pack_int8_weights(quantised)
        onnx.save_model(quantised, str(out))
    return {
        "int8_weights_unpacked": unpacked,
        "transposes_folded": folded,
        "matmuls": total,
        "quantised": integer,
        "kept_float32": len(kept),
        "float32_weights_repacked": repacked,
    }


def variant_path(float_path: Path) -> Path:
    """Where the studio looks for a model's CPU variant: `X.cpu-int8.onnx` beside `X.onnx`."""
    return float_path.with_name(float_path.stem + ".cpu-int8.onnx")


def blake3_of(path: Path) -> str:
    """The digest the studio gives a model of one file (its analysis cache's key)."""
    from blake3 import blake3

    return blake3(path.read_bytes()).hexdigest()


def write_cpu_variant(float_path: Path, pairs: list[tuple[np.ndarray, np.ndarray]], threads: int, out: Path | None = None) -> dict:
    """Quantises the one-file model at `float_path` into its CPU variant (at `out`, by default
    `variant_path`), checks it against float32 on the (clean, noisy) `pairs` and writes it only when
    the labels agree on at least LABEL_AGREEMENT_MIN of them (else Int8Error, nothing written).
    Returns the quantisation and the parity."""
    if external_data_path(float_path).exists():
        raise Int8Error(f"{float_path.name} keeps its weights in a .data file: convert_official.py --int8 writes such a model's int8 form")
    target = out or variant_path(float_path)
    staging = target.with_name(target.stem + ".staging.onnx")
    try:
        done = quantise_for_cpu(float_path, staging)
        report = parity_with_float32(float_path, staging, pairs, threads)
        if report["label_top1_agreement"] < LABEL_AGREEMENT_MIN:
            raise Int8Error(
                f"the int8 model's labels agree with the float model's on {report['label_top1_agreement']:.4f} of "
                f"{report['clips']} recordings, needs >= {LABEL_AGREEMENT_MIN}; nothing written"
            )
        summary = {k: v for k, v in report.items() if k not in ("ssnr_float_db", "ssnr_reduced_db", "passed")}
        stamp_metadata(
            staging, {"precision": PRECISION, "cpu_variant_of": blake3_of(float_path), "int8": {"quantisation": done, "parity": summary}}
        )
        verify_onnx_contract(staging)
        staging.replace(target)
    finally:
        staging.unlink(missing_ok=True)
    return {**done, **report}


def corpus_test_pairs(manifest: Path, family: str | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(clean, noisy) audio of a corpus's test recordings, of one voice family or of all."""
    # Only corpus users read audio (merit.data brings torch, which the converter's uses do not need).
    from .data import read_audio, read_manifest

    rows = [r for r in read_manifest(manifest) if r["split"] == "test" and family in (None, r.get("family"))]
    return [(read_audio(manifest.parent / r["clean_path"]), read_audio(manifest.parent / r["path"])) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="the float32 (or int8-weight) ONNX model, one file")
    parser.add_argument("--corpus", type=Path, required=True, help="manifest.jsonl whose test recordings are compared")
    parser.add_argument("--family", help="only this voice family's test recordings (e.g. real)")
    parser.add_argument("--out", type=Path, help="where the CPU variant is written (default: X.cpu-int8.onnx beside the model)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    pairs = corpus_test_pairs(args.corpus, args.family)
    if not pairs:
        raise SystemExit(f"{args.corpus}: no test recordings" + (f" of the family {args.family!r}" if args.family else ""))
    try:
        report = write_cpu_variant(args.model, pairs, args.threads, args.out)
    except Int8Error as error:
        raise SystemExit(f"error: {error}") from error
    print(json.dumps({k: v for k, v in report.items() if k != "passed" and (not k.startswith("ssnr_") or k.startswith("ssnr_difference"))}))
    print(describe(report, PRECISION, with_targets=False))
    print(f"wrote {args.out or variant_path(args.model)}")


if __name__ == "__main__":
    main()
