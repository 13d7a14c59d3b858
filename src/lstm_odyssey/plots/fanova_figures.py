"""One task's fANOVA figures (Figs. 4-6 analogs) from its decompositions.

A subset without a decomposition (fewer than two finite trials) is left out; if even the pooled
trials have none, each figure says why instead of failing the job.
"""

from __future__ import annotations

import os

from matplotlib.figure import Figure

from lstm_odyssey.analysis.fanova_tables import POOLED, TaskFanova
from lstm_odyssey.io import atomic_savefig
from lstm_odyssey.plots.fanova import plot_marginals, plot_pair_heatmaps, plot_variance_pies


def _no_results_figure(path: str | os.PathLike, title: str, message: str) -> None:
    figure = Figure(figsize=(6.0, 2.5), layout="constrained")
    axis = figure.subplots()
    axis.set_axis_off()
    axis.set_title(title)
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    atomic_savefig(figure, path)


def write_fanova_figures(
    fanova: TaskFanova,
    *,
    task: str,
    metric_name: str,
    baseline: str,
    grid_size: int,
    marginals_path: str | os.PathLike,
    pies_path: str | os.PathLike,
    pairs_path: str | os.PathLike,
) -> None:
    """Write the marginals, the variance pies and the strongest pairs of one task."""
    metric_results = dict(fanova.test_metric)
    time_results = dict(fanova.train_seconds)

    titles = {
        marginals_path: f"{task}: marginal effects",
        pies_path: f"{task}: fANOVA variance fractions",
        pairs_path: f"{task}: strongest pairs",
    }
    pooled = metric_results.pop(POOLED, None)
    if pooled is None:
        for path, title in titles.items():
            _no_results_figure(path, title, "fewer than two trials with a finite test metric")
        return
    metric_label = f"test {metric_name}"
    primary = baseline if baseline in metric_results else next(iter(metric_results), None)
    if primary is None:
        _no_results_figure(
            marginals_path,
            titles[marginals_path],
            "no variant has two trials with a finite test metric",
        )
    else:
        time_results.pop(POOLED, None)
        plot_marginals(
            metric_results,
            marginals_path,
            time_results=time_results or None,
            primary=primary,
            metric_label=metric_label,
            grid_size=grid_size,
            title=titles[marginals_path],
        )
    pies = {POOLED: pooled}
    if baseline in metric_results:
        pies[baseline] = metric_results[baseline]
    plot_variance_pies(pies, pies_path, title=titles[pies_path])
    plot_pair_heatmaps(
        pooled, pairs_path, grid_size=grid_size, metric_label=metric_label, title=titles[pairs_path]
    )
