"""Snakemake script: one task's trial JSONs -> its tidy trials table and epochs table."""

from lstm_odyssey.analysis.table import collect_trials, prepared_output_size, write_table
from lstm_odyssey.joblog import job_logging

with job_logging(snakemake.log[0]):
    # A file that is not a valid record is set aside (renamed) so the next run rebuilds it.
    trials, epochs = collect_trials(
        list(snakemake.input.trials),
        set_aside_broken=True,
        output_sizes={snakemake.wildcards.task: prepared_output_size(snakemake.input.data)},
    )
    write_table(trials, snakemake.output.trials)
    write_table(epochs, snakemake.output.epochs)
