"""A reduced-precision model (int8 for CPUs, fp16 for CUDA) against its float32 export, both in ONNX
Runtime, on clean/noisy test pairs: the logits' largest error relative to their spread, the cosine of
the pooled utterance embedding (the SER head's input), the segmental SNR of each model's enhanced
audio against the clean signal, and the routers' and utterance labels' top-1 agreement."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from .export import OUTPUT_NAMES, REFERENCE_INPUT, STATISTICS_OUTPUT
from .metrics import segmental_snr
from .weight_folding import TRANSPOSED_SUFFIX

COSINE_MIN = 0.99
SSNR_MAX_DB = 0.3


def _pooled_embedding_names(graph: onnx.GraphProto) -> list[str]:
    """Inputs of the products with the SER classifier's first weight (the utterance's pooled
    embedding and the trajectory's windowed ones)."""
    weight = "model.ser_head.classifier.0.weight"
    transposed = {node.output[0] for node in graph.node if node.op_type == "Transpose" and node.input[0] == weight}
    sources = {weight, weight + TRANSPOSED_SUFFIX} | transposed
    return [node.input[0] for node in graph.node if node.op_type in ("MatMul", "Gemm") and node.input[1] in sources]


def _session_with(path: Path, extra: list[str], threads: int, providers: list[str] | None) -> ort.InferenceSession:
    """A session whose outputs are the contract's plus `extra` tensors (a graph-only copy beside the
    model, so a large model's external data is shared, not copied)."""
    proto = onnx.load(str(path), load_external_data=False)
    for name in extra:
        proto.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    copy = path.with_name(path.stem + ".parity.onnx")
    onnx.save_model(proto, str(copy))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(copy), options, providers=providers or ["CPUExecutionProvider"])
    finally:
        copy.unlink(missing_ok=True)


def _run_all(
    path: Path, noisy: list[np.ndarray], threads: int, providers: list[str] | None, references: list[np.ndarray] | None = None
) -> tuple[list[dict[str, np.ndarray]], list[np.ndarray] | None]:
    """Each model's outputs on `noisy`, and the speaker references fed to a speaker-relative model:
    `references` when given (the other model's, so both see the same inputs), else the population's
    (NaN) on even clips and the previous clip's statistics on odd ones, as ship.parity feeds them."""
    graph = onnx.load(str(path), load_external_data=False).graph
    extra = _pooled_embedding_names(graph)
    session = _session_with(path, extra, threads, providers)
    reference_input = next((i for i in session.get_inputs() if i.name == REFERENCE_INPUT), None)
    relative = reference_input is not None
    names = list(OUTPUT_NAMES) + ([STATISTICS_OUTPUT] if relative else []) + extra
    results, fed = [], []
    for number, clip in enumerate(noisy):
        feeds = {"waveform": clip[None].astype(np.float32)}
        if relative:
            if references is not None:
                feeds[REFERENCE_INPUT] = references[number]
            elif number % 2:
                feeds[REFERENCE_INPUT] = results[-1][STATISTICS_OUTPUT]
            else:
                feeds[REFERENCE_INPUT] = np.full((1, reference_input.shape[1]), np.nan, np.float32)
            fed.append(feeds[REFERENCE_INPUT])
        values = session.run(names, feeds)
        by_name = dict(zip(names, values))
        pooled = [v for v in values[len(names) - len(extra) :] if v.ndim == 2]
        by_name["pooled"] = pooled[0] if pooled else None
        results.append(by_name)
    del session
    gc.collect()
    return results, (fed if relative else None)


def parity_with_float32(
    float_path: Path, candidate_path: Path, pairs: list[tuple[np.ndarray, np.ndarray]], threads: int = 1, providers: list[str] | None = None
) -> dict:
    """A reduced-precision model against the float32 one on (clean, noisy) pairs, both run by
    `providers` (default: the CPU); `passed` is whether the pooled embedding's cosine is at least
    COSINE_MIN and each clip's SSNR within SSNR_MAX_DB."""
    noisy = [n for _, n in pairs]
    reference, fed = _run_all(float_path, noisy, threads, providers)
    reduced, _ = _run_all(candidate_path, noisy, threads, providers, fed)
    logit_error, cosines, ssnr_float, ssnr_reduced, router, label = [], [], [], [], [], []
    for (clean, _), a, b in zip(pairs, reference, reduced, strict=True):
        logits = a["emotion_logits"]
        spread = float(logits.max() - logits.min()) or 1.0
        logit_error.append(float(np.abs(b["emotion_logits"] - logits).max()) / spread)
        label.append(float(b["emotion_logits"].argmax() == logits.argmax()))
        if a["pooled"] is not None and b["pooled"] is not None:
            x, y = a["pooled"].ravel().astype(np.float64), b["pooled"].ravel().astype(np.float64)
            cosines.append(float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-30)))
        ssnr_float.append(segmental_snr(clean, a["enhanced"][0]))
        ssnr_reduced.append(segmental_snr(clean, b["enhanced"][0]))
        for gate in ("ser_gate", "se_gate"):
            router.append(float(np.mean(a[gate].argmax(-1) == b[gate].argmax(-1))))
    ssnr_difference = [abs(q - f) for f, q in zip(ssnr_float, ssnr_reduced)]
    report = {
        "clips": len(pairs),
        "logit_error_vs_spread_max": max(logit_error),
        "pooled_cosine_min": min(cosines) if cosines else None,
        "ssnr_float_db": [round(v, 3) for v in ssnr_float],
        "ssnr_reduced_db": [round(v, 3) for v in ssnr_reduced],
        "ssnr_difference_db_max": max(ssnr_difference),
        "ssnr_difference_db_mean": float(np.mean(ssnr_difference)),
        "router_top1_agreement": float(np.mean(router)),
        "label_top1_agreement": float(np.mean(label)),
    }
    report["passed"] = bool(
        cosines and min(cosines) >= COSINE_MIN and max(ssnr_difference) <= SSNR_MAX_DB and np.isfinite(max(ssnr_difference))
    )
    return report


def describe(report: dict, precision: str, with_targets: bool = True) -> str:
    """One line for the card and the console; `with_targets` names what `passed` needs."""
    cosine_target = f" (needs >= {COSINE_MIN})" if with_targets else ""
    ssnr_target = f" (needs <= {SSNR_MAX_DB})" if with_targets else f", {report['ssnr_difference_db_mean']:.3f} dB on average"
    return (
        f"{precision} vs float32 (ONNX Runtime, {report['clips']} test pairs): largest logit error "
        f"{report['logit_error_vs_spread_max']:.3f} of the logits' spread; pooled-embedding cosine "
        f"{report['pooled_cosine_min']:.4f} at worst{cosine_target}; enhanced audio SSNR within "
        f"{report['ssnr_difference_db_max']:.3f} dB{ssnr_target}; routers' top-1 agreement "
        f"{report['router_top1_agreement']:.4f}; utterance labels' top-1 agreement {report['label_top1_agreement']:.4f}"
    )
