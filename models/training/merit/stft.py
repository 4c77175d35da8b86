"""STFT and inverse STFT as fixed-basis convolutions, so they export to ONNX with dynamic length and
match ONNX Runtime to float precision (torch.stft/istft and an in-graph HammingWindow do not)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ConvStft(nn.Module):
    """Hamming-windowed STFT (n_fft, hop), centred frames on a reflect-padded signal."""

    def __init__(self, n_fft: int = 400, hop_length: int = 160):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        bins = n_fft // 2 + 1
        n = torch.arange(n_fft, dtype=torch.float64)
        k = torch.arange(bins, dtype=torch.float64)
        # Periodic Hamming window, as torch.hamming_window(n_fft) gives, kept as a constant.
        window = 0.54 - 0.46 * torch.cos(2 * math.pi * n / n_fft)
        angle = 2 * math.pi * k[:, None] * n[None, :] / n_fft
        forward_basis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])
        self.register_buffer("forward_basis", forward_basis.unsqueeze(1).float(), persistent=False)
        # Inverse real DFT: bins 1..N/2-1 count twice (their conjugates are implied).
        scale = torch.full((bins,), 2.0, dtype=torch.float64)
        scale[0] = 1.0
        scale[-1] = 1.0 if n_fft % 2 == 0 else 2.0
        inverse_basis = torch.cat(
            [torch.cos(angle) * scale[:, None], -torch.sin(angle) * scale[:, None]]
        ) * window / n_fft
        self.register_buffer("inverse_basis", inverse_basis.unsqueeze(1).float(), persistent=False)
        self.register_buffer("window_square", (window**2).view(1, 1, -1).float(), persistent=False)

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def frames_for(self, samples: int) -> int:
        return samples // self.hop_length + 1

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, samples) -> real, imag, each (batch, frames, bins)."""
        pad = self.n_fft // 2
        x = F.pad(waveform.unsqueeze(1), (pad, pad), mode="reflect")
        spec = F.conv1d(x, self.forward_basis, stride=self.hop_length)
        real, imag = spec[:, : self.bins], spec[:, self.bins :]
        return real.transpose(1, 2), imag.transpose(1, 2)

    def inverse(self, real: torch.Tensor, imag: torch.Tensor, samples: int | torch.Tensor) -> torch.Tensor:
        """real, imag (batch, frames, bins) -> (batch, samples), overlap-added and window-normalised."""
        spec = torch.cat([real, imag], dim=2).transpose(1, 2)
        signal = F.conv_transpose1d(spec, self.inverse_basis, stride=self.hop_length)
        ones = torch.ones_like(spec[:, :1, :])
        envelope = F.conv_transpose1d(ones, self.window_square, stride=self.hop_length)
        signal = signal / envelope.clamp(min=1e-8)
        pad = self.n_fft // 2
        return signal[:, 0, pad : pad + samples]
