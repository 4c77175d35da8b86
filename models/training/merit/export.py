"""ONNX export with the contract the studio relies on, and the check that refuses a model breaking it.

Contract:
  input  waveform        float32 [batch, samples]   16 kHz mono, any length from 0.5 s
  output emotion_logits  float32 [batch, classes]
  output enhanced        float32 [batch, samples]   same length as the input
  output ser_gate        float32 [batch, frames, experts]  router probabilities before top-k
  output se_gate         float32 [batch, frames, experts]
  output emotion_trajectory float32 [batch, frames, classes]  logits of the trajectory window starting
                          at each frame (cut at the end): a whole trajectory from one pass
  metadata_props["merit"] JSON: sample_rate, classes, frame_hop_s, n_experts, top_k, model, version,
                          trajectory_window_s, trained_on, evaluation, config, speaker_relative

A speaker-relative model (MeritConfig.speaker_relative) classifies its pooled statistics against a
speaker reference, so it has one more input and one more output:
  input  speaker_reference  float32 [batch, statistics]  the mean emotion_statistics of the speaker's
                          other recordings; NaN values take the population reference stored in the model
  output emotion_statistics float32 [batch, statistics]  the pooled statistics the head classified
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import onnx
import torch
from torch import nn

from . import SAMPLE_RATE
from .config import MeritConfig
from .data import CorpusError
from .heads import GENDERS
from .model import MeritModel
from .optimize import optimize_graph
from .quantize import float_initializers, pack_int8_weights
from .weight_folding import fold_external_weight_transposes

INPUT_NAME = "waveform"
OUTPUT_NAMES = ("emotion_logits", "enhanced", "ser_gate", "se_gate", "emotion_trajectory")
REFERENCE_INPUT = "speaker_reference"
STATISTICS_OUTPUT = "emotion_statistics"
RANKS = {INPUT_NAME: 2, REFERENCE_INPUT: 2, STATISTICS_OUTPUT: 2, "emotion_logits": 2, "enhanced": 2, "ser_gate": 3, "se_gate": 3, "emotion_trajectory": 3}
TRAJECTORY_WINDOW_S = 3.0
# Attention scores beyond this bound could make a window's box-summed softmax weights underflow; such
# models get the banded trajectory (see AttentiveStatsPooling.windowed).
MAX_SCORE_BOUND = 80.0
# Past this many bytes of weights the protobuf limit (2 GiB) is near: the weights go to one
# external data file, `<model>.onnx.data`, beside the model.
EXTERNAL_DATA_BYTES = 1_500_000_000
MIN_SAMPLES = SAMPLE_RATE // 2
METADATA_KEY = "merit"
# Parameters the inference graph never uses (pre-training only), so no ONNX file carries them.
UNUSED_AT_INFERENCE = ("backbone.mask_emb", "backbone.encoder.layer_norm.")
REQUIRED_METADATA = (
    "sample_rate",
    "classes",
    "frame_hop_s",
    "n_experts",
    "top_k",
    "model",
    "version",
    "trajectory_window_s",
)


class ContractError(ValueError):
    """The model or its ONNX file does not follow the studio's contract."""


def contract_names(speaker_relative: bool) -> tuple[list[str], list[str]]:
    """The contract's input and output names for a model that is (or is not) speaker-relative."""
    if speaker_relative:
        return [INPUT_NAME, REFERENCE_INPUT], [*OUTPUT_NAMES, STATISTICS_OUTPUT]
    return [INPUT_NAME], list(OUTPUT_NAMES)


class ContractWrapper(nn.Module):
    """Maps MeritModel's outputs onto the contract's named outputs (and a speaker-relative model's
    reference input, NaN meaning the population's, onto its head)."""

    def __init__(self, model: MeritModel, trajectory_window_s: float = TRAJECTORY_WINDOW_S):
        super().__init__()
        if model.variant != "sparse_merit":
            raise ContractError(f"only the sparse_merit variant has routers to export, not {model.variant!r}")
        # Box sums are exact while the attention scores cannot underflow; past that bound each window's
        # softmax is computed on its own (AttentiveStatsPooling.windowed).
        self.banded_trajectory = model.ser_head.pooling.score_bound() > MAX_SCORE_BOUND
        self.model = model
        self.trajectory_window = model.trajectory_window_frames(trajectory_window_s)
        self.speaker_relative = model.config.speaker_relative

    def forward(self, waveform: torch.Tensor, speaker_reference: torch.Tensor | None = None):
        if speaker_reference is not None:
            population = self.model.ser_head.population_reference.expand_as(speaker_reference)
            speaker_reference = torch.where(torch.isnan(speaker_reference), population, speaker_reference)
        out = self.model(
            waveform,
            trajectory_window=self.trajectory_window,
            banded_trajectory=self.banded_trajectory,
            speaker_reference=speaker_reference,
        )
        outputs = (out.emotion_logits, out.enhanced, out.ser_probs, out.se_probs, out.emotion_trajectory)
        return (*outputs, out.emotion_statistics) if self.speaker_relative else outputs


def statistics_size(model: MeritModel) -> int:
    """Width of a speaker-relative model's speaker reference and emotion statistics."""
    return model.ser_head.population_reference.numel()


def metadata_for(model: MeritModel, version: str, trained_on: str, evaluation: dict | None = None, **extra) -> dict:
    config = model.config
    return {
        "sample_rate": SAMPLE_RATE,
        "classes": list(config.classes),
        "frame_hop_s": config.frame_hop_s,
        "n_experts": config.num_experts,
        "top_k": config.top_k,
        "model": config.name,
        "version": version,
        "trajectory_window_s": TRAJECTORY_WINDOW_S,
        "trained_on": trained_on,
        "evaluation": evaluation or {},
        "config": json.loads(config.to_json()),
        "speaker_relative": config.speaker_relative,
        **gender_metadata(model),
        **extra,
    }


def gender_metadata(model: MeritModel) -> dict:
    """A speaker-relative head's fitted gender references (EmotionHead.gender_references), which the
    studio feeds as `speaker_reference` to a recording of known gender without one of its speaker."""
    if not model.config.speaker_relative:
        return {}
    fitted = model.ser_head.fitted_gender_references()
    return {"gender_references": fitted} if fitted else {}


def check_model_contract(model: MeritModel, samples: int = SAMPLE_RATE) -> None:
    """Runs the PyTorch model once and checks output shapes against the contract."""
    wrapper = ContractWrapper(model).eval()
    with torch.no_grad():
        outputs = wrapper(torch.zeros(2, samples))
    frames = model.frame_count(samples)
    classes = len(model.config.classes)
    expected = {
        "emotion_logits": (2, classes),
        "enhanced": (2, samples),
        "ser_gate": (2, frames, model.config.num_experts),
        "se_gate": (2, frames, model.config.num_experts),
        "emotion_trajectory": (2, frames, classes),
    }
    if model.config.speaker_relative:
        expected[STATISTICS_OUTPUT] = (2, statistics_size(model))
    for name, tensor in zip(contract_names(model.config.speaker_relative)[1], outputs, strict=True):
        if tuple(tensor.shape) != expected[name]:
            raise ContractError(f"output {name} has shape {tuple(tensor.shape)}, the contract needs {expected[name]}")


def export_onnx(model: MeritModel, path: Path, metadata: dict) -> Path:
    """Exports with dynamic batch and length (opset 18), embeds the metadata, verifies the file."""
    check_model_contract(model)
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ContractError(f"metadata lacks {missing}")
    if list(metadata["classes"]) != list(model.config.classes):
        raise ContractError(f"metadata classes {metadata['classes']} differ from the model's {model.config.classes}")
    if bool(metadata.get("speaker_relative")) != model.config.speaker_relative:
        raise ContractError(f"metadata speaker_relative {metadata.get('speaker_relative')} differs from the model's")
    wrapper = ContractWrapper(model).eval()
    # Batch 2 in the example: dynamo would specialise a batch of 1 to a constant.
    example = (torch.randn(2, 2 * SAMPLE_RATE) * 0.1,)
    batch = torch.export.Dim("batch", min=1, max=1024)
    samples = torch.export.Dim("samples", min=MIN_SAMPLES, max=SAMPLE_RATE * 3600)
    dynamic_shapes = {"waveform": {0: batch, 1: samples}}
    if model.config.speaker_relative:
        # One row with a reference and one without, so both branches of the NaN test are traced.
        reference = torch.randn(2, statistics_size(model))
        reference[1] = float("nan")
        example += (reference,)
        dynamic_shapes[REFERENCE_INPUT] = {0: batch}
    input_names, output_names = contract_names(model.config.speaker_relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    program = torch.onnx.export(
        wrapper,
        example,
        dynamo=True,
        input_names=input_names,
        output_names=output_names,
        dynamic_shapes=dynamic_shapes,
        opset_version=18,
        # Unoptimised: initializers keep the PyTorch parameter names (so merit.finetune can load the
        # weights back); ONNX Runtime does its own graph optimisation when it loads the model.
        optimize=False,
        verbose=False,
    )
    program.model.metadata_props.clear()
    program.model.metadata_props[METADATA_KEY] = json.dumps(metadata, sort_keys=True)
    program.model.producer_name = "merit-studio model pipeline"
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    # Written under a temporary folder beside the target, then moved: the external data file's name is
    # recorded inside the model, so both are written with their final names.
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as staging:
        staged = Path(staging) / path.name
        external = weight_bytes > EXTERNAL_DATA_BYTES
        program.save(staged, external_data=external)
        # The weights of a large model stay in its external data file, untouched: only the graph is
        # rewritten, and the file's references to the data stay valid.
        proto = onnx.load(str(staged), load_external_data=False)
        data = staged.with_name(staged.name + ".data")
        folded = 0
        if external:
            # Folded here rather than by ONNX Runtime at every load, which holds both copies while
            # it folds (merit.weight_folding).
            folded = fold_external_weight_transposes(proto.graph, data)
        else:
            # Stored compactly: int8 weights where training rounded them (merit.quantize).
            pack_int8_weights(proto)
        # Without the exporter's per-node debugging records (source stack traces: 2 MB for the
        # compact model), and with the element-wise chains ONNX Runtime would not fuse rewritten
        # (merit.optimize; parameter names kept, so merit.finetune reads the weights back).
        for node in proto.graph.node:
            del node.metadata_props[:]
            node.doc_string = ""
        rewrites = optimize_graph(proto)
        props = {p.key: p.value for p in proto.metadata_props}
        stored = json.loads(props[METADATA_KEY])
        stored["graph_rewrites"] = {k: v for k, v in rewrites.items() if k != "dead_nodes"}
        if folded:
            stored["graph_rewrites"]["weight_transposes"] = folded
        _set_metadata(proto, stored)
        onnx.save(proto, str(staged))
        if data.exists():
            data.replace(external_data_path(path))
        else:
            external_data_path(path).unlink(missing_ok=True)
        staged.replace(path)
    verify_onnx_contract(path)
    return path


def stamp_metadata(path: Path, updates: dict) -> None:
    """Adds `updates` to the model's `merit` metadata (the graph file alone is rewritten; external
    weights stay where they are)."""
    proto = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    _set_metadata(proto, {**json.loads(props[METADATA_KEY]), **updates})
    onnx.save_model(proto, str(path))


def _set_metadata(proto: onnx.ModelProto, metadata: dict) -> None:
    kept = [p for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata, sort_keys=True)


def external_data_path(path: Path) -> Path:
    """Where a large model's weights live: `<model>.onnx.data` beside it (the studio looks there)."""
    return path.with_name(path.name + ".data")


def sha256_of(*paths: Path) -> str:
    """SHA-256 of the files' bytes, one after the other, streamed."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as file:
            while chunk := file.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()


def model_sha256(path: Path) -> str:
    """SHA-256 of a model: the ONNX file, then its external data file if it has one."""
    data = external_data_path(path)
    return sha256_of(path, data) if data.exists() else sha256_of(path)


def verify_onnx_contract(path: Path) -> dict:
    """Checks an ONNX file's names, ranks, dtypes and metadata; returns the metadata."""
    proto = onnx.load(str(path), load_external_data=False)
    # The path form also checks models whose weights live in an external data file.
    onnx.checker.check_model(str(path))
    graph = proto.graph
    float_type = onnx.TensorProto.FLOAT
    props = {p.key: p.value for p in proto.metadata_props}
    if METADATA_KEY not in props:
        raise ContractError(f"{path}: no '{METADATA_KEY}' metadata")
    metadata = json.loads(props[METADATA_KEY])
    input_names, output_names = contract_names(bool(metadata.get("speaker_relative")))
    inputs = [i for i in graph.input if i.name not in {init.name for init in graph.initializer}]
    if [i.name for i in inputs] != input_names:
        raise ContractError(f"{path}: inputs are {[i.name for i in inputs]}, the contract needs {input_names}")
    outputs = [o.name for o in graph.output]
    if outputs != output_names:
        raise ContractError(f"{path}: outputs are {outputs}, the contract needs {output_names}")
    for value in list(inputs) + list(graph.output):
        tensor = value.type.tensor_type
        if tensor.elem_type != float_type:
            raise ContractError(f"{path}: {value.name} is not float32")
        if len(tensor.shape.dim) != RANKS[value.name]:
            raise ContractError(f"{path}: {value.name} has rank {len(tensor.shape.dim)}, needs {RANKS[value.name]}")
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ContractError(f"{path}: metadata lacks {missing}")
    classes = graph.output[0].type.tensor_type.shape.dim[1]
    if classes.HasField("dim_value") and classes.dim_value != len(metadata["classes"]):
        raise ContractError(f"{path}: emotion_logits has {classes.dim_value} classes, metadata names {len(metadata['classes'])}")
    return metadata


def load_onnx_model(path: Path) -> tuple[MeritModel, dict, str]:
    """The PyTorch model behind an ONNX file of our contract, its metadata, and its SHA-256."""
    metadata = verify_onnx_contract(path)
    if "config" not in metadata:
        raise CorpusError(f"{path}: the metadata has no model config; only models exported by merit.export can be read back")
    weights = float_initializers(onnx.load(str(path)))
    model = MeritModel(MeritConfig.from_dict(metadata["config"]))
    state = model.state_dict()
    missing = []
    for name, tensor in state.items():
        array = weights.get(f"model.{name}")
        if array is None:
            if not name.startswith(UNUSED_AT_INFERENCE):
                missing.append(name)
            continue
        if tuple(array.shape) != tuple(tensor.shape):
            raise CorpusError(f"{path}: {name} has shape {array.shape}, the model needs {tuple(tensor.shape)}")
        state[name] = torch.from_numpy(array.copy())
    if model.config.speaker_relative:
        gender_references = model.ser_head.gender_references
        for gender, values in (metadata.get("gender_references") or {}).items():
            if gender not in GENDERS or len(values) != gender_references.shape[1]:
                raise CorpusError(f"{path}: gender_references[{gender!r}] does not fit the model ({len(values)} values)")
            state["ser_head.gender_references"][GENDERS.index(gender)] = torch.tensor(values)
        missing = [name for name in missing if name != "ser_head.gender_references"]
    if missing:
        raise CorpusError(
            f"{path}: {len(missing)} parameters are not in the file (e.g. {missing[:3]}); "
            "was it exported with graph optimisation, or by another tool?"
        )
    model.load_state_dict(state)
    digest = model_sha256(path)
    return model.eval(), metadata, digest
