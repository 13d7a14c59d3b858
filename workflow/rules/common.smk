# Config validation and the small input/params functions. Nothing heavy runs at DAG-build time:
# on a cluster every job re-parses this file (no torch import here).
import re
import sys
from pathlib import Path

# The library is imported from this checkout even where it is not installed (e.g. --use-conda
# environments): here, and through PYTHONPATH in every job script (one place for both; on a
# cluster each job re-parses this file and sets it again).
LIBRARY = Path(workflow.basedir).resolve() / "src"
sys.path.insert(0, str(LIBRARY))

from lstm_odyssey import export_library_path

export_library_path(LIBRARY)

from lstm_odyssey.data.fingerprint import corpus_fingerprint
from lstm_odyssey.data import registry
from lstm_odyssey.paths import study_paths
from lstm_odyssey.recovery import set_aside_unreadable_prepared_data
from lstm_odyssey.study import (
    claim_study_directory,
    hyperparameters_of,
    seed_of,
    trial_identity_settings,
    validate_config,
)

CONFIG_SOURCE = ", ".join(str(path) for path in workflow.configfiles) or "the study config"
# The schema fills in defaults; an unknown key or bad value stops here, naming the key.
validate_config(config, CONFIG_SOURCE)
# Every corpus checked before any job runs: one message with every problem and its fix.
registry.check_study_corpora(config, CONFIG_SOURCE)
# The study's own results folder, results/<study_name>/ (every path there: lstm_odyssey.paths).
PATHS = study_paths(config)
claim_study_directory(config, CONFIG_SOURCE)

TASKS = list(config["tasks"])
VARIANTS = list(config["variants"])
# Generated stand-in corpora of this study's tasks, by name (`synthetic-timit`, ...).
STAND_INS = [
    registry.task(name).stand_in
    for name in TASKS
    if registry.uses_stand_in(name, config["tasks"][name]["data"])
]

# A training job's resources: on `device: cuda` (or cuda:N) it asks SLURM for one GPU; `auto`
# asks for none (it uses a GPU where the job lands on one). CPU trials need no gres.
TRAIN_RESOURCES = {}  # memory and run time: the profile's (profiles/slurm), stated there once
if str(config["device"]).startswith("cuda"):
    TRAIN_RESOURCES["gres"] = "gpu:1"

# A prepared file that exists but cannot be read (e.g. truncated) would count as finished and fail
# every trial; set it aside (renamed, not deleted) so that this run rebuilds it.
for _task in TASKS:
    set_aside_unreadable_prepared_data(PATHS.prepared_data(_task))


wildcard_constraints:
    task="|".join(TASKS),
    corpus="|".join(STAND_INS) or "no-stand-in-corpus",
    # escaped: a custom variant's name may hold + or . (e.g. NP+CIFG)
    variant="|".join(map(re.escape, VARIANTS)),
    index=r"\d+",


def task_config(task):
    return config["tasks"][task]


def trial_count(task):
    return int(task_config(task)["training"]["trials"])


def trial_results(task):
    """Every trial JSON of one task."""
    return expand(
        PATHS.trial_record(),
        task=task,
        variant=VARIANTS,
        index=range(trial_count(task)),
    )


def get_trial_results(wildcards):
    return trial_results(wildcards.task)


def get_all_task_tables(wildcards):
    return expand(PATHS.task_output("trials"), task=TASKS)


def canonical(value):
    """A param with its mappings' keys sorted: Snakemake compares params as text, so the order
    of keys in a config file must not rerun anything."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def get_data_params(wildcards):
    return canonical(task_config(wildcards.task)["data"])


def get_corpus_input(wildcards):
    """The corpus as an input: a generated stand-in (built by synthesize_corpus) or a corpus file
    named in the config (not downloaded; replacing it reruns the preparation). A corpus directory
    is not an input but a fingerprint param (`get_corpus_fingerprint`): its own date says
    nothing about the files inside."""
    name = wildcards.task
    data = task_config(name)["data"]
    if registry.uses_stand_in(name, data):
        return [PATHS.corpus(registry.task(name).stand_in)]
    if data.get("path") and not data.get("url") and not Path(data["path"]).is_dir():
        return [data["path"]]
    return []


def get_corpus_fingerprint(wildcards):
    """Paths, sizes and dates of a configured corpus directory's files, digested."""
    data = task_config(wildcards.task)["data"]
    if registry.uses_stand_in(wildcards.task, data) or not data.get("path"):
        return None
    return corpus_fingerprint(data["path"]) if Path(data["path"]).is_dir() else None


def get_preparation_recipe(wildcards):
    return canonical(registry.preparation_recipe(wildcards.task))


def get_stand_in(wildcards):
    """Where the task's generated stand-in is (None for a real corpus)."""
    name = wildcards.task
    if registry.uses_stand_in(name, task_config(name)["data"]):
        return PATHS.corpus(registry.task(name).stand_in)
    return None


def get_synthetic_options(wildcards):
    return canonical(task_config(registry.stand_in_task(wildcards.corpus))["data"]["synthetic"])


def get_trial_hyperparameters(wildcards):
    return hyperparameters_of(
        config, wildcards.task, wildcards.variant, int(wildcards.index)
    )


def get_trial_seed(wildcards):
    return seed_of(config, wildcards.task, wildcards.variant, int(wildcards.index))


def get_trial_settings(wildcards):
    """What a trial does besides its hyperparameters (a change here reruns the task's trials),
    and a custom variant's switches (editing them reruns that variant's trials)."""
    return trial_identity_settings(config, wildcards.task, wildcards.variant)



PACK_SIZE = int(config["pack_size"])
# A pack job asks for what the profile gives one train_trial job (set-resources names rules;
# the pack rules are generated, one per pack): its members train side by side in one process.
PACK_RESOURCES = {
    name: getattr(value, "raw", value)  # a profile's values arrive parsed (snakemake Resource)
    for name, value in workflow.resource_settings.overwrite_resources.get(
        "train_trial", {}
    ).items()
}
PACK_RESOURCES.update(TRAIN_RESOURCES)


def trial_packs(task):
    """The packs of a task's trials with `pack_size` > 1: per variant, consecutive indices
    in groups of `pack_size` (the last one may be smaller), as (variant, number, indices)."""
    count = trial_count(task)
    return [
        (variant, number, list(range(start, min(start + PACK_SIZE, count))))
        for variant in VARIANTS
        for number, start in enumerate(range(0, count, PACK_SIZE))
    ]


def pack_members(task, variant, indices):
    """The params function of one pack: each member's index, seed and hyperparameters
    (computed when the job is planned, not at every parse)."""

    def members(wildcards):
        return [
            {
                "index": index,
                "seed": seed_of(config, task, variant, index),
                "hyperparameters": hyperparameters_of(config, task, variant, index),
            }
            for index in indices
        ]

    return members


def get_search_config(wildcards):
    return canonical(task_config(wildcards.task)["search"])


def study_outputs():
    """Everything `snakemake` builds by default, read off the rules' own outputs: every
    intermediate too, so a deleted or set-aside one (prepared data, a trial record, a table)
    is rebuilt by the next run."""
    per_task = [
        *rules.prepare_data.output,
        *rules.collect_task.output,
        *rules.compare_variants.output,
        *rules.fanova.output,
        *rules.findings.output,
    ]
    outputs = [*rules.collect_study.output]
    for task in TASKS:
        outputs += expand(per_task, task=task)
        outputs += trial_results(task)
    return outputs
