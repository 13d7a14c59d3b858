"""Snakemake script: the tables, figures and report of the trials finished so far (`interim`)."""

from lstm_odyssey.joblog import job_logging
from lstm_odyssey.paths import study_paths
from lstm_odyssey.plots.interim import write_interim_results

with job_logging(snakemake.log[0]):
    paths = study_paths(snakemake.config)
    interim = write_interim_results(snakemake.config, paths)
    print(f"{paths.interim_report} ({interim.note()})")
