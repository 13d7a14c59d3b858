"""Snakemake script: fANOVA importance of one task's hyperparameters, table and Figs. 4-6."""

from lstm_odyssey.analysis.fanova import ForestSettings
from lstm_odyssey.analysis.fanova_tables import task_fanova
from lstm_odyssey.analysis.table import read_table, task_label
from lstm_odyssey.io import atomic_write_tsv
from lstm_odyssey.joblog import job_logging
from lstm_odyssey.plots.fanova_figures import write_fanova_figures
from lstm_odyssey.search.space import search_dimensions

with job_logging(snakemake.log[0]):
    trials = read_table(snakemake.input.trials)
    forest = snakemake.params.forest
    fanova = task_fanova(
        trials, search_dimensions(snakemake.params.search), ForestSettings.from_config(forest)
    )
    atomic_write_tsv(fanova.table(), snakemake.output.importance)
    write_fanova_figures(
        fanova,
        task=task_label(trials, snakemake.wildcards.task),
        metric_name=str(trials["metric"].iloc[0]) if len(trials) else "metric",
        baseline=snakemake.params.baseline,
        grid_size=int(forest["grid_size"]),
        marginals_path=snakemake.output.marginals,
        pies_path=snakemake.output.pies,
        pairs_path=snakemake.output.pairs,
    )
