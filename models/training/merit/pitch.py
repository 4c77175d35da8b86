"""Pitch in the graph: a frame-wise F0 tracker made of fixed convolutions and arg-max, so that it
exports to ONNX and runs wherever the model runs.

Our compact backbone, pre-trained on an hour of speech with MFCC-cluster targets, carries little
pitch: a linear probe on its pooled layers separates the styles of an unseen voice family far worse
than two numbers measured on the clean speech, F0 level and F0 range relative to the speaker. The
styles are made of exactly those, so the emotion head is given each frame's pitch beside the
experts' features (`MeritConfig.pitch_features`). The authors' WavLM Large does not need this, and
their layout never has it.

The method is Boersma's (Praat): the autocorrelation of a Hamming-windowed frame, from its
power spectrum, divided by the window's own autocorrelation; the F0 is the first local maximum whose value
comes within `PEAK_SHARE` of the best (which avoids picking a multiple of the period).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SAMPLE_RATE = 16_000
FRAME = 640  # 40 ms: two and a half periods of the lowest F0
DFT = 1024  # >= FRAME + the longest lag, so the autocorrelation does not wrap round
LOWEST_HZ, HIGHEST_HZ = 64.0, 400.0
PEAK_SHARE = 0.9
VOICED_THRESHOLD = 0.45  # normalised autocorrelation at the period (Praat's default voicing threshold)
F0_REFERENCE_HZ = 100.0  # log2(F0 / 100 Hz) puts the styles' 80-310 Hz medians around zero
ENERGY_FLOOR = 1e-4
# Per frame: log2(F0 / 100 Hz) where voiced (else 0), voiced (0/1), periodicity, log energy.
PITCH_FEATURES = 4
LOG_F0, VOICED = 0, 1  # their places


# The Hamming window's terms and its phase step per sample of a frame.
HAMMING = (0.54, 0.46, 2 * math.pi / FRAME)


def hamming(n: torch.Tensor, terms=HAMMING) -> torch.Tensor:
    """The Hamming window's value at sample `n` of a frame; `terms` as floats, or as tensors where
    the graph must not hold Python floats (see AutocorrelationPitch.spectrum_basis)."""
    return terms[0] - terms[1] * torch.cos(n * terms[2])


class AutocorrelationPitch(nn.Module):
    def __init__(self, hop: int):
        super().__init__()
        self.hop = hop
        periods = torch.arange(math.floor(SAMPLE_RATE / HIGHEST_HZ), math.ceil(SAMPLE_RATE / LOWEST_HZ) + 1)
        n = torch.arange(FRAME, dtype=torch.float64)
        window = hamming(n)
        bins = torch.arange(DFT // 2 + 1, dtype=torch.float64)
        # For spectrum_basis: the frame's sample and the DFT's bin numbers, the DFT's phase step and
        # the Hamming window's terms.
        self.register_buffer("frame_samples", torch.arange(FRAME), persistent=False)
        self.register_buffer("dft_bins", torch.arange(DFT // 2 + 1), persistent=False)
        self.register_buffer(
            "basis_constants", torch.tensor([2 * math.pi / DFT, *HAMMING]), persistent=False
        )
        # Inverse real DFT of the power spectrum at lag 0 and the lags: bins 1..N/2-1 count twice.
        weight = torch.full((len(bins),), 2.0, dtype=torch.float64)
        weight[0] = weight[-1] = 1.0
        lags = torch.cat([torch.zeros(1, dtype=torch.float64), periods.double()])
        basis = torch.cos(2 * math.pi * bins[:, None] * lags[None, :] / DFT) * weight[:, None] / DFT
        self.register_buffer("autocorrelation_basis", basis.float(), persistent=False)
        # The window's own normalised autocorrelation at the lags.
        own = torch.stack([(window[: FRAME - lag] * window[lag:]).sum() for lag in periods.tolist()]) / (window**2).sum()
        self.register_buffer("window_autocorrelation", own.float(), persistent=False)
        self.register_buffer("lag_hz", (SAMPLE_RATE / periods.double()).float(), persistent=False)

    def spectrum_basis(self) -> torch.Tensor:
        """The zero-padded DFT of a Hamming-windowed frame as strided-convolution weights (cos; -sin),
        built in the graph rather than stored: as a constant it was 2.6 MB of the model file. The
        phase index bins * n mod DFT is exact in integers, so float32 loses nothing to large angles.
        Every input is a stored tensor, so ONNX Runtime folds the whole basis into a constant when
        it loads the model (an arange or a Python float in the graph comes with a CastLike, which it
        cannot fold, and the basis would be rebuilt on every run)."""
        n, bins = self.frame_samples, self.dft_bins
        angle = (bins[:, None] * n[None, :] % DFT).float() * self.basis_constants[0]
        window = hamming(n.float(), self.basis_constants[1:])
        return torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window]).unsqueeze(1)

    def forward(self, waveform: torch.Tensor, frames: int | torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, frames, PITCH_FEATURES) at the backbone's frames (the pitch
        frame centred nearest each backbone frame's centre)."""
        pad = FRAME // 2
        x = F.pad(waveform.unsqueeze(1), (pad, pad), mode="reflect")
        spectrum = F.conv1d(x, self.spectrum_basis(), stride=self.hop)  # (batch, 2 * bins, frames)
        bins = spectrum.shape[1] // 2
        power = (spectrum[:, :bins] ** 2 + spectrum[:, bins:] ** 2).transpose(1, 2)
        autocorrelation = power @ self.autocorrelation_basis  # (batch, frames, 1 + lags)
        # A frame of the unit-variance input holds about 250 (Parseval, Hamming window); floored 64 dB
        # under that, silence is "quiet", not -100 dB.
        energy = autocorrelation[..., :1].clamp(min=ENERGY_FLOOR)
        normalised = autocorrelation[..., 1:] / energy / self.window_autocorrelation
        best = normalised.amax(dim=-1, keepdim=True)
        # The first local maximum near the best: arg-max of a 0/1 tensor is its first 1.
        falls_next = normalised >= torch.cat([normalised[..., 1:], normalised[..., -1:]], dim=-1)
        period = ((normalised >= PEAK_SHARE * best) & falls_next).float().argmax(dim=-1)
        voiced = (best[..., 0] >= VOICED_THRESHOLD).float()
        log_f0 = torch.log2(self.lag_hz[period] / F0_REFERENCE_HZ) * voiced
        features = torch.stack([log_f0, voiced, best[..., 0], torch.log10(energy[..., 0])], dim=-1)
        return features[:, 1 : 1 + frames]
