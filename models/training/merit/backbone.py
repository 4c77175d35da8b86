"""A WavLM-style speech encoder: convolutional waveform front end (20 ms frames), convolutional
relative positions, and transformer layers with WavLM's gated relative position bias.

Module names follow WavLM's layout (feature_extractor.conv_layers.N, post_extract_proj,
encoder.pos_conv, encoder.layers.N.self_attn.{q,k,v,out}_proj, grep_linear, grep_a, ...) so the
released WavLM Large weights map onto it; the code is ours."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import BackboneConfig


class _TransposeLast(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(-2, -1)


def _channel_layer_norm(channels: int) -> nn.Module:
    """LayerNorm over the channel axis of a (batch, channels, time) tensor; laid out as WavLM's
    (transpose, norm, transpose) so its parameters are `N.2.1.weight` as in the released weights."""
    return nn.Sequential(_TransposeLast(), nn.LayerNorm(channels), _TransposeLast())


class ConvFeatureExtractor(nn.Module):
    def __init__(self, config: BackboneConfig):
        super().__init__()
        layers = []
        in_channels = 1
        for index, (channels, kernel, stride) in enumerate(config.conv_layers):
            conv = nn.Conv1d(in_channels, channels, kernel, stride=stride, bias=config.conv_bias)
            nn.init.kaiming_normal_(conv.weight)
            if config.conv_norm == "layer":
                norm: nn.Module = _channel_layer_norm(channels)
            elif index == 0:
                norm = nn.GroupNorm(channels, channels)
            else:
                norm = nn.Identity()
            layers.append(nn.Sequential(conv, nn.Dropout(0.0), norm, nn.GELU()))
            in_channels = channels
        self.conv_layers = nn.ModuleList(layers)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = waveform.unsqueeze(1)
        for layer in self.conv_layers:
            x = layer(x)
        return x  # (batch, channels, frames)


def relative_position_bucket(relative: torch.Tensor, num_buckets: int, max_distance: int) -> torch.Tensor:
    """T5/WavLM buckets: exact for small offsets, logarithmic up to max_distance, both directions."""
    half = num_buckets // 2
    buckets = (relative > 0).to(torch.long) * half
    distance = relative.abs()
    max_exact = half // 2
    is_small = distance < max_exact
    large = max_exact + (
        torch.log(distance.float().clamp(min=1) / max_exact)
        / math.log(max_distance / max_exact)
        * (half - max_exact)
    ).to(torch.long)
    large = torch.minimum(large, torch.full_like(large, half - 1))
    return buckets + torch.where(is_small, distance, large)


def toeplitz_rows(values: torch.Tensor, frames: int) -> torch.Tensor:
    """(2 frames - 1,) values of offsets 1 - frames ... frames - 1 -> (frames, frames) with
    [i, j] = the value of offset j - i. Row i is values[frames-1-i : 2 frames-1-i]; with one spare
    element (2 frames per copy) and `frames` copies laid end to end, row i starts at
    (frames - 1) + i (2 frames - 1): rows of 2 frames - 1 read from there, the first `frames` kept."""
    tiled = F.pad(values, (0, 1)).repeat(frames)[frames - 1 : frames - 1 + frames * (2 * frames - 1)]
    return tiled.unflatten(0, (frames, 2 * frames - 1))[:, :frames]


class GatedRelativeAttention(nn.Module):
    def __init__(self, config: BackboneConfig, has_relative_bias: bool):
        super().__init__()
        dim, heads = config.hidden_size, config.num_heads
        self.num_heads = heads
        self.head_dim = dim // heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        # Gate on the relative bias, computed from each head's slice of the layer input.
        self.grep_linear = nn.Linear(self.head_dim, 8)
        self.grep_a = nn.Parameter(torch.ones(1, heads, 1, 1))
        self.num_buckets = config.num_buckets
        self.max_distance = config.max_distance
        self.relative_attention_bias = nn.Embedding(config.num_buckets, heads) if has_relative_bias else None
        self.dropout = config.dropout

    def position_bias(self, frames: int, device: torch.device) -> torch.Tensor:
        """(heads, frames, frames): the bias of each key's offset from each query. The buckets are
        computed once per offset (2 frames - 1 of them), not per pair, and laid out as the frames x
        frames Toeplitz matrix by copies (`toeplitz_rows`): the same values without a dozen
        element-wise passes over frames x frames (half the model's position cost in ONNX Runtime)."""
        assert self.relative_attention_bias is not None
        offsets = torch.arange(1 - frames, frames, device=device)
        buckets = relative_position_bucket(offsets, self.num_buckets, self.max_distance).to(torch.int32)
        return self.relative_attention_bias(toeplitz_rows(buckets, frames)).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        split = lambda t: t.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        gates = torch.sigmoid(self.grep_linear(split(x)).unflatten(-1, (2, 4)).sum(-1))
        gate_a, gate_b = gates[..., 0:1], gates[..., 1:2]
        gate = gate_a * (gate_b * self.grep_a - 1.0) + 2.0  # (batch, heads, frames, 1)
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.head_dim**-0.5 + gate * bias.unsqueeze(0)
        weights = F.dropout(F.softmax(scores, dim=-1), self.dropout, self.training)
        out = torch.matmul(weights, v)  # (batch, heads, frames, head_dim)
        return self.out_proj(out.permute(0, 2, 1, 3).flatten(2))


class EncoderLayer(nn.Module):
    def __init__(self, config: BackboneConfig, has_relative_bias: bool):
        super().__init__()
        self.self_attn = GatedRelativeAttention(config, has_relative_bias)
        self.self_attn_layer_norm = nn.LayerNorm(config.hidden_size)
        self.fc1 = nn.Linear(config.hidden_size, config.ffn_size)
        self.fc2 = nn.Linear(config.ffn_size, config.hidden_size)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.layer_norm_first = config.layer_norm_first

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        if self.layer_norm_first:
            x = x + self.dropout(self.self_attn(self.self_attn_layer_norm(x), bias))
            return x + self.dropout(self.fc2(self.dropout(F.gelu(self.fc1(self.final_layer_norm(x))))))
        x = self.self_attn_layer_norm(x + self.dropout(self.self_attn(x, bias)))
        return self.final_layer_norm(x + self.dropout(self.fc2(self.dropout(F.gelu(self.fc1(x))))))


# (g, v) names of WavLM's weight-normalised positional convolution, old and new PyTorch API.
WEIGHT_NORM_KEYS = (
    ("0.weight_g", "0.weight_v"),
    ("0.parametrizations.weight.original0", "0.parametrizations.weight.original1"),
)


class PositionalConv(nn.Module):
    def __init__(self, config: BackboneConfig):
        super().__init__()
        kernel = config.pos_conv_kernel
        self.conv = nn.Conv1d(
            config.hidden_size, config.hidden_size, kernel, padding=kernel // 2, groups=config.pos_conv_groups
        )
        nn.init.normal_(self.conv.weight, std=math.sqrt(4 / (kernel * config.hidden_size)))
        nn.init.zeros_(self.conv.bias)
        self.trim = 1 if kernel % 2 == 0 else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.transpose(1, 2))
        if self.trim:
            y = y[:, :, :-1]
        return F.gelu(y).transpose(1, 2)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        fold_positional_conv(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def fold_positional_conv(state: dict, prefix: str) -> None:
    """Rewrites WavLM's positional convolution in `state` into ours, in place: WavLM keeps it as
    Sequential(weight-normalised conv, SamePad, GELU), saved either as 0.weight_g/0.weight_v
    (torch.nn.utils.weight_norm) or 0.parametrizations.weight.original0/1 (the parametrization API),
    plus 0.bias. The weight g * v / |v| is folded once, so the released state dict loads as is."""
    for g_name, v_name in WEIGHT_NORM_KEYS:
        g_key, v_key = prefix + g_name, prefix + v_name
        if g_key in state and v_key in state:
            state[prefix + "conv.weight"] = fold_weight_norm(state.pop(g_key), state.pop(v_key))
    if prefix + "0.bias" in state:
        state[prefix + "conv.bias"] = state.pop(prefix + "0.bias")


def fold_weight_norm(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """weight = g * v / |v| with the norm over every axis but 2 (the kernel axis), as WavLM's
    positional convolution was normalised."""
    norm = v.pow(2).sum(dim=(0, 1), keepdim=True).sqrt()
    return g * v / norm


class Encoder(nn.Module):
    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.pos_conv = PositionalConv(config)
        self.layers = nn.ModuleList(EncoderLayer(config, has_relative_bias=(i == 0)) for i in range(config.num_layers))
        self.layer_norm = nn.LayerNorm(config.hidden_size)
        self.layer_norm_first = config.layer_norm_first
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = x + self.pos_conv(x)
        if not self.layer_norm_first:
            x = self.layer_norm(x)
        x = self.dropout(x)
        bias = self.layers[0].self_attn.position_bias(x.shape[1], x.device)
        hidden_states = [x]
        for layer in self.layers:
            x = layer(x, bias)
            hidden_states.append(x)
        return hidden_states


class WavLMBackbone(nn.Module):
    """Waveform (batch, samples) at 16 kHz -> list of num_layers + 1 hidden states (batch, frames, hidden)."""

    def __init__(self, config: BackboneConfig):
        super().__init__()
        self.config = config
        self.feature_extractor = ConvFeatureExtractor(config)
        self.layer_norm = nn.LayerNorm(config.conv_dim)
        self.post_extract_proj = nn.Linear(config.conv_dim, config.hidden_size)
        self.mask_emb = nn.Parameter(torch.zeros(config.hidden_size).uniform_())
        self.dropout_input = nn.Dropout(config.dropout)
        self.encoder = Encoder(config)

    @property
    def num_hidden_states(self) -> int:
        return self.config.num_hidden_states

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    def frame_features(self, waveform: torch.Tensor) -> torch.Tensor:
        """Projected CNN features (batch, frames, hidden), before masking and the transformer."""
        x = self.feature_extractor(waveform).transpose(1, 2)
        return self.post_extract_proj(self.layer_norm(x))

    def forward(self, waveform: torch.Tensor, frame_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """`frame_mask` (batch, frames; True = masked) replaces those frames with the mask
        embedding, for masked-prediction pre-training."""
        x = self.frame_features(waveform)
        if frame_mask is not None:
            x = torch.where(frame_mask.unsqueeze(-1), self.mask_emb.to(x.dtype), x)
        return self.encoder(self.dropout_input(x))
