"""Snakemake script: train one trial (task, variant, index) and write its JSON record."""

from lstm_odyssey.joblog import job_logging
from lstm_odyssey.paths import RECORD_CACHE, checkpoint_path_for
from lstm_odyssey.study import trial_settings, variant_spec_of
from lstm_odyssey.training.trial import TrialAddress, run_trial

task, variant = snakemake.wildcards.task, snakemake.wildcards.variant
with job_logging(snakemake.log[0]):
    run_trial(
        snakemake.input.data,
        snakemake.output[0],
        TrialAddress(
            task=task,
            variant=variant,
            index=int(snakemake.wildcards.index),
            study_seed=int(snakemake.params.study_seed),
            seed=int(snakemake.params.seed),
        ),
        dict(snakemake.params.hyperparameters),
        # The whole settings from the config; their identity part is also a param (the rerun
        # trigger), the result-neutral part is not: changing it reruns nothing.
        trial_settings(snakemake.config, task),
        threads=snakemake.threads,
        # What the name stands for: a custom variant's switches (also in the settings param,
        # so editing them reruns its trials), the GRU, or one of the paper's nine.
        variant_spec=variant_spec_of(snakemake.config, variant),
        # Outside the declared outputs, so a killed job's progress survives for the rerun.
        checkpoint_path=checkpoint_path_for(snakemake.output[0]),
        checkpoint_interval_s=float(snakemake.config["checkpoint_interval_seconds"]),
        record_cache=RECORD_CACHE,
    )
