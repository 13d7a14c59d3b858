"""Snakemake script: corpus -> prepared HDF5 for one task (features extracted in parallel)."""

from lstm_odyssey.data.prepare import prepare_task
from lstm_odyssey.joblog import job_logging

with job_logging(snakemake.log[0]):
    prepare_task(
        snakemake.wildcards.task,
        dict(snakemake.params.data),
        snakemake.output[0],
        workers=snakemake.threads,
        stand_in=snakemake.params.stand_in,
    )
