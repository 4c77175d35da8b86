"""The authors' released Sparse MERIT checkpoint (WavLM Large backbone), loaded into our model.

The release (Hugging Face: RogerTzeng/Sparse-MERIT; code github.com/RogerTzeng/Sparse-MERIT, MIT)
consists of seven files, saved by the authors' train.py:

    WavLM-Large.pt        {"cfg": WavLM config, "model": the pre-trained WavLM Large weights}
    final_ssl.pt          {"model": the fine-tuned WavLM weights, "optimizer": ...}
    final_mmoe.pt         {"model": layer_norms.N, experts.N.fc1/fc2, gates.{0: SE, 1: SER}.fc}
    final_pool.pt         {"model": attentive statistics pooling: sap_linear, attention}
    final_ser.pt          {"model": EmotionRegression: fc.0.{0: Linear, 1: LayerNorm}, out.0}
    final_se.pt           {"model": BLSTM_multi_no_ws: lstm_enc.{0: Linear, 1.blstm: LSTM, 2: Linear}}
    train_norm_stat.pkl   pickled (mean, std) of the training waveforms

Every tensor is mapped onto one parameter of our MeritModel, and the mapping is checked: each model
parameter gets exactly one tensor of the right shape, and each tensor in the files is used once
(a few that the released forward pass never reads are named in UNUSED and reported as such).
Sizes (layers, experts, hidden sizes, classes) are read from the files, so a reduced-size file set
with the same names goes through the same code (merit.official_fixture writes one).
"""

from __future__ import annotations

import ast
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .backbone import fold_positional_conv
from .config import OFFICIAL_CLASSES, BackboneConfig, MeritConfig, wavlm_large
from .export import sha256_of
from .model import MeritModel
from .stft import ConvStft

# Role -> file name in the release.
RELEASED_FILES = {
    "config": "WavLM-Large.pt",
    "backbone": "final_ssl.pt",
    "moe": "final_mmoe.pt",
    "pooling": "final_pool.pt",
    "ser": "final_ser.pt",
    "se": "final_se.pt",
    "norm": "train_norm_stat.pkl",
}

# Tensors in the release that its forward pass never reads: BLSTM_multi_no_ws builds a weighted sum
# over 25 layers (weights, layer_norm.N) but its forward takes the SE expert output directly.
UNUSED = {"se": ("weights", "layer_norm.")}

# WavLMConfig's defaults (the reference code), for keys a cfg leaves out.
WAVLM_DEFAULTS = {
    "extractor_mode": "default",
    "encoder_layers": 12,
    "encoder_embed_dim": 768,
    "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12,
    "activation_fn": "gelu",
    "layer_norm_first": False,
    "conv_feature_layers": "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2",
    "conv_bias": False,
    "conv_pos": 128,
    "conv_pos_groups": 16,
    "relative_position_embedding": False,
    "num_buckets": 320,
    "max_distance": 1280,
    "gru_rel_pos": False,
}

PROVENANCE = {
    "paper": (
        "J.-T. Tzeng, C.-C. Lee, C. Busso, 'Joint Learning using Mixture-of-Expert-Based Representation "
        "for Speech Enhancement and Robust Emotion Recognition', IEEE/ACM TASLP 34 (2026), arXiv 2509.08470"
    ),
    "code": "https://github.com/RogerTzeng/Sparse-MERIT (MIT licence)",
    "weights": "https://huggingface.co/RogerTzeng/Sparse-MERIT",
    "backbone": "WavLM Large (Microsoft, MIT licence), fine-tuned by the authors",
    "trained_on": "MSP-Podcast 1.11 with added noise (CRSS-4ENGLISH-14, Freesound, DNS Challenge), per the paper",
}


class OfficialCheckpointError(ValueError):
    """The released files are missing, unreadable, or do not fit the released model."""


@dataclass
class LoadReport:
    """What the mapping did: tensors used per file, tensors deliberately left unused."""

    used: dict[str, int] = field(default_factory=dict)
    unused: dict[str, list[str]] = field(default_factory=dict)
    parameters: int = 0

    def lines(self) -> list[str]:
        out = [f"{RELEASED_FILES['config']}: its cfg sets the backbone's sizes (its weights are the pre-trained ones, superseded by final_ssl.pt)"]
        out += [f"{RELEASED_FILES[role]}: {count} tensors used" for role, count in self.used.items()]
        for role, names in self.unused.items():
            out.append(f"{RELEASED_FILES[role]}: {len(names)} tensors unused by the released forward pass ({names[0]}, ...)")
        out.append(f"model: {self.parameters:,} parameters, each filled exactly once")
        return out


@dataclass
class OfficialModel:
    model: MeritModel
    files: dict[str, Path]
    sha256: dict[str, str]
    report: LoadReport


def locate(weights: Path) -> dict[str, Path]:
    """Finds the seven files under `weights` (the download's folder layout may nest them)."""
    if not weights.is_dir():
        raise OfficialCheckpointError(f"{weights}: not a folder; point --weights at the downloaded release")
    found: dict[str, Path] = {}
    missing = []
    for role, name in RELEASED_FILES.items():
        matches = sorted(weights.rglob(name))
        if not matches:
            missing.append(name)
        elif len(matches) > 1:
            listed = ", ".join(str(m) for m in matches)
            raise OfficialCheckpointError(f"{name} is there {len(matches)} times ({listed}); point --weights at one model's folder")
        else:
            found[role] = matches[0]
    if missing:
        raise OfficialCheckpointError(
            f"{weights}: missing {', '.join(missing)}; the release has {', '.join(RELEASED_FILES.values())}"
        )
    return found


def read_checkpoint(path: Path) -> dict:
    """A torch.save file, read without running code in it (weights_only) and memory-mapped."""
    size = path.stat().st_size
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except Exception as error:  # noqa: BLE001 - torch raises many types for damaged files
        raise OfficialCheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({size:,} bytes; cut short or damaged?): {error}"
        ) from error


def state_dict_of(path: Path, checkpoint: object) -> dict[str, torch.Tensor]:
    """The weights in a checkpoint: its "model" entry (train.py saves model + optimizer) or itself."""
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise OfficialCheckpointError(f"{path}: expected a state dict (or {{'model': state dict}}), found something else")
    return state


def read_norm_stats(path: Path) -> tuple[float, float]:
    """(mean, std) of the training waveforms, unpickled with only numpy scalars allowed."""

    class ScalarsOnly(pickle.Unpickler):
        ALLOWED = {
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy", "dtype"),
        }

        def find_class(self, module: str, name: str):
            if (module, name) not in self.ALLOWED:
                raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
            return super().find_class(module, name)

    try:
        with path.open("rb") as file:
            value = ScalarsOnly(file).load()
        mean, std = (float(v) for v in value)
    except Exception as error:  # noqa: BLE001 - pickle errors vary
        raise OfficialCheckpointError(f"{path}: expected a pickled (mean, std) pair: {error}") from error
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        raise OfficialCheckpointError(f"{path}: mean {mean} and std {std} are not usable statistics")
    return mean, std


def conv_layer_spec(text: str) -> list[tuple[int, int, int]]:
    """WavLM's conv_feature_layers string, e.g. "[(512,10,5)] + [(512,3,2)] * 4", evaluated safely."""

    def value(node: ast.AST):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [value(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = value(node.left), value(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(f"unsupported expression {ast.dump(node)}")

    try:
        layers = value(ast.parse(text, mode="eval").body)
        return [(int(c), int(k), int(s)) for c, k, s in layers]
    except (SyntaxError, ValueError, TypeError) as error:
        raise OfficialCheckpointError(f"conv_feature_layers {text!r} is not a list of (channels, kernel, stride)") from error


def backbone_config(cfg: dict) -> BackboneConfig:
    """Our BackboneConfig for a WavLM cfg; refuses WavLM variants our encoder does not implement."""
    cfg = {**WAVLM_DEFAULTS, **cfg}
    unsupported = []
    if not cfg["relative_position_embedding"] or not cfg["gru_rel_pos"]:
        unsupported.append("no gated relative position bias (relative_position_embedding, gru_rel_pos)")
    if cfg["activation_fn"] != "gelu":
        unsupported.append(f"activation {cfg['activation_fn']}")
    if cfg["extractor_mode"] not in ("default", "layer_norm"):
        unsupported.append(f"extractor_mode {cfg['extractor_mode']}")
    if unsupported:
        raise OfficialCheckpointError(f"WavLM config not supported: {'; '.join(unsupported)}")
    return BackboneConfig(
        conv_layers=conv_layer_spec(cfg["conv_feature_layers"]),
        conv_norm="layer" if cfg["extractor_mode"] == "layer_norm" else "group",
        conv_bias=bool(cfg["conv_bias"]),
        hidden_size=int(cfg["encoder_embed_dim"]),
        num_layers=int(cfg["encoder_layers"]),
        num_heads=int(cfg["encoder_attention_heads"]),
        ffn_size=int(cfg["encoder_ffn_embed_dim"]),
        pos_conv_kernel=int(cfg["conv_pos"]),
        pos_conv_groups=int(cfg["conv_pos_groups"]),
        num_buckets=int(cfg["num_buckets"]),
        max_distance=int(cfg["max_distance"]),
        layer_norm_first=bool(cfg["layer_norm_first"]),
        dropout=0.0,
        pos_conv_weight_norm=True,
    )


def _shape(states: dict, role: str, key: str) -> tuple[int, ...]:
    tensor = states[role].get(key)
    if tensor is None:
        raise OfficialCheckpointError(f"{RELEASED_FILES[role]} has no tensor {key!r}: not the released Sparse MERIT file")
    return tuple(tensor.shape)


def merit_config(
    cfg: dict, states: dict[str, dict], norm: tuple[float, float], classes: tuple[str, ...] | None
) -> MeritConfig:
    """The model's sizes, read from the files; checks that the pieces fit each other."""
    backbone = backbone_config(cfg)
    moe_layers = sum(1 for key in states["moe"] if key.startswith("layer_norms.") and key.endswith(".weight"))
    experts, _ = _shape(states, "moe", "gates.0.fc.weight")
    expert_hidden, expert_in = _shape(states, "moe", "experts.0.fc1.weight")
    expert_out, _ = _shape(states, "moe", "experts.0.fc2.weight")
    tasks = sum(1 for key in states["moe"] if key.startswith("gates.") and key.endswith(".fc.weight"))
    attention_hidden, pooled = _shape(states, "pooling", "sap_linear.weight")
    ser_hidden, ser_in = _shape(states, "ser", "fc.0.0.weight")
    class_count, _ = _shape(states, "ser", "out.0.weight")
    se_proj, se_in = _shape(states, "se", "lstm_enc.0.weight")
    se_gates, se_lstm_hidden = _shape(states, "se", "lstm_enc.1.blstm.weight_hh_l0")
    bins = wavlm_large().n_fft // 2 + 1
    problems = []
    if moe_layers != backbone.num_hidden_states:
        problems.append(f"the MoE normalises {moe_layers} layers, WavLM gives {backbone.num_hidden_states} hidden states")
    if expert_in != backbone.hidden_size * moe_layers:
        problems.append(
            f"experts take {expert_in} inputs, not {moe_layers} x {backbone.hidden_size} concatenated layers "
            "(a weighted-sum MoE is not the released model)"
        )
    if tasks != 2:
        problems.append(f"{tasks} routers, the release has 2 (SE, SER)")
    if pooled != expert_out or ser_in != 2 * expert_out:
        problems.append(f"the SER pooling takes {pooled} and its head {ser_in} features; the experts give {expert_out}")
    if se_in != bins + expert_out or se_gates != 4 * se_lstm_hidden:
        problems.append(f"the SE head takes {se_in} inputs, expected {bins} STFT bins + {expert_out} expert features")
    if any(key.startswith("fc.1.") for key in states["ser"]):
        problems.append("the SER head has more than one hidden layer; the released one has one")
    if problems:
        raise OfficialCheckpointError("the files do not fit together: " + "; ".join(problems))
    if classes is None:
        if class_count != len(OFFICIAL_CLASSES):
            raise OfficialCheckpointError(
                f"final_ser.pt predicts {class_count} classes; the released model has {len(OFFICIAL_CLASSES)} "
                f"({', '.join(OFFICIAL_CLASSES)}). For your own fine-tune, name its {class_count} classes in "
                "output order with --classes"
            )
        classes = OFFICIAL_CLASSES
    elif len(classes) != class_count:
        raise OfficialCheckpointError(f"--classes names {len(classes)} classes, final_ser.pt predicts {class_count}")
    config = wavlm_large()
    config.name = "sparse-merit-official"
    config.backbone = backbone
    config.classes = tuple(classes)
    config.num_experts = experts
    config.top_k = 1
    config.expert_hidden = expert_hidden
    config.expert_out = expert_out
    config.ser_hidden = ser_hidden
    config.ser_attention_hidden = attention_hidden
    config.se_proj = se_proj
    config.se_lstm_hidden = se_lstm_hidden
    config.input_mean, config.input_std = norm
    return config


# Released name prefix -> ours, per file ("" renames every key of the file).
RENAMES = {
    "backbone": (("", "backbone."),),
    "moe": (("layer_norms.", "aggregator.layer_norms."), ("experts.", "moe.experts."), ("gates.", "moe.gates.")),
    "pooling": (("sap_linear.", "ser_head.pooling.attention.0."), ("attention", "ser_head.pooling.attention.2.weight")),
    "ser": (("fc.0.0.", "ser_head.classifier.0."), ("fc.0.1.", "ser_head.classifier.1."), ("out.0.", "ser_head.classifier.4.")),
    "se": (("lstm_enc.0.", "se_head.input."), ("lstm_enc.1.blstm.", "se_head.blstm."), ("lstm_enc.2.", "se_head.output.")),
}


def _translate(role: str, key: str, tensor: torch.Tensor, bins: int) -> tuple[str, torch.Tensor] | None:
    """Our parameter name (and the tensor, rearranged where the layouts differ) for one released
    tensor; None when no rule covers it."""
    name = next((ours + key[len(theirs) :] for theirs, ours in RENAMES[role] if key.startswith(theirs)), None)
    if name is None:
        return None
    if role == "pooling" and key == "attention":
        # A (hidden, 1) parameter applied as h @ attention: the weight of a bias-free Linear.
        tensor = tensor.t()
    elif role == "se" and key == "lstm_enc.0.weight":
        # The released head joins [noisy log1p magnitude, features]; ours [features, magnitude].
        tensor = torch.cat([tensor[:, bins:], tensor[:, :bins]], dim=1)
    return name, tensor


def map_state(model: MeritModel, states: dict[str, dict]) -> tuple[dict[str, torch.Tensor], LoadReport]:
    """Our state dict from the released tensors, with the exactly-once and shape checks."""
    bins = model.stft.bins
    expected = model.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    report = LoadReport()
    problems: list[str] = []
    for role, state in states.items():
        keys = dict(state)
        if role == "backbone":
            fold_positional_conv(keys, "encoder.pos_conv.")  # g and v: one weight, counted as used
        unused_prefixes = UNUSED.get(role)
        unused = [key for key in keys if unused_prefixes and key.startswith(unused_prefixes)]
        strangers = []
        for key, tensor in keys.items():
            if key in unused:
                continue
            translated = _translate(role, key, tensor, bins)
            if translated is None or translated[0] not in expected:
                strangers.append(key)
                continue
            name, value = translated
            value = value.float()  # a no-op for float32 files; the model computes in float32
            if name in mapped:
                problems.append(f"{name} would be filled twice ({RELEASED_FILES[role]}: {key})")
            elif tuple(value.shape) != tuple(expected[name].shape):
                problems.append(
                    f"{RELEASED_FILES[role]}: {key} has shape {tuple(value.shape)}, the model needs {tuple(expected[name].shape)}"
                )
            mapped[name] = value
        if strangers:
            problems.append(f"{RELEASED_FILES[role]} holds tensors the released model does not have: {', '.join(strangers[:5])}")
        report.used[role] = len(state) - len(unused) - len(strangers)
        if unused:
            report.unused[role] = unused
    missing = [name for name in expected if name not in mapped]
    if missing:
        problems.append(f"no tensor for {len(missing)} parameters, e.g. {', '.join(missing[:5])}")
    if problems:
        raise OfficialCheckpointError("the checkpoint does not match the released Sparse MERIT: " + "; ".join(problems))
    report.parameters = sum(t.numel() for t in expected.values())
    return mapped, report


def load_official(weights: Path, classes: tuple[str, ...] | None = None) -> OfficialModel:
    """Builds our MeritModel from the release under `weights` and fills it; eval mode."""
    files = locate(weights)
    norm = read_norm_stats(files["norm"])
    config_checkpoint = read_checkpoint(files["config"])
    cfg = config_checkpoint.get("cfg") if isinstance(config_checkpoint, dict) else None
    if not isinstance(cfg, dict):
        raise OfficialCheckpointError(f"{files['config']}: no 'cfg' entry; expected the WavLM-Large.pt checkpoint")
    states = {role: state_dict_of(files[role], read_checkpoint(files[role])) for role in ("backbone", "moe", "pooling", "ser", "se")}
    config = merit_config(cfg, states, norm, classes)
    # Built without memory of its own (meta device), then given the released tensors themselves
    # (memory-mapped from the files): the weights are never held twice.
    with torch.device("meta"):
        model = MeritModel(config)
    mapped, report = map_state(model, states)
    model.load_state_dict(mapped, strict=True, assign=True)
    model.stft = ConvStft(config.n_fft, config.hop_length)  # computed constants, not weights
    sha256 = {files[role].name: sha256_of(files[role]) for role in RELEASED_FILES}
    return OfficialModel(model.eval(), files, sha256, report)
