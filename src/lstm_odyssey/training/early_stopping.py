"""Early stopping on the validation metric (lower is better), as in the paper's protocol."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class EarlyStopping:
    """Tracks the best validation epoch and says when `patience` epochs brought no improvement."""

    patience: int
    best_valid_metric: float = math.inf
    best_valid_epoch: int | None = None
    last_epoch: int = 0

    def update(self, epoch: int, valid_metric: float) -> bool:
        """Record `epoch`'s validation metric; return True when it is a new best."""
        self.last_epoch = epoch
        if math.isfinite(valid_metric) and valid_metric < self.best_valid_metric:
            self.best_valid_metric = valid_metric
            self.best_valid_epoch = epoch
            return True
        return False

    @property
    def should_stop(self) -> bool:
        """True once `patience` epochs have passed since the best one."""
        reference = self.best_valid_epoch if self.best_valid_epoch is not None else 0
        return self.last_epoch - reference >= self.patience
