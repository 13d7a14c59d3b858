# One training job per trial; the trial's hyperparameters are params, so changing what a trial
# would do reruns that trial and nothing else. The prepared data is `ancient`: a rebuilt file's
# date alone never reruns a trial; its content is part of each trial's key (see run_trial), and a
# trial whose record is in the cache is restored, not retrained.


rule train_trial:
    input:
        data=ancient("results/data/{task}.h5"),
    output:
        "results/trials/{task}/{variant}/{index}.json",
    params:
        hyperparameters=get_trial_hyperparameters,
        seed=get_trial_seed,
        study_seed=config["study_seed"],
        settings=get_trial_settings,
        record_cache=RECORD_CACHE,
    log:
        "logs/train/{task}/{variant}/{index}.log",
    threads: config["threads_per_trial"]
    resources:
        mem_mb=2000,
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/train_trial.py"
