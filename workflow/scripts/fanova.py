"""Snakemake script: fANOVA importance of one task's hyperparameters, table and Figs. 4-6."""

import sys
from pathlib import Path

# The library from this checkout, also where it is not installed (e.g. --use-conda).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

import pandas as pd

from lstm_odyssey.analysis.fanova import ForestSettings, fanova_importance
from lstm_odyssey.analysis.table import read_table
from lstm_odyssey.io import atomic_write_tsv
from lstm_odyssey.joblog import job_logging
from lstm_odyssey.plots.fanova import plot_marginals, plot_pair_heatmaps, plot_variance_pies
from lstm_odyssey.search.space import search_dimensions

with job_logging(snakemake.log[0]):
    task, baseline = snakemake.wildcards.task, snakemake.params.baseline
    forest_config = dict(snakemake.params.forest)
    grid_size = int(forest_config.pop("grid_size", 50))
    forest = ForestSettings(n_trees=forest_config.pop("trees", 64), **forest_config)
    dimensions = search_dimensions(snakemake.params.search)
    trials = read_table(snakemake.input.trials)
    metric_label = f"test {trials['metric'].iloc[0]}"
    per_variant = {
        variant: fanova_importance(group, dimensions, "test_metric", forest)
        for variant, group in trials.groupby("variant", sort=False)
    }
    time_per_variant = {
        variant: fanova_importance(group, dimensions, "train_seconds", forest)
        for variant, group in trials.groupby("variant", sort=False)
    }
    pooled = fanova_importance(trials, dimensions, "test_metric", forest)
    pooled_time = fanova_importance(trials, dimensions, "train_seconds", forest)
    # One table: every term's share for the pooled trials and for each variant alone, of both
    # the test metric and the training time.
    tables = []
    for subset, metric_result, time_result in [
        ("all variants", pooled, pooled_time),
        *((v, per_variant[v], time_per_variant[v]) for v in per_variant),
    ]:
        for result in (metric_result, time_result):
            table = result.importance_table()
            table.insert(0, "metric", result.metric)
            table.insert(0, "trials", subset)
            table["forest_out_of_bag_r2"] = result.out_of_bag_r2
            tables.append(table)
    atomic_write_tsv(pd.concat(tables, ignore_index=True), snakemake.output.importance)
    plot_marginals(
        per_variant,
        snakemake.output.marginals,
        time_results=time_per_variant,
        primary=baseline,
        metric_label=metric_label,
        grid_size=grid_size,
        title=f"{task}: marginal effects",
    )
    plot_variance_pies(
        {"all variants": pooled, baseline: per_variant[baseline]},
        snakemake.output.pies,
        title=f"{task}: fANOVA variance fractions",
    )
    plot_pair_heatmaps(
        pooled,
        snakemake.output.pairs,
        grid_size=grid_size,
        metric_label=metric_label,
        title=f"{task}: strongest pairs",
    )
