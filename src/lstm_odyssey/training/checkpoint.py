"""Per-epoch checkpoints so a killed trial resumes where it stopped instead of starting over."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from lstm_odyssey.io import atomic_path


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write `state` atomically (temp file in the same directory, then rename)."""
    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def load_checkpoint(path: str | os.PathLike, key: str) -> dict[str, Any] | None:
    """The checkpoint at `path` if it belongs to the trial identified by `key`, else None.

    A checkpoint of another configuration (hyperparameters or data changed) or an unreadable
    one is ignored, so a stale file can never leak into a new result.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # a torn or foreign file: start afresh
        return None
    if not isinstance(state, dict) or state.get("key") != key:
        return None
    return state
