# Config validation and the small input/params functions. Nothing heavy runs at DAG-build time:
# on a cluster every job re-parses this file (no torch import here).
import sys
from pathlib import Path

# The library is imported from this checkout even where it is not installed (e.g. --use-conda
# environments); the job scripts do the same.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from lstm_odyssey.study import (
    hyperparameters_of,
    seed_of,
    trial_settings,
    validate_config,
)

# The schema fills in defaults; an unknown key or bad value stops here, naming the key.
validate_config(config, "the study config")

TASKS = list(config["tasks"])
VARIANTS = list(config["variants"])


wildcard_constraints:
    task="|".join(TASKS),
    variant="|".join(VARIANTS),
    index=r"\d+",


def task_config(task):
    return config["tasks"][task]


def trial_count(task):
    return int(task_config(task)["training"]["trials"])


def trial_results(task):
    """Every trial JSON of one task."""
    return expand(
        "results/trials/{task}/{variant}/{index}.json",
        task=task,
        variant=VARIANTS,
        index=range(trial_count(task)),
    )


def get_trial_results(wildcards):
    return trial_results(wildcards.task)


def get_all_task_tables(wildcards):
    return expand("results/{task}/trials.tsv", task=TASKS)


def get_data_params(wildcards):
    return task_config(wildcards.task)["data"]


def get_local_corpus(wildcards):
    """A corpus file named in the config (not downloaded) is an input: replacing it reruns."""
    data = task_config(wildcards.task)["data"]
    if data.get("path") and not data.get("url"):
        return [data["path"]]
    return []


def get_trial_hyperparameters(wildcards):
    return hyperparameters_of(
        config, wildcards.task, wildcards.variant, int(wildcards.index)
    )


def get_trial_seed(wildcards):
    return seed_of(config, wildcards.task, wildcards.variant, int(wildcards.index))


def get_trial_settings(wildcards):
    """What a trial does besides its hyperparameters (a change here reruns the task's trials)."""
    return trial_settings(config, wildcards.task)


def get_search_config(wildcards):
    return task_config(wildcards.task)["search"]


def study_outputs():
    """Everything `snakemake` builds by default."""
    outputs = ["results/trials.tsv"]
    for task in TASKS:
        outputs += expand(
            "results/{task}/{name}",
            task=task,
            name=[
                "welch.tsv",
                "variant_boxplot.png",
                "learning_curves.png",
                "fanova_importance.tsv",
                "fanova_marginals.png",
                "fanova_pies.png",
                "fanova_pairs.png",
            ],
        )
    return outputs
