"""Snakemake script: fANOVA importance of one task's hyperparameters, table and Figs. 4-6."""

from lstm_odyssey.analysis.fanova import ForestSettings
from lstm_odyssey.analysis.table import read_table
from lstm_odyssey.joblog import job_logging
from lstm_odyssey.plots.fanova_outputs import write_fanova_outputs
from lstm_odyssey.search.space import search_dimensions

with job_logging(snakemake.log[0]):
    forest_config = dict(snakemake.params.forest)
    grid_size = int(forest_config.pop("grid_size"))
    write_fanova_outputs(
        read_table(snakemake.input.trials),
        search_dimensions(snakemake.params.search),
        ForestSettings(n_trees=forest_config.pop("trees"), **forest_config),
        task=snakemake.wildcards.task,
        baseline=snakemake.params.baseline,
        grid_size=grid_size,
        importance_path=snakemake.output.importance,
        marginals_path=snakemake.output.marginals,
        pies_path=snakemake.output.pies,
        pairs_path=snakemake.output.pairs,
    )
