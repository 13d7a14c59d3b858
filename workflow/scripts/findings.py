"""Snakemake script: the paper's findings beside the task's own, with a verdict each."""

import logging

from lstm_odyssey.analysis.findings import FindingsSettings, task_findings
from lstm_odyssey.analysis.table import read_table, write_table
from lstm_odyssey.joblog import job_logging
from lstm_odyssey.search.space import search_dimensions

with job_logging(snakemake.log[0]):
    findings = task_findings(
        read_table(snakemake.input.trials),
        search_dimensions(snakemake.params.search),
        FindingsSettings.from_config(snakemake.params.analysis),
    )
    write_table(findings, snakemake.output.findings)
    log = logging.getLogger("lstm_odyssey.findings")
    for row in findings.itertuples():
        log.info(
            "finding %s: %s (%s)", row.finding, row.verdict or "-", row.reason or row.statistic
        )
