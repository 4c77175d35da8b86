"""Sparse MERIT and the baselines built from the same parts.

variant "sparse_merit": backbone -> per-layer LayerNorm + concat -> shared experts, SE and SER routers
variant "mtl":          backbone -> weighted sum -> both heads on the same features (naive multi-task)
variant "se_only":      backbone -> weighted sum -> enhancement head (for the SE pre-processing baseline)
variant "ser_only":     backbone -> weighted sum -> emotion head (SER on enhanced or clean speech)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import SAMPLE_RATE
from .backbone import WavLMBackbone
from .config import INPUT_NORMALISATIONS, SE_HEAD_INPUTS, MeritConfig
from .heads import EmotionHead, EnhancementHead, leave_one_out_reference
from .moe import LayerAggregator, MixtureOfExperts, load_balance_loss
from .pitch import PITCH_FEATURES, AutocorrelationPitch
from .stft import ConvStft

VARIANTS = ("sparse_merit", "mtl", "se_only", "ser_only")


@dataclass
class MeritOutput:
    emotion_logits: torch.Tensor | None  # (batch, classes)
    enhanced: torch.Tensor | None  # (batch, samples)
    enhanced_log_magnitude: torch.Tensor | None  # (batch, stft frames, bins)
    se_probs: torch.Tensor | None  # (batch, frames, experts)
    ser_probs: torch.Tensor | None
    se_chosen: torch.Tensor | None
    ser_chosen: torch.Tensor | None
    balance_loss: torch.Tensor
    # (batch, frames, classes): logits of the window starting at each frame, when asked for.
    emotion_trajectory: torch.Tensor | None = None
    # (offset, scale) of the input normalisation, each (batch, 1): the SE target is put on this scale.
    input_affine: tuple[torch.Tensor, torch.Tensor] | None = None
    # (batch, 2 * features): the emotion head's pooled statistics, what speaker references average.
    emotion_statistics: torch.Tensor | None = None


# The authors divide by (std + 1e-8) when they normalise with training-set statistics.
DATASET_STD_EPSILON = 1e-8


def utterance_affine(waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each utterance's mean and RMS (batch, 1): level is never a cue for the backbone."""
    offset = waveform.mean(dim=-1, keepdim=True)
    return offset, (waveform - offset).pow(2).mean(dim=-1, keepdim=True).sqrt() + 1e-5


def normalise_waveform(waveform: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per utterance."""
    offset, scale = utterance_affine(waveform)
    return (waveform - offset) / scale


class MeritModel(nn.Module):
    def __init__(self, config: MeritConfig, variant: str = "sparse_merit"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
        if config.input_normalisation not in INPUT_NORMALISATIONS:
            raise ValueError(
                f"unknown input_normalisation {config.input_normalisation!r}; expected one of {INPUT_NORMALISATIONS}"
            )
        self.config = config
        self.variant = variant
        backbone = config.backbone
        self.backbone = WavLMBackbone(backbone)
        self.stft = ConvStft(config.n_fft, config.hop_length)
        aggregation = config.aggregation if variant == "sparse_merit" else "weighted_sum"
        self.aggregator = LayerAggregator(backbone.num_hidden_states, backbone.hidden_size, aggregation)
        if variant == "sparse_merit":
            self.moe = MixtureOfExperts(
                self.aggregator.output_size,
                config.num_experts,
                config.expert_hidden,
                config.expert_out,
                config.top_k,
                config.gate,
            )
            feature_size = config.expert_out
        else:
            self.moe = None
            feature_size = self.aggregator.output_size
        self.has_ser = variant in ("sparse_merit", "mtl", "ser_only")
        self.has_se = variant in ("sparse_merit", "mtl", "se_only")
        self.pitch = (
            AutocorrelationPitch(backbone.frame_hop_samples) if config.pitch_features and self.has_ser else None
        )
        self.ser_head = (
            EmotionHead(
                feature_size + (PITCH_FEATURES if self.pitch is not None else 0),
                config.ser_attention_hidden,
                config.ser_hidden,
                len(config.classes),
                score_bias=config.pooling_score_bias,
                variance_floor=config.pooling_variance_floor,
                speaker_relative=config.speaker_relative,
                pitch_features=PITCH_FEATURES if self.pitch is not None else 0,
                voiced_pitch=config.voiced_pitch and self.pitch is not None,
            )
            if self.has_ser
            else None
        )
        if self.has_se:
            self.use_se_head_input(config.se_head_input)
        else:
            self.se_head = None

    def use_se_head_input(self, head_input: str) -> None:
        """A freshly initialised SE head reading `head_input` beside the noisy spectrum (SE_HEAD_INPUTS):
        at construction, and for merit.se_polish --new-head."""
        if head_input not in SE_HEAD_INPUTS:
            raise ValueError(f"unknown se_head_input {head_input!r}; expected one of {SE_HEAD_INPUTS}")
        if head_input != "routed" and self.moe is None:
            raise ValueError(f"se_head_input {head_input!r} needs routing: the {self.variant} variant's SE head reads the layers already")
        config = self.config
        config.se_head_input = head_input
        layers = self.aggregator.output_size
        size = (config.expert_out if self.moe is not None else layers) + (layers if self.se_reads_layers else 0)
        self.se_head = EnhancementHead(size, self.stft.bins, config.se_proj, config.se_lstm_hidden)

    @property
    def se_reads_layers(self) -> bool:
        return self.config.se_head_input == "routed+layers"

    def frame_count(self, samples: int) -> int:
        count = samples
        for _, kernel, stride in self.config.backbone.conv_layers:
            count = (count - kernel) // stride + 1
        return count

    def trajectory_window_frames(self, window_s: float) -> int:
        """Frames the backbone gives for a clip of `window_s` seconds: a trajectory window this long
        pools exactly what a standalone clip of that length would."""
        return self.frame_count(round(window_s * SAMPLE_RATE))

    def input_affine(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(offset, scale) such that (waveform - offset) / scale is the backbone's input: the
        training-set statistics, or each utterance's own mean and RMS."""
        config = self.config
        if config.input_normalisation == "dataset":
            ones = waveform.new_ones(waveform.shape[:-1] + (1,))
            return ones * config.input_mean, ones * (config.input_std + DATASET_STD_EPSILON)
        return utterance_affine(waveform)

    @property
    def se_sees_normalised(self) -> bool:
        """Whether the SE head's STFT sees the normalised waveform (the reference's choice, and ours
        since corpus v2), which keeps log1p magnitudes out of log1p's near-linear range whatever the
        recording level; the enhanced waveform is scaled back."""
        return self.config.se_normalised or self.config.input_normalisation == "dataset"

    def log_magnitude(self, real: torch.Tensor, imag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Magnitude (plus the configured epsilon) and its log1p."""
        magnitude = (real * real + imag * imag).clamp(min=1e-12).sqrt() + self.config.se_magnitude_epsilon
        return magnitude, torch.log1p(magnitude)

    def forward(
        self,
        waveform: torch.Tensor,
        trajectory_window: int | None = None,
        banded_trajectory: bool = False,
        speakers: torch.Tensor | None = None,
        speaker_reference: torch.Tensor | None = None,
    ) -> MeritOutput:
        """`speakers` (batch,) ids make each item's speaker reference the mean statistics of the
        batch's other items of that speaker (training); `speaker_reference` (batch, 2 * features)
        gives it directly. Both only matter to a speaker-relative emotion head."""
        offset, scale = self.input_affine(waveform)
        normalised = (waveform - offset) / scale
        hidden_states = self.backbone(normalised)
        features = self.aggregator(hidden_states)
        se_probs = ser_probs = se_chosen = ser_chosen = None
        balance = features.new_zeros(())
        if self.moe is not None:
            routing = self.moe(features)
            se_features, ser_features = routing["se"].features, routing["ser"].features
            se_probs, ser_probs = routing["se"].probs, routing["ser"].probs
            se_chosen, ser_chosen = routing["se"].chosen, routing["ser"].chosen
            balance = load_balance_loss(se_probs, se_chosen) + load_balance_loss(ser_probs, ser_chosen)
            if self.se_reads_layers:
                se_features = torch.cat([se_features, features], dim=-1)
        else:
            se_features = ser_features = features
        logits = trajectory = statistics = None
        if self.pitch is not None:
            ser_features = torch.cat([ser_features, self.pitch(normalised, ser_features.shape[1])], dim=-1)
        if self.ser_head is not None:
            statistics = self.ser_head.pooling(ser_features)
            reference = speaker_reference
            if speakers is not None and self.ser_head.speaker_relative:
                reference = leave_one_out_reference(statistics, speakers, self.ser_head.population_reference)
            logits = self.ser_head.classify(statistics, reference)
            if trajectory_window is not None:
                trajectory = self.ser_head.trajectory(ser_features, trajectory_window, banded_trajectory, reference)
        enhanced = enhanced_log_magnitude = None
        if self.se_head is not None:
            se_input = normalised if self.se_sees_normalised else waveform
            real, imag = self.stft(se_input)
            magnitude, noisy_log = self.log_magnitude(real, imag)
            enhanced_log_magnitude = self.se_head(se_features, noisy_log) * noisy_log
            # Keep the noisy phase: scale the complex spectrum by the magnitude ratio.
            ratio = (torch.expm1(enhanced_log_magnitude) - self.config.se_magnitude_epsilon) / magnitude
            enhanced = self.stft.inverse(real * ratio, imag * ratio, waveform.shape[-1])
            if self.se_sees_normalised:
                enhanced = enhanced * scale + offset
        return MeritOutput(
            logits,
            enhanced,
            enhanced_log_magnitude,
            se_probs,
            ser_probs,
            se_chosen,
            ser_chosen,
            balance,
            trajectory,
            (offset, scale),
            statistics,
        )

    def clean_log_magnitude(self, clean: torch.Tensor, input_affine: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """The SE target: the clean reference on the same scale as the noisy input the head saw."""
        if self.se_sees_normalised:
            offset, scale = input_affine
            clean = (clean - offset) / scale
        return self.log_magnitude(*self.stft(clean))[1]


def class_weights(counts: list[int]) -> torch.Tensor:
    """N / (C * N_c): the paper's class weights from training-split counts."""
    total, classes = sum(counts), len(counts)
    if any(count == 0 for count in counts):
        raise ValueError(f"every class needs training examples; counts are {counts}")
    return torch.tensor([total / (classes * count) for count in counts], dtype=torch.float32)


def merit_loss(
    model: MeritModel,
    output: MeritOutput,
    labels: torch.Tensor | None,
    clean: torch.Tensor | None,
    weights: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """CE (class-weighted) + lambda * L1 on log1p magnitude + balance weight * load-balancing loss."""
    parts: dict[str, torch.Tensor] = {}
    total = output.balance_loss * model.config.balance_weight
    if output.emotion_logits is not None and labels is not None:
        parts["ce"] = F.cross_entropy(output.emotion_logits, labels, weight=weights)
        total = total + parts["ce"]
    if output.enhanced_log_magnitude is not None and clean is not None:
        parts["l1"] = (output.enhanced_log_magnitude - model.clean_log_magnitude(clean, output.input_affine)).abs().mean()
        total = total + model.config.se_loss_weight * parts["l1"]
    parts["balance"] = output.balance_loss
    parts["total"] = total
    return parts
