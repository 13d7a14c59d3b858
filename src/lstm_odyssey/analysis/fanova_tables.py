"""One task's fANOVA: the pooled and per-variant decompositions and the importance table.

Only trials with a finite metric enter a forest (the trials table already penalises diverged
trials with the task's worst value, so this drops nothing unless a whole task diverged). A subset
with fewer than two such trials is left out with a warning; if even the pooled trials are too
few, the table is empty and the figures say why -- a study of diverged trials is a result too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstm_odyssey.analysis.fanova import FanovaResult, ForestSettings, fanova_importance
from lstm_odyssey.search.space import SearchDimension

log = logging.getLogger(__name__)

POOLED = "all variants"
"""The subset name of all trials of a task together."""

IMPORTANCE_COLUMNS = (
    "trials",
    "metric",
    "term",
    "dimensions",
    "fraction_mean",
    "fraction_std",
    "forest_out_of_bag_r2",
)


def importance_by_subset(
    trials: pd.DataFrame,
    dimensions: Sequence[SearchDimension],
    metric: str,
    forest: ForestSettings,
) -> dict[str, FanovaResult]:
    """fANOVA of `metric` for all trials pooled ("all variants") and for each variant alone."""
    subsets = {POOLED: trials, **dict(tuple(trials.groupby("variant", sort=False)))}
    results = {}
    for name, subset in subsets.items():
        subset = subset[np.isfinite(subset[metric].astype(float))]
        if len(subset) < 2:
            log.warning(
                "fANOVA of %s: %s has %d trials with a finite value; left out",
                metric,
                name,
                len(subset),
            )
            continue
        results[name] = fanova_importance(subset, dimensions, metric, forest)
    return results


def importance_table(results: Sequence[dict[str, FanovaResult]]) -> pd.DataFrame:
    tables = []
    for by_subset in results:
        for subset, result in by_subset.items():
            table = result.importance_table()
            table.insert(0, "metric", result.metric)
            table.insert(0, "trials", subset)
            table["forest_out_of_bag_r2"] = result.out_of_bag_r2
            tables.append(table)
    if not tables:
        return pd.DataFrame(columns=list(IMPORTANCE_COLUMNS))
    return pd.concat(tables, ignore_index=True)


@dataclass(frozen=True)
class TaskFanova:
    """A task's decompositions of the test metric and of the training time, by subset."""

    test_metric: dict[str, FanovaResult]
    train_seconds: dict[str, FanovaResult]

    def table(self) -> pd.DataFrame:
        """Every term of every decomposition (the `fanova_importance.tsv` rows)."""
        return importance_table([self.test_metric, self.train_seconds])


def task_fanova(
    trials: pd.DataFrame, dimensions: Sequence[SearchDimension], forest: ForestSettings
) -> TaskFanova:
    """fANOVA of the test metric and of the training time: pooled and per variant."""
    return TaskFanova(
        importance_by_subset(trials, dimensions, "test_metric", forest),
        importance_by_subset(trials, dimensions, "train_seconds", forest),
    )
