"""Inputs standardised with the training split's statistics, as every corpus's preparation does.

Per input dimension: the mean and standard deviation over every training frame (or pen point),
computed in float64; a constant input keeps std 1. The same statistics are applied to every
split and stored in the prepared file (`input_mean`, `input_std`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def training_statistics(train_inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-input mean and standard deviation over all training steps (std 1 where constant)."""
    stacked = np.concatenate(train_inputs).astype(np.float64)
    mean = stacked.mean(axis=0)
    std = stacked.std(axis=0)
    std[std == 0] = 1.0
    return mean, std


def standardise(inputs: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """One sequence's inputs with the training statistics applied, as float32."""
    return ((inputs - mean) / std).astype(np.float32)
