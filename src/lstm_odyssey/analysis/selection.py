"""Which trials count as a variant's best: selected once, read by the Welch tests and the figures.

The paper judges each variant by its best 10% of random-search trials, chosen by validation
metric: "how good can this variant get with a reasonable search". The selection lives here so the
tests and every figure see exactly the same rows.
"""

from __future__ import annotations

import math

import pandas as pd

from lstm_odyssey.analysis.table import sort_by_address

__all__ = ["best_count", "best_trials"]


def best_count(n_trials: int, fraction: float = 0.10, minimum: int = 2) -> int:
    """How many of `n_trials` trials count as the best `fraction`: ceil, >= minimum, <= all."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if minimum < 1:
        raise ValueError(f"minimum must be at least 1, got {minimum}")
    # Round first so that 0.1 * 30 = 3.0000000000000004 counts as 3, not 4.
    wanted = math.ceil(round(fraction * n_trials, 9))
    return min(n_trials, max(minimum, wanted))


def best_trials(trials: pd.DataFrame, fraction: float = 0.10, minimum: int = 2) -> pd.DataFrame:
    """Per (task, variant), the trials with the lowest `valid_metric` (see `best_count`).

    Ties are broken by trial index, so the selection is deterministic; rows with a NaN validation
    metric sort last. Returned rows keep all columns, in address order.
    """
    chosen = []
    for _, group in trials.groupby(["task", "variant"], sort=False):
        ranked = group.sort_values(["valid_metric", "index"], kind="stable", na_position="last")
        chosen.append(ranked.head(best_count(len(group), fraction, minimum)))
    if not chosen:
        return trials.iloc[0:0].copy()
    return sort_by_address(pd.concat(chosen))
