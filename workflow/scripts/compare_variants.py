"""Snakemake script: Welch's t-tests against the baseline, the box plot, the learning curves."""

from lstm_odyssey.analysis.table import read_table, write_table
from lstm_odyssey.analysis.welch import welch_against_vanilla
from lstm_odyssey.joblog import job_logging
from lstm_odyssey.plots.comparison import plot_learning_curves, plot_variant_boxplot

with job_logging(snakemake.log[0]):
    task = snakemake.wildcards.task
    trials = read_table(snakemake.input.trials)
    epochs = read_table(snakemake.input.epochs)
    welch = welch_against_vanilla(
        trials,
        baseline=snakemake.params.baseline,
        fraction=snakemake.params.fraction,
        minimum=snakemake.params.minimum,
        alpha=snakemake.params.alpha,
    )
    write_table(welch, snakemake.output.welch)
    selection = {"fraction": snakemake.params.fraction, "minimum": snakemake.params.minimum}
    plot_variant_boxplot(trials, welch, task, snakemake.output.boxplot, **selection)
    plot_learning_curves(trials, epochs, task, snakemake.output.learning_curves, **selection)
