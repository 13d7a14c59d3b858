"""Snakemake script: train one trial (task, variant, index) and write its JSON record."""

import sys
from pathlib import Path

# The library from this checkout, also where it is not installed (e.g. --use-conda).
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))

from lstm_odyssey.joblog import job_logging
from lstm_odyssey.training.trial import TrialAddress, TrialSettings, run_trial

with job_logging(snakemake.log[0]):
    run_trial(
        snakemake.input.data,
        snakemake.output[0],
        TrialAddress(
            task=snakemake.wildcards.task,
            variant=snakemake.wildcards.variant,
            index=int(snakemake.wildcards.index),
            study_seed=int(snakemake.params.study_seed),
            seed=int(snakemake.params.seed),
        ),
        dict(snakemake.params.hyperparameters),
        TrialSettings(**snakemake.params.settings),
        threads=snakemake.threads,
        # Outside the declared outputs, so a killed job's progress survives for the rerun.
        checkpoint_path=snakemake.output[0] + ".ckpt",
    )
