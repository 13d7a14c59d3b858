"""Snakemake script: generate a task's stand-in corpus in the real corpus's layout and formats."""

from lstm_odyssey.data.corpora import SYNTHETIC_CORPORA, generate_synthetic_corpus
from lstm_odyssey.joblog import job_logging

with job_logging(snakemake.log[0]):
    task = {name: task for task, name in SYNTHETIC_CORPORA.items()}[snakemake.wildcards.corpus]
    generate_synthetic_corpus(task, dict(snakemake.params.options), snakemake.output[0])
