"""Snakemake script: generate a task's stand-in corpus in the real corpus's layout and formats."""

from lstm_odyssey.data import registry
from lstm_odyssey.joblog import job_logging

with job_logging(snakemake.log[0]):
    task = registry.stand_in_task(snakemake.wildcards.corpus)
    registry.generate_stand_in(task, dict(snakemake.params.options), snakemake.output[0])
