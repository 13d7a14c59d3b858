"""Snakemake script: corpus -> prepared HDF5 for one task."""

import sys
from pathlib import Path

# The library from this checkout, also where it is not installed (e.g. --use-conda).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from lstm_odyssey.data.prepare import prepare_task
from lstm_odyssey.joblog import job_logging

with job_logging(snakemake.log[0]):
    prepare_task(snakemake.wildcards.task, dict(snakemake.params.data), snakemake.output[0])
