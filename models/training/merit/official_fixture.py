"""A randomly initialised stand-in for the authors' release: the same seven files, the same tensor
names, nesting and formats (see merit.official), at full size or at reduced dimensions. It lets the
converter, the parity check and the studio be tried end to end without the real weights.

    .venv/bin/python -m merit.official_fixture OUT_DIR [--full] [--seed 0]

The names are written from the reference code's module layout (WavLM, MMoE, AttentiveStatistics-
Pooling, EmotionRegression, BLSTM_multi_no_ws), not from our model, so the converter's mapping is
tested against an independent description of the files.
"""

from __future__ import annotations

import argparse
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass
class FixtureSize:
    conv_channels: int = 32
    hidden: int = 32
    layers: int = 2
    heads: int = 2
    ffn: int = 64
    conv_pos: int = 8
    conv_pos_groups: int = 2
    buckets: int = 16
    max_distance: int = 64
    experts: int = 3
    expert_hidden: int = 48
    expert_out: int = 32
    ser_hidden: int = 32
    classes: int = 4
    se_proj: int = 16
    se_lstm: int = 16


# WavLM Large and the released heads (BLSTM_multi_no_ws fixes its sizes at 256).
FULL_SIZE = FixtureSize(512, 1024, 24, 16, 4096, 128, 16, 320, 800, 3, 4096, 1024, 1024, 4, 256, 256)
BINS = 201
# BLSTM_multi_no_ws always builds a 25 x 1024 weighted sum it never uses.
SE_UNUSED_LAYERS, SE_UNUSED_DIM = 25, 1024


def wavlm_cfg(size: FixtureSize) -> dict:
    c = size.conv_channels
    return {
        "extractor_mode": "layer_norm",
        "encoder_layers": size.layers,
        "encoder_embed_dim": size.hidden,
        "encoder_ffn_embed_dim": size.ffn,
        "encoder_attention_heads": size.heads,
        "activation_fn": "gelu",
        "layer_norm_first": True,
        "conv_feature_layers": f"[({c},10,5)] + [({c},3,2)] * 4 + [({c},2,2)] * 2",
        "conv_bias": False,
        "feature_grad_mult": 1.0,
        "normalize": True,
        "dropout": 0.1,
        "attention_dropout": 0.1,
        "activation_dropout": 0.0,
        "encoder_layerdrop": 0.0,
        "dropout_input": 0.0,
        "dropout_features": 0.0,
        "mask_length": 10,
        "mask_prob": 0.65,
        "conv_pos": size.conv_pos,
        "conv_pos_groups": size.conv_pos_groups,
        "relative_position_embedding": True,
        "num_buckets": size.buckets,
        "max_distance": size.max_distance,
        "gru_rel_pos": True,
    }


class _Random:
    def __init__(self, seed: int):
        self.generator = torch.Generator().manual_seed(seed)

    def linear(self, out: int, inp: int) -> torch.Tensor:
        return torch.randn(out, inp, generator=self.generator) / inp**0.5

    def vector(self, n: int, centre: float = 0.0, spread: float = 0.05) -> torch.Tensor:
        return centre + spread * torch.randn(n, generator=self.generator)

    def tensor(self, *shape: int, scale: float = 1.0) -> torch.Tensor:
        return scale * torch.randn(*shape, generator=self.generator)


def wavlm_state(size: FixtureSize, r: _Random, weight_norm_api: str) -> dict[str, torch.Tensor]:
    """WavLM's state dict. weight_norm_api "old": pos_conv.0.weight_g/_v (the 2021 WavLM-Large.pt);
    "parametrizations": pos_conv.0.parametrizations.weight.original0/1 (the authors' final_ssl.pt)."""
    s: dict[str, torch.Tensor] = {}
    c, d = size.conv_channels, size.hidden
    channels_in = 1
    for i, kernel in enumerate([10] + [3] * 4 + [2] * 2):
        s[f"feature_extractor.conv_layers.{i}.0.weight"] = r.tensor(c, channels_in, kernel, scale=(2 / (channels_in * kernel)) ** 0.5)
        s[f"feature_extractor.conv_layers.{i}.2.1.weight"] = r.vector(c, 1.0)
        s[f"feature_extractor.conv_layers.{i}.2.1.bias"] = r.vector(c)
        channels_in = c
    s["layer_norm.weight"], s["layer_norm.bias"] = r.vector(c, 1.0), r.vector(c)
    s["post_extract_proj.weight"], s["post_extract_proj.bias"] = r.linear(d, c), r.vector(d)
    s["mask_emb"] = torch.rand(d, generator=r.generator)
    g, v = r.tensor(1, 1, size.conv_pos, scale=0.5).abs(), r.tensor(d, d // size.conv_pos_groups, size.conv_pos)
    if weight_norm_api == "old":
        s["encoder.pos_conv.0.weight_g"], s["encoder.pos_conv.0.weight_v"] = g, v
    else:
        s["encoder.pos_conv.0.parametrizations.weight.original0"] = g
        s["encoder.pos_conv.0.parametrizations.weight.original1"] = v
    s["encoder.pos_conv.0.bias"] = r.vector(d)
    head_dim = d // size.heads
    for layer in range(size.layers):
        p = f"encoder.layers.{layer}."
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            s[f"{p}self_attn.{proj}.weight"], s[f"{p}self_attn.{proj}.bias"] = r.linear(d, d), r.vector(d)
        s[f"{p}self_attn.grep_a"] = r.vector(size.heads, 1.0).view(1, size.heads, 1, 1)
        s[f"{p}self_attn.grep_linear.weight"], s[f"{p}self_attn.grep_linear.bias"] = r.linear(8, head_dim), r.vector(8)
        if layer == 0:
            s[f"{p}self_attn.relative_attention_bias.weight"] = r.tensor(size.buckets, size.heads)
        s[f"{p}self_attn_layer_norm.weight"], s[f"{p}self_attn_layer_norm.bias"] = r.vector(d, 1.0), r.vector(d)
        s[f"{p}fc1.weight"], s[f"{p}fc1.bias"] = r.linear(size.ffn, d), r.vector(size.ffn)
        s[f"{p}fc2.weight"], s[f"{p}fc2.bias"] = r.linear(d, size.ffn), r.vector(d)
        s[f"{p}final_layer_norm.weight"], s[f"{p}final_layer_norm.bias"] = r.vector(d, 1.0), r.vector(d)
    s["encoder.layer_norm.weight"], s["encoder.layer_norm.bias"] = r.vector(d, 1.0), r.vector(d)
    return s


def mmoe_state(size: FixtureSize, r: _Random) -> dict[str, torch.Tensor]:
    s: dict[str, torch.Tensor] = {}
    layers = size.layers + 1
    for i in range(layers):
        s[f"layer_norms.{i}.weight"], s[f"layer_norms.{i}.bias"] = r.vector(size.hidden, 1.0), r.vector(size.hidden)
    width = size.hidden * layers
    for e in range(size.experts):
        s[f"experts.{e}.fc1.weight"], s[f"experts.{e}.fc1.bias"] = r.linear(size.expert_hidden, width), r.vector(size.expert_hidden)
        s[f"experts.{e}.fc2.weight"], s[f"experts.{e}.fc2.bias"] = r.linear(size.expert_out, size.expert_hidden), r.vector(size.expert_out)
    for task in range(2):  # 0: SE, 1: SER
        s[f"gates.{task}.fc.weight"], s[f"gates.{task}.fc.bias"] = r.linear(size.experts, width), r.vector(size.experts)
    return s


def pool_state(size: FixtureSize, r: _Random) -> dict[str, torch.Tensor]:
    d = size.expert_out
    return {"sap_linear.weight": r.linear(d, d), "sap_linear.bias": r.vector(d), "attention": r.tensor(d, 1)}


def ser_state(size: FixtureSize, r: _Random) -> dict[str, torch.Tensor]:
    h = size.ser_hidden
    return {
        "fc.0.0.weight": r.linear(h, 2 * size.expert_out),
        "fc.0.0.bias": r.vector(h),
        "fc.0.1.weight": r.vector(h, 1.0),
        "fc.0.1.bias": r.vector(h),
        "out.0.weight": r.linear(size.classes, h),
        "out.0.bias": r.vector(size.classes),
    }


def se_state(size: FixtureSize, r: _Random) -> dict[str, torch.Tensor]:
    s: dict[str, torch.Tensor] = {"weights": torch.ones(SE_UNUSED_LAYERS)}
    for i in range(SE_UNUSED_LAYERS):
        s[f"layer_norm.{i}.weight"], s[f"layer_norm.{i}.bias"] = torch.ones(SE_UNUSED_DIM), torch.zeros(SE_UNUSED_DIM)
    # Input: [noisy log1p magnitude (201 bins), SE expert output].
    s["lstm_enc.0.weight"], s["lstm_enc.0.bias"] = r.linear(size.se_proj, BINS + size.expert_out), r.vector(size.se_proj)
    hidden = size.se_lstm
    for layer in range(2):
        inputs = size.se_proj if layer == 0 else 2 * hidden
        for suffix in ("", "_reverse"):
            p = "lstm_enc.1.blstm."
            s[f"{p}weight_ih_l{layer}{suffix}"] = r.linear(4 * hidden, inputs)
            s[f"{p}weight_hh_l{layer}{suffix}"] = r.linear(4 * hidden, hidden)
            s[f"{p}bias_ih_l{layer}{suffix}"] = r.vector(4 * hidden)
            s[f"{p}bias_hh_l{layer}{suffix}"] = r.vector(4 * hidden)
    s["lstm_enc.2.weight"], s["lstm_enc.2.bias"] = r.linear(BINS, hidden), r.vector(BINS)
    return s


def _with_optimizer(state: dict[str, torch.Tensor]) -> dict:
    """train.py saves {'model': ..., 'optimizer': AdamW state}; the optimizer part is never read."""
    return {
        "model": state,
        "optimizer": {"state": {}, "param_groups": [{"lr": 5e-5, "weight_decay": 0.01, "params": list(range(len(state)))}]},
    }


def write_fixture(out: Path, size: FixtureSize = FixtureSize(), seed: int = 0) -> Path:
    """Writes the seven files into `out` in the download's layout (pretrained_models/ and
    model/<name>/); returns `out`."""
    r = _Random(seed)
    pretrained = out / "pretrained_models"
    model_dir = out / "model" / "sparse_merit_fixture" / "wavLM_adamW" / "7"
    pretrained.mkdir(parents=True, exist_ok=True)
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.save({"cfg": wavlm_cfg(size), "model": wavlm_state(size, r, "old")}, pretrained / "WavLM-Large.pt")
    torch.save(_with_optimizer(wavlm_state(size, r, "parametrizations")), model_dir / "final_ssl.pt")
    torch.save(_with_optimizer(mmoe_state(size, r)), model_dir / "final_mmoe.pt")
    torch.save(_with_optimizer(pool_state(size, r)), model_dir / "final_pool.pt")
    torch.save(_with_optimizer(ser_state(size, r)), model_dir / "final_ser.pt")
    torch.save(_with_optimizer(se_state(size, r)), model_dir / "final_se.pt")
    with (model_dir / "train_norm_stat.pkl").open("wb") as file:
        pickle.dump((np.float32(-1.2e-5), np.float32(0.071)), file)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--full", action="store_true", help="WavLM Large sizes (about 2.6 GB per copy of the backbone)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_fixture(args.out, FULL_SIZE if args.full else FixtureSize(), args.seed)
    print(f"wrote a random stand-in for the authors' release under {args.out}")


if __name__ == "__main__":
    main()
