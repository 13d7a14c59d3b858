"""Snakemake script: the per-task trials tables -> one study-wide table."""

import sys
from pathlib import Path

# The library from this checkout, also where it is not installed (e.g. --use-conda).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

import pandas as pd

from lstm_odyssey.analysis.table import read_table, write_table
from lstm_odyssey.joblog import job_logging

with job_logging(snakemake.log[0]):
    write_table(
        pd.concat([read_table(p) for p in snakemake.input], ignore_index=True), snakemake.output[0]
    )
