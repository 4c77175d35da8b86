"""Model sizes. One backbone class covers our compact encoder and WavLM Large; only the numbers differ."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from . import CLASSES

# The released checkpoint's output order (the authors' eval.py).
OFFICIAL_CLASSES = ("Angry", "Sad", "Happy", "Neutral")
INPUT_NORMALISATIONS = ("utterance", "dataset")
# What Sparse MERIT's SE head reads beside the noisy spectrum: the output of the expert its router
# chose (the paper's), or that and the aggregated layers the experts read (ours since 2026-12-07: the
# router picks experts by noise-type cues, so on unseen noise the routed output alone misleads the head).
SE_HEAD_INPUTS = ("routed", "routed+layers")


@dataclass
class BackboneConfig:
    # (out_channels, kernel, stride) per convolution of the waveform front end.
    conv_layers: list[tuple[int, int, int]] = field(
        default_factory=lambda: [(128, 10, 5)] + [(128, 3, 2)] * 4 + [(128, 2, 2)] * 2
    )
    # "group": GroupNorm after the first convolution (WavLM Base); "layer": LayerNorm after each (Large).
    conv_norm: str = "group"
    conv_bias: bool = False
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 4
    ffn_size: int = 768
    pos_conv_kernel: int = 32
    pos_conv_groups: int = 4
    # Gated relative position bias (WavLM): T5-style buckets shared by all layers.
    num_buckets: int = 80
    max_distance: int = 200
    layer_norm_first: bool = True
    dropout: float = 0.1
    # WavLM Large keeps its positional convolution weight-normalised; the loader folds g and v into
    # one weight, so this only records the layout (see backbone.PositionalConv).
    pos_conv_weight_norm: bool = False

    @property
    def conv_dim(self) -> int:
        return self.conv_layers[-1][0]

    @property
    def num_hidden_states(self) -> int:
        """CNN-projected input of the first transformer layer plus each layer's output."""
        return self.num_layers + 1

    @property
    def frame_hop_samples(self) -> int:
        hop = 1
        for _, _, stride in self.conv_layers:
            hop *= stride
        return hop

    @property
    def receptive_field_samples(self) -> int:
        field_len, jump = 1, 1
        for _, kernel, stride in self.conv_layers:
            field_len += (kernel - 1) * jump
            jump *= stride
        return field_len


@dataclass
class MeritConfig:
    name: str = "sparse-merit-compact"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    classes: tuple[str, ...] = CLASSES
    # "concat": per-layer LayerNorm, then all hidden states side by side (the paper's default);
    # "weighted_sum": per-layer LayerNorm, then a learned softmax-weighted sum.
    aggregation: str = "concat"
    num_experts: int = 4
    top_k: int = 1
    # "probability": the chosen expert's output times its router probability (trainable routers);
    # "one_hot": the chosen expert's output as is (the authors' released model, for its weights).
    gate: str = "probability"
    expert_hidden: int = 384
    expert_out: int = 192
    ser_hidden: int = 192
    ser_attention_hidden: int = 128
    se_proj: int = 128
    # SE_HEAD_INPUTS; only Sparse MERIT routes (the other variants' heads read the layers anyway).
    se_head_input: str = "routed"
    se_lstm_hidden: int = 128
    n_fft: int = 400
    hop_length: int = 160
    balance_weight: float = 0.01
    se_loss_weight: float = 1.0
    # "utterance": each input z-normalised on its own (our models); "dataset": fixed training-set
    # statistics (input_mean, input_std), as the authors' model was trained; enhancement then runs on
    # the normalised waveform and its output is scaled back.
    input_normalisation: str = "utterance"
    input_mean: float = 0.0
    input_std: float = 1.0
    # With "utterance" normalisation: whether the SE head also sees the normalised waveform, scaled
    # back after (the compact models of corpus v2 up to 2026-12-06; `merit.train --se-input`); with
    # "dataset" statistics it always does.
    se_normalised: bool = False
    # The released attentive pooling has no bias on its score layer and floors the variance at 1e-5.
    pooling_score_bias: bool = True
    pooling_variance_floor: float = 1e-6
    # Added to STFT magnitudes before log1p (the released SE head adds 1e-6; ours adds none).
    se_magnitude_epsilon: float = 0.0
    # The emotion head also sees each frame's pitch from an in-graph tracker (merit.pitch), for a
    # backbone that carries little of it; the authors' model never has it.
    pitch_features: bool = False
    # The pitch path also reads the voiced frames' mean log F0 and its spread (derived from the pooled
    # statistics): the pooled mean of the pitch feature, zero on unvoiced frames, mixes F0 with how
    # much of the clip is voiced, and a linear path cannot divide one by the other.
    voiced_pitch: bool = False
    # Speaker-relative emotion: the classifier sees the pooled statistics minus a speaker reference (the
    # mean statistics of the speaker's other recordings), because the styles are defined against the
    # speaker's own neutral voice; without a reference, the training population's mean stands in.
    speaker_relative: bool = False
    # The share of training batches classified against the population mean instead of their speakers'
    # references, so that a recording without a known speaker is still classified.
    population_reference_share: float = 0.25

    @property
    def frame_hop_s(self) -> float:
        return self.backbone.frame_hop_samples / 16_000

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @staticmethod
    def from_dict(data: dict) -> "MeritConfig":
        data = dict(data)
        backbone = BackboneConfig(**data.pop("backbone"))
        backbone.conv_layers = [tuple(layer) for layer in backbone.conv_layers]
        data["classes"] = tuple(data["classes"])
        return MeritConfig(backbone=backbone, **data)


def compact() -> MeritConfig:
    """The shipped model: trains on 2 CPU cores (a few million parameters). Its SE head hears the raw
    waveform: on corpus v2's dev split the SE-only model gained 2.36 dB segmental SNR so, against
    0.89 dB with the normalised waveform (merit.dev_enhancement; models/README.md)."""
    return MeritConfig()


def tiny() -> MeritConfig:
    """Random-weight model with the same contract, for fast tests."""
    return MeritConfig(
        name="sparse-merit-tiny",
        backbone=BackboneConfig(
            conv_layers=[(32, 10, 5)] + [(32, 3, 2)] * 4 + [(32, 2, 2)] * 2,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            ffn_size=64,
            pos_conv_kernel=8,
            pos_conv_groups=2,
            num_buckets=16,
            max_distance=64,
        ),
        num_experts=3,
        expert_hidden=48,
        expert_out=32,
        ser_hidden=32,
        ser_attention_hidden=16,
        se_proj=32,
        se_lstm_hidden=16,
    )


def wavlm_large() -> MeritConfig:
    """The authors' released layout: WavLM Large (25 hidden states of 1024), 3 experts, top-1 with a
    one-hot gate, their pooling and SE head conventions (merit.official fills in the training-set
    statistics and reads the actual sizes from the checkpoint)."""
    return MeritConfig(
        name="sparse-merit-wavlm-large",
        classes=OFFICIAL_CLASSES,
        backbone=BackboneConfig(
            conv_layers=[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2,
            conv_norm="layer",
            conv_bias=False,
            hidden_size=1024,
            num_layers=24,
            num_heads=16,
            ffn_size=4096,
            pos_conv_kernel=128,
            pos_conv_groups=16,
            num_buckets=320,
            max_distance=800,
            layer_norm_first=True,
            pos_conv_weight_norm=True,
        ),
        num_experts=3,
        gate="one_hot",
        expert_hidden=4096,
        expert_out=1024,
        ser_hidden=1024,
        ser_attention_hidden=1024,
        se_proj=256,
        se_lstm_hidden=256,
        input_normalisation="dataset",
        pooling_score_bias=False,
        pooling_variance_floor=1e-5,
        se_magnitude_epsilon=1e-6,
    )


PRESETS = {"compact": compact, "tiny": tiny, "wavlm-large": wavlm_large}
