"""One task's fANOVA outputs: the importance table and the Figs. 4-6 analogs, from the table.

Only trials with a finite metric enter a forest (the trials table already penalises diverged
trials with the task's worst value, so this drops nothing unless a whole task diverged). A subset
with fewer than two such trials is left out with a warning; if even the pooled trials are too
few, the table is empty and each figure says why -- a study of diverged trials is a result too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lstm_odyssey.analysis.fanova import FanovaResult, ForestSettings, fanova_importance
from lstm_odyssey.io import atomic_savefig, atomic_write_tsv
from lstm_odyssey.plots.fanova import plot_marginals, plot_pair_heatmaps, plot_variance_pies
from lstm_odyssey.search.space import SearchDimension

log = logging.getLogger(__name__)

IMPORTANCE_COLUMNS = (
    "trials",
    "metric",
    "term",
    "dimensions",
    "fraction_mean",
    "fraction_std",
    "forest_out_of_bag_r2",
)


def _importance_by_subset(
    trials: pd.DataFrame,
    dimensions: Sequence[SearchDimension],
    metric: str,
    forest: ForestSettings,
) -> dict[str, FanovaResult]:
    """fANOVA of `metric` for all trials pooled ("all variants") and for each variant alone."""
    subsets = {"all variants": trials, **dict(tuple(trials.groupby("variant", sort=False)))}
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


def _importance_table(results: Sequence[dict[str, FanovaResult]]) -> pd.DataFrame:
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


def _no_results_figure(path: str | os.PathLike, title: str, message: str) -> None:
    figure = Figure(figsize=(6.0, 2.5), layout="constrained")
    axis = figure.subplots()
    axis.set_axis_off()
    axis.set_title(title)
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    atomic_savefig(figure, path)


def write_fanova_outputs(
    trials: pd.DataFrame,
    dimensions: Sequence[SearchDimension],
    forest: ForestSettings,
    *,
    task: str,
    baseline: str,
    grid_size: int,
    importance_path: str | os.PathLike,
    marginals_path: str | os.PathLike,
    pies_path: str | os.PathLike,
    pairs_path: str | os.PathLike,
) -> pd.DataFrame:
    """Write the importance table (every term, per subset and metric) and the three figures."""
    metric_results = _importance_by_subset(trials, dimensions, "test_metric", forest)
    time_results = _importance_by_subset(trials, dimensions, "train_seconds", forest)
    table = _importance_table([metric_results, time_results])
    atomic_write_tsv(table, importance_path)

    titles = {
        marginals_path: f"{task}: marginal effects",
        pies_path: f"{task}: fANOVA variance fractions",
        pairs_path: f"{task}: strongest pairs",
    }
    pooled = metric_results.pop("all variants", None)
    if pooled is None:
        for path, title in titles.items():
            _no_results_figure(path, title, "fewer than two trials with a finite test metric")
        return table
    metric_label = f"test {trials['metric'].iloc[0]}"
    primary = baseline if baseline in metric_results else next(iter(metric_results), None)
    if primary is None:
        _no_results_figure(
            marginals_path,
            titles[marginals_path],
            "no variant has two trials with a finite test metric",
        )
    else:
        time_results.pop("all variants", None)
        plot_marginals(
            metric_results,
            marginals_path,
            time_results=time_results or None,
            primary=primary,
            metric_label=metric_label,
            grid_size=grid_size,
            title=titles[marginals_path],
        )
    pies = {"all variants": pooled}
    if baseline in metric_results:
        pies[baseline] = metric_results[baseline]
    plot_variance_pies(pies, pies_path, title=titles[pies_path])
    plot_pair_heatmaps(
        pooled, pairs_path, grid_size=grid_size, metric_label=metric_label, title=titles[pairs_path]
    )
    return table
