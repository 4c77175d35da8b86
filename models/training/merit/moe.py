"""Layer aggregation and the shared pool of experts with one frame-wise router per task."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class LayerAggregator(nn.Module):
    """Per-layer LayerNorm over all hidden states, then concatenation (default) or a softmax-weighted sum."""

    def __init__(self, num_states: int, hidden_size: int, mode: str = "concat"):
        super().__init__()
        if mode not in ("concat", "weighted_sum"):
            raise ValueError(f"unknown aggregation {mode!r} (use concat or weighted_sum)")
        self.mode = mode
        self.layer_norms = nn.ModuleList(nn.LayerNorm(hidden_size) for _ in range(num_states))
        self.layer_weights = nn.Parameter(torch.zeros(num_states)) if mode == "weighted_sum" else None
        self.output_size = hidden_size * num_states if mode == "concat" else hidden_size

    def forward(self, hidden_states: list[torch.Tensor]) -> torch.Tensor:
        normed = [norm(state) for norm, state in zip(self.layer_norms, hidden_states, strict=True)]
        if self.layer_weights is None:
            return torch.cat(normed, dim=-1)
        weights = F.softmax(self.layer_weights, dim=0)
        return sum(w * s for w, s in zip(weights, normed))


class Expert(nn.Module):
    def __init__(self, input_size: int, hidden: int, output: int):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden)
        self.fc2 = nn.Linear(hidden, output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


class Router(nn.Module):
    def __init__(self, input_size: int, num_experts: int):
        super().__init__()
        self.fc = nn.Linear(input_size, num_experts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.fc(x), dim=-1)


@dataclass
class Routing:
    """One task's routing: its mixed expert output and router probabilities per frame."""

    features: torch.Tensor  # (batch, frames, expert_out)
    probs: torch.Tensor  # (batch, frames, experts), before top-k
    chosen: torch.Tensor  # (batch, frames, experts), 1 for the top-k experts


GATES = ("probability", "one_hot")


def top_k_gate(probs: torch.Tensor, k: int, mode: str = "probability") -> tuple[torch.Tensor, torch.Tensor]:
    """Keeps the k most probable experts per frame. With mode "probability" the gate is the router
    probability itself (scaled to sum to 1 when k > 1), as in Switch Transformer, so the routers get
    a gradient; with "one_hot" the chosen experts count fully, as in the authors' released model
    (inference of converted weights only: the routers get no gradient)."""
    indices = torch.topk(probs, k, dim=-1).indices
    chosen = torch.zeros_like(probs).scatter(-1, indices, 1.0)
    gate = probs * chosen if mode == "probability" else chosen
    if k > 1:
        gate = gate / gate.sum(dim=-1, keepdim=True).clamp(min=1e-9)
    return gate, chosen


def load_balance_loss(probs: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Switch Transformer's auxiliary loss: experts * sum_i(fraction routed to i * mean prob of i);
    1.0 when routing is uniform, larger when it collapses."""
    experts = probs.shape[-1]
    fraction = chosen.reshape(-1, experts).mean(dim=0)
    mean_prob = probs.reshape(-1, experts).mean(dim=0)
    return experts * (fraction * mean_prob).sum()


class MixtureOfExperts(nn.Module):
    """Shared experts; router 0 serves speech enhancement, router 1 emotion recognition."""

    TASKS = ("se", "ser")

    def __init__(
        self, input_size: int, num_experts: int, hidden: int, output: int, top_k: int = 1, gate: str = "probability"
    ):
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError(f"top_k must be between 1 and {num_experts}, got {top_k}")
        if gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, got {gate!r}")
        self.top_k = top_k
        self.gate = gate
        self.experts = nn.ModuleList(Expert(input_size, hidden, output) for _ in range(num_experts))
        self.gates = nn.ModuleList(Router(input_size, num_experts) for _ in self.TASKS)

    def forward(self, x: torch.Tensor) -> dict[str, Routing]:
        probs = [router(x) for router in self.gates]
        gated = [top_k_gate(p, self.top_k, self.gate) for p in probs]
        gates = [gate for gate, _ in gated]
        if self.training:
            expert_outputs = torch.stack([expert(x) for expert in self.experts], dim=-1)  # (B, T, out, E)
            mixed = [(expert_outputs * gate.unsqueeze(2)).sum(dim=-1) for gate in gates]
        else:
            mixed = self.sparse_mix(x, gates, sum(chosen for _, chosen in gated) > 0)
        return {
            task: Routing(features, p, chosen)
            for task, features, p, (_, chosen) in zip(self.TASKS, mixed, probs, gated, strict=True)
        }

    def sparse_mix(self, x: torch.Tensor, gates: list[torch.Tensor], needed: torch.Tensor) -> list[torch.Tensor]:
        """Each task's mixed expert output with every expert run only on the frames some router chose
        it for: the other gates are exactly zero, so this is the dense mixture's value at a fraction
        of its cost (top-1 of 3 experts and two routers: at most 2 expert runs per frame instead of 3;
        the authors' experts take WavLM Large's 25 concatenated layers, their largest matrices).
        Training keeps the dense mixture: every expert's output gets the gradient of its zero gate."""
        size = x.shape[-1]
        flat = x.reshape(-1, size)
        needed = needed.reshape(-1, needed.shape[-1])
        flat_gates = [gate.reshape(-1, gate.shape[-1]) for gate in gates]
        outputs = [flat.new_zeros(flat.shape[0], self.experts[0].fc2.out_features) for _ in gates]
        for number, expert in enumerate(self.experts):
            rows = torch.nonzero(needed[:, number]).squeeze(1)
            y = expert(flat.index_select(0, rows))
            for output, gate in zip(outputs, flat_gates, strict=True):
                output.index_add_(0, rows, y * gate.index_select(0, rows)[:, number : number + 1])
        return [output.reshape(*x.shape[:-1], -1) for output in outputs]
