# One training job per trial; the trial's hyperparameters are params, so changing what a trial
# would do reruns that trial and nothing else. Re-prepared data reruns the task's trials (it may
# have changed), but the data's content is part of each trial's key (see run_trial): a trial
# whose record is in the cache under that key is restored, not retrained.


rule train_trial:
    input:
        data=PATHS.prepared_data(),
    output:
        PATHS.trial_record(),
    params:
        hyperparameters=get_trial_hyperparameters,
        seed=get_trial_seed,
        study_seed=config["study_seed"],
        settings=get_trial_settings,
    log:
        PATHS.trial_log(),
    threads: config["threads_per_trial"]
    resources:
        **TRAIN_RESOURCES,
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/train_trial.py"
