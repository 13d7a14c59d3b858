"""Which variants differ from vanilla LSTM: the paper's Welch's t-tests (Section V-A, Fig. 3).

The paper compares, per task, the best 10% of each variant's random-search trials (chosen by
validation metric, `analysis.selection.best_trials`, once for the tests and the figures) on their
test metric, against vanilla's best 10%, with Welch's t-test
(unequal variances) at p < 0.05. Taking the best trials rather than all of them asks "how good can
this variant get with a reasonable search", which is the question a practitioner has.

Penalised values: a diverged or exploded trial (`analysis.table`) enters with the task's worst
ordinary value. `n_diverged` and `n_exploded` count how many of a row's `n` values are such
stand-ins, so a reader sees when a test rests on them.

Undefined tests: with fewer than two finite values on either side, or when both sides have zero
variance (so the standard error is zero), Welch's t statistic is undefined. Such rows get NaN
t statistic, degrees of freedom and p value, `significant` False and direction "same"; nothing
raises.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from lstm_odyssey.analysis.table import sort_by_address

__all__ = ["WELCH_COLUMNS", "welch_against_vanilla"]

WELCH_COLUMNS: tuple[str, ...] = (
    "task",
    "variant",
    "n",
    "n_diverged",
    "n_exploded",
    "mean",
    "std",
    "median",
    "mean_parameter_count",
    "baseline_mean",
    "difference",
    "t_statistic",
    "degrees_of_freedom",
    "p_value",
    "significant",
    "direction",
)


def _welch_test(sample: np.ndarray, baseline: np.ndarray) -> tuple[float, float, float]:
    """(t statistic, Welch-Satterthwaite degrees of freedom, two-sided p); NaN where undefined."""
    if len(sample) < 2 or len(baseline) < 2:
        return math.nan, math.nan, math.nan
    variance_a = sample.var(ddof=1) / len(sample)
    variance_b = baseline.var(ddof=1) / len(baseline)
    if variance_a + variance_b == 0:
        return math.nan, math.nan, math.nan
    result = stats.ttest_ind(sample, baseline, equal_var=False)
    degrees = (variance_a + variance_b) ** 2 / (
        variance_a**2 / (len(sample) - 1) + variance_b**2 / (len(baseline) - 1)
    )
    return float(result.statistic), float(degrees), float(result.pvalue)


def _direction(difference: float, p_value: float, alpha: float) -> str:
    if not p_value < alpha:  # also catches NaN
        return "same"
    return "better" if difference < 0 else "worse"


def welch_against_vanilla(
    best: pd.DataFrame, baseline: str = "V", alpha: float = 0.05
) -> pd.DataFrame:
    """One row per (task, variant): the `best` trials' test metric against the baseline's.

    `best` is the selection of `best_trials`; the figures draw the same rows.

    Every metric is lower-is-better, so "better" means significantly lower than the baseline.
    The baseline's own row carries its summary statistics, NaN test statistics and direction
    "baseline". A task without baseline trials is an error: there is nothing to compare with.
    """
    rows = []
    for task, task_best in best.groupby("task", sort=False):
        if baseline not in set(task_best["variant"]):
            raise ValueError(f"task {task}: no trials of the baseline variant {baseline!r}")
        by_variant = dict(tuple(task_best.groupby("variant", sort=False)))
        baseline_values = _finite(by_variant[baseline]["test_metric"])
        baseline_mean = float(baseline_values.mean()) if len(baseline_values) else math.nan
        for variant, group in by_variant.items():
            values = _finite(group["test_metric"])
            mean = float(values.mean()) if len(values) else math.nan
            row = {
                "task": task,
                "variant": variant,
                "n": len(values),
                "n_diverged": _count(group, "diverged"),
                "n_exploded": _count(group, "exploded"),
                "mean": mean,
                "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                "median": float(np.median(values)) if len(values) else math.nan,
                "mean_parameter_count": float(group["parameter_count"].mean()),
                "baseline_mean": baseline_mean,
                "difference": mean - baseline_mean,
            }
            if variant == baseline:
                t_statistic = degrees = p_value = math.nan
                direction = "baseline"
            else:
                t_statistic, degrees, p_value = _welch_test(values, baseline_values)
                direction = _direction(row["difference"], p_value, alpha)
            row.update(
                t_statistic=t_statistic,
                degrees_of_freedom=degrees,
                p_value=p_value,
                significant=bool(p_value < alpha),
                direction=direction,
            )
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(WELCH_COLUMNS))
    table["significant"] = table["significant"].astype(bool)
    return sort_by_address(table)


def _count(group: pd.DataFrame, flag: str) -> int:
    """How many rows carry `flag` (0 where the table has no such column)."""
    return int(group[flag].astype(bool).sum()) if flag in group.columns else 0


def _finite(values: pd.Series) -> np.ndarray:
    array = values.to_numpy(dtype=float)
    return array[np.isfinite(array)]
