"""Task heads: attentive-statistics-pooling emotion classifier and the BSSE-style masking enhancer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AttentiveStatsPooling(nn.Module):
    """Attention-weighted mean and standard deviation over frames."""

    def __init__(self, size: int, hidden: int):
        super().__init__()
        self.attention = nn.Sequential(nn.Linear(size, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.attention(x), dim=1)  # (batch, frames, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weights(x)
        mean = (w * x).sum(dim=1)
        variance = (w * x * x).sum(dim=1) - mean * mean
        return torch.cat([mean, variance.clamp(min=1e-6).sqrt()], dim=-1)


class EmotionHead(nn.Module):
    def __init__(self, size: int, attention_hidden: int, hidden: int, classes: int, dropout: float = 0.5):
        super().__init__()
        self.pooling = AttentiveStatsPooling(size, attention_hidden)
        self.classifier = nn.Sequential(
            nn.Linear(2 * size, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pooling(x))


class EnhancementHead(nn.Module):
    """Expert features (20 ms) repeated to 10 ms STFT frames, joined with the noisy log1p magnitude,
    Linear -> 2-layer BLSTM (directions summed) -> Linear -> sigmoid ratio mask on log1p magnitude."""

    def __init__(self, feature_size: int, bins: int, proj: int, lstm_hidden: int):
        super().__init__()
        self.input = nn.Linear(feature_size + bins, proj)
        self.blstm = nn.LSTM(proj, lstm_hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.output = nn.Linear(lstm_hidden, bins)
        self.lstm_hidden = lstm_hidden

    def forward(self, features: torch.Tensor, noisy_log_magnitude: torch.Tensor) -> torch.Tensor:
        frames = noisy_log_magnitude.shape[1]
        upsampled = features.repeat_interleave(2, dim=1)
        # STFT frames slightly outnumber twice the 20 ms frames: repeat the last feature frame.
        missing = frames - upsampled.shape[1]
        upsampled = torch.cat([upsampled, upsampled[:, -1:].expand(-1, missing, -1)], dim=1)[:, :frames]
        x = self.input(torch.cat([upsampled, noisy_log_magnitude], dim=-1))
        x, _ = self.blstm(x)
        x = x[..., : self.lstm_hidden] + x[..., self.lstm_hidden :]
        return torch.sigmoid(self.output(x))
