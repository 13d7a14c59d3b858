"""Snakemake script: one task's trial JSONs -> its tidy trials table and epochs table."""

import sys
from pathlib import Path

# The library from this checkout, also where it is not installed (e.g. --use-conda).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from lstm_odyssey.analysis.table import collect_trials, write_table
from lstm_odyssey.joblog import job_logging

with job_logging(snakemake.log[0]):
    trials, epochs = collect_trials(list(snakemake.input))
    write_table(trials, snakemake.output.trials)
    write_table(epochs, snakemake.output.epochs)
