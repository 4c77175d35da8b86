"""Task heads: attentive-statistics-pooling emotion classifier and the BSSE-style masking enhancer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .pitch import LOG_F0, VOICED


class AttentiveStatsPooling(nn.Module):
    """Attention-weighted mean and standard deviation over frames."""

    def __init__(self, size: int, hidden: int, score_bias: bool = True, variance_floor: float = 1e-6):
        super().__init__()
        self.attention = nn.Sequential(nn.Linear(size, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=score_bias))
        self.variance_floor = variance_floor

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.attention(x), dim=1)  # (batch, frames, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weights(x)
        return self.statistics((w * x).sum(dim=1), (w * x * x).sum(dim=1))

    def statistics(self, mean: torch.Tensor, mean_square: torch.Tensor) -> torch.Tensor:
        """[mean, std] from weighted first and second moments, the variance floored."""
        variance = mean_square - mean * mean
        return torch.cat([mean, variance.clamp(min=self.variance_floor).sqrt()], dim=-1)

    def windowed(self, x: torch.Tensor, window: int, banded: bool = False) -> torch.Tensor:
        """The same pooling over the `window` frames starting at every frame (windows running past the
        end are cut there): (batch, frames, 2 * size), in one pass for a trajectory.

        Softmax within a window = exp(score - c) summed over the window, normalised, for any constant c:
        box sums (average pooling) of exp(score - max) * x and of exp(score - max) give it exactly, as
        long as the exponentials do not all underflow, which `score_bound` lets the exporter check.
        `banded` computes each window's softmax on its own instead (a frames x frames band of weights,
        then two matrix products): exact for any scores, at a cost quadratic in frames, like the
        backbone's own attention."""
        scores = self.attention(x)  # (batch, frames, 1)
        if banded:
            frames = torch.arange(x.shape[1], device=x.device)
            offset = frames[None, :] - frames[:, None]  # (window start, frame)
            inside = (offset >= 0) & (offset < window)
            banded_scores = scores.transpose(1, 2).masked_fill(~inside, float("-inf"))  # (batch, starts, frames)
            weights = F.softmax(banded_scores, dim=-1)
            return self.statistics(torch.matmul(weights, x), torch.matmul(weights, x * x))
        # Float64 from the products on: a window's variance is E[x^2] - E[x]^2, which float32 rounds
        # to noise for features far from zero with little spread over a few frames (the windows cut
        # short at the end of a clip), and the box sums are differences of long running sums.
        weights = torch.exp(scores - scores.amax(dim=1, keepdim=True)).double()
        x = x.double()
        frames = x.shape[1]
        ends = torch.clamp(torch.arange(frames, device=x.device) + window, max=frames)

        def box_sum(values: torch.Tensor) -> torch.Tensor:
            # (batch, frames, channels) -> sums over [t, t + window), cut at the last frame
            # (a sliding window costs one pass instead of `window` additions per frame).
            running = F.pad(torch.cumsum(values, dim=1), (0, 0, 1, 0))
            return running.index_select(1, ends) - running[:, :frames]

        total = box_sum(weights)
        return self.statistics(box_sum(weights * x) / total, box_sum(weights * x * x) / total).float()

    def score_bound(self) -> float:
        """Largest possible |score|: |w|_1 + |b| of the last layer (tanh outputs lie in [-1, 1])."""
        last = self.attention[-1]
        bias = float(last.bias.detach().abs().sum()) if last.bias is not None else 0.0
        return float(last.weight.detach().abs().sum()) + bias


class Standardiser(nn.Module):
    """(x - mean) / std with running statistics of the training batches (no gradient through them):
    a speaker-relative F0 difference of a few hundredths of an octave must weigh as much as any
    other input, which Adam's steps of about the learning rate would take thousands of steps to do."""

    def __init__(self, size: int, momentum: float = 0.05):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("variance", torch.ones(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                flat = x.reshape(-1, x.shape[-1])
                self.mean.lerp_(flat.mean(dim=0), self.momentum)
                self.variance.lerp_(flat.var(dim=0, unbiased=False), self.momentum)
        return (x - self.mean) / (self.variance + 1e-6).sqrt()


# Genders a reference can be fitted for, as the corpus manifest spells them (the studio maps its
# manifests' spellings onto these: src/model/reference.rs).
GENDERS = ("female", "male")


# What EmotionHead.voiced_pitch_statistics derives; a clip (or trajectory window) voiced on fewer
# than this share of its frames counts as voiced on this share.
VOICED_PITCH_STATISTICS = 2
MIN_VOICED_SHARE = 0.05


class EmotionHead(nn.Module):
    def __init__(
        self,
        size: int,
        attention_hidden: int,
        hidden: int,
        classes: int,
        dropout: float = 0.5,
        score_bias: bool = True,
        variance_floor: float = 1e-6,
        speaker_relative: bool = False,
        pitch_features: int = 0,
        voiced_pitch: bool = False,
    ):
        super().__init__()
        self.pooling = AttentiveStatsPooling(size, attention_hidden, score_bias, variance_floor)
        self.classifier = nn.Sequential(
            nn.Linear(2 * size, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, classes)
        )
        # The last `pitch_features` of each frame's features are its pitch (merit.pitch); their
        # statistics also reach the logits through a linear path of their own, which a few hundred
        # training steps can fit where the wide classifier, busy with the experts' features, does not.
        self.size, self.pitch_features = size, pitch_features
        self.prosody, self.voiced_pitch = None, False
        if pitch_features:
            self.use_voiced_pitch(voiced_pitch, classes)
            # How much the wide classifier's logits count beside the pitch path's (merit.refit may
            # lower it where the experts' features do not carry to voice families never heard).
            self.register_buffer("classifier_gate", torch.ones(()))
        self.speaker_relative = speaker_relative
        if speaker_relative:
            # Running mean of the pooled statistics in training: the reference of a recording whose
            # speaker is unknown.
            self.register_buffer("population_reference", torch.zeros(2 * size))
            # Mean statistics of the training recordings of each of GENDERS (merit.refit), the
            # reference of a recording whose speaker has too few other recordings but whose
            # gender is known: much nearer its voice than the population's mean. NaN: not fitted.
            self.register_buffer("gender_references", torch.full((len(GENDERS), 2 * size), float("nan")))

    def forward(self, x: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        return self.classify(self.pooling(x), reference)

    def use_voiced_pitch(self, voiced_pitch: bool, classes: int) -> None:
        """(Re)builds the pitch path, reading the voiced-frame pitch too or not (merit.refit fits it
        anew, so it can switch a trained model's path)."""
        self.voiced_pitch = voiced_pitch
        inputs = 2 * self.pitch_features + (VOICED_PITCH_STATISTICS if voiced_pitch else 0)
        self.prosody = nn.Sequential(Standardiser(inputs), nn.Linear(inputs, classes))

    def classify(self, statistics: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
        """Logits from pooled statistics (batch, [frames,] 2 * size); a speaker-relative head first
        subtracts the speaker reference (batch, 2 * size), or the population's without one."""
        if self.speaker_relative:
            if reference is None:
                reference = self.population_reference.expand(statistics.shape[0], -1)
            if statistics.dim() == 3:
                reference = reference[:, None]
        logits = self.classifier(statistics - reference if self.speaker_relative else statistics)
        if self.prosody is not None:
            logits = logits * self.classifier_gate + self.prosody(self.prosody_inputs(statistics, reference))
        return logits

    def prosody_inputs(self, statistics: torch.Tensor, reference: torch.Tensor | None) -> torch.Tensor:
        """What the pitch path reads: the pitch features' pooled means and standard deviations, and
        with `voiced_pitch` the voiced frames' mean log F0 and its spread, each relative to the
        reference's when there is one (the ratio of the reference's means, not the mean of ratios)."""
        relative = statistics - reference if reference is not None else statistics
        inputs = self.pitch_statistics(relative)
        if self.voiced_pitch:
            voiced = self.voiced_pitch_statistics(statistics)
            if reference is not None:
                voiced = voiced - self.voiced_pitch_statistics(reference)
            inputs = torch.cat([inputs, voiced], dim=-1)
        return inputs

    def pitch_statistics(self, statistics: torch.Tensor) -> torch.Tensor:
        """The pitch features' means and standard deviations out of pooled statistics."""
        size, pitch = self.size, self.pitch_features
        return torch.cat([statistics[..., size - pitch : size], statistics[..., 2 * size - pitch :]], dim=-1)

    def voiced_pitch_statistics(self, statistics: torch.Tensor) -> torch.Tensor:
        """The voiced frames' (attention-weighted) mean log F0 and its standard deviation, from the
        pooled mean and deviation of the pitch feature (zero where unvoiced) and the voiced share:
        E[f | voiced] = E[f] / E[v], E[f^2 | voiced] = (std^2 + E[f]^2) / E[v]."""
        first = self.size - self.pitch_features
        mean_log_f0, voiced_share = statistics[..., first + LOG_F0], statistics[..., first + VOICED]
        std_log_f0 = statistics[..., self.size + first + LOG_F0]
        share = voiced_share.clamp(min=MIN_VOICED_SHARE)
        mean = mean_log_f0 / share
        variance = (std_log_f0 * std_log_f0 + mean_log_f0 * mean_log_f0) / share - mean * mean
        return torch.stack([mean, variance.clamp(min=0.0).sqrt()], dim=-1)

    def reference_for_genders(self, genders: list[str | None]) -> torch.Tensor:
        """Each recording's gender reference (batch, 2 * size); the population's where the gender is
        unknown or its reference was not fitted."""
        rows = []
        for gender in genders:
            row = self.gender_references[GENDERS.index(gender)] if gender in GENDERS else None
            rows.append(row if row is not None and bool(torch.isfinite(row).all()) else self.population_reference)
        return torch.stack(rows)

    def fitted_gender_references(self) -> dict[str, list[float]]:
        """The fitted gender references by gender (what the export's metadata carries)."""
        return {g: row.tolist() for g, row in zip(GENDERS, self.gender_references, strict=True) if bool(torch.isfinite(row).all())}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Models saved before gender references existed load with none fitted.
        if self.speaker_relative:
            state_dict.setdefault(prefix + "gender_references", self.gender_references.clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def update_population_reference(self, statistics: torch.Tensor, momentum: float = 0.01) -> None:
        with torch.no_grad():
            self.population_reference.lerp_(statistics.mean(dim=0), momentum)

    def trajectory(
        self, x: torch.Tensor, window: int, banded: bool = False, reference: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Class logits of the `window` frames starting at each frame: (batch, frames, classes)."""
        return self.classify(self.pooling.windowed(x, window, banded), reference)


# The studio's rule (src/model/reference.rs): a speaker reference is the mean of at least this many of
# the speaker's other recordings; with fewer, the population's reference stands in.
MIN_OTHER_RECORDINGS = 2


def leave_one_out_reference(
    statistics: torch.Tensor, speakers: torch.Tensor, fallback: torch.Tensor, minimum_others: int = 1
) -> torch.Tensor:
    """Each item's speaker reference within a batch: the mean statistics of the batch's other items of
    the same speaker (batch, 2 * size); `fallback` where the speaker has fewer than `minimum_others`
    other items."""
    same = (speakers[:, None] == speakers[None, :]).float()
    same.fill_diagonal_(0)
    others = same.sum(dim=1, keepdim=True)
    mean = same @ statistics / others.clamp(min=1)
    return torch.where(others >= max(minimum_others, 1), mean, fallback.expand_as(statistics))


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
