"""Snakemake script: Welch's t-tests against the baseline, the box plot, the learning curves."""

from lstm_odyssey.analysis.selection import best_trials
from lstm_odyssey.analysis.table import read_table, write_table
from lstm_odyssey.analysis.welch import welch_against_vanilla
from lstm_odyssey.joblog import job_logging
from lstm_odyssey.plots.comparison import plot_learning_curves, plot_variant_boxplot

with job_logging(snakemake.log[0]):
    task = snakemake.wildcards.task
    fraction = snakemake.params.fraction
    # Selected once: the tests and both figures read exactly these trials.
    best = best_trials(read_table(snakemake.input.trials), fraction, snakemake.params.minimum)
    epochs = read_table(snakemake.input.epochs)
    welch = welch_against_vanilla(best, snakemake.params.baseline, snakemake.params.alpha)
    write_table(welch, snakemake.output.welch)
    plot_variant_boxplot(best, welch, task, snakemake.output.boxplot, fraction)
    plot_learning_curves(best, epochs, task, snakemake.output.learning_curves, fraction)
