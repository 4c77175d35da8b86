"""Seeds, resumable checkpoints and JSON-lines logs shared by the training scripts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch


def device() -> torch.device:
    """CUDA when there is a GPU, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure_threads(threads: int) -> None:
    """Intra-op threads for torch on the CPU. With other work on the cores, more threads than free
    cores make every small op (LSTM steps above all) wait on OpenMP barriers: measured here, a
    2-layer BLSTM step took 21 s with 2 threads on 2 busy cores and 0.06 s with 1 thread."""
    if threads > 0:
        torch.set_num_threads(threads)


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def save_checkpoint(path: Path, model, optimiser, schedule, epoch: int, **extra) -> None:
    """Written to a temporary file and renamed, so an interrupted run never leaves half a checkpoint."""
    temp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "schedule": schedule.state_dict() if schedule is not None else None,
            "epoch": epoch,
            **extra,
        },
        temp,
    )
    temp.replace(path)


def load_checkpoint(path: Path, model, optimiser=None, schedule=None) -> int:
    state = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    if optimiser is not None:
        optimiser.load_state_dict(state["optimiser"])
    if schedule is not None and state.get("schedule") is not None:
        schedule.load_state_dict(state["schedule"])
    return int(state["epoch"])


def log_line(path: Path, entry: dict) -> None:
    print(json.dumps(entry), flush=True)
    with path.open("a") as log:
        log.write(json.dumps(entry) + "\n")
