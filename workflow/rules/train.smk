# One training job per trial; the trial's hyperparameters are params, so changing what a trial
# would do reruns that trial and nothing else.


rule train_trial:
    input:
        data="results/data/{task}.h5",
    output:
        "results/trials/{task}/{variant}/{index}.json",
    params:
        hyperparameters=get_trial_hyperparameters,
        seed=get_trial_seed,
        study_seed=config["study_seed"],
        settings=get_trial_settings,
    log:
        "logs/train/{task}/{variant}/{index}.log",
    threads: config.get("threads_per_trial", 1)
    resources:
        mem_mb=2000,
    conda:
        "../../envs/lstm-odyssey.yaml"
    script:
        "../scripts/train_trial.py"
