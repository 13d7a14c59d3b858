"""Snakemake script: the per-task trials tables -> one study-wide table."""

import pandas as pd

from lstm_odyssey.analysis.table import read_table, write_table
from lstm_odyssey.joblog import job_logging

with job_logging(snakemake.log[0]):
    write_table(
        pd.concat([read_table(p) for p in snakemake.input], ignore_index=True), snakemake.output[0]
    )
