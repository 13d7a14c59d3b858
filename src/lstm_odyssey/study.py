"""The study's config: loading and validating it, and what it says about one trial.

The Snakefile and the command line both go through here, so a trial run by hand is exactly the
trial the workflow would run.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

from lstm_odyssey.config_schema import config_schema
from lstm_odyssey.data.registry import TASKS
from lstm_odyssey.io import atomic_write_json
from lstm_odyssey.paths import read_study_identity, study_paths
from lstm_odyssey.search.sampling import trial_hyperparameters, trial_seed
from lstm_odyssey.search.space import search_dimensions
from lstm_odyssey.trial_spec import TrialSettings, variant_identity
from lstm_odyssey.variant_specs import CellSpec, cell_spec, custom_variant


class ConfigError(ValueError):
    """A config file that does not match the schema; the message names the file and the key."""


def _validator_filling_defaults(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for `schema` that also writes each property's `default`."""
    import jsonschema

    base = jsonschema.validators.validator_for(schema)
    check_properties = base.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, subschema):  # noqa: ANN001, ANN202
        if isinstance(instance, dict):
            for name, property_schema in properties.items():
                if isinstance(property_schema, dict) and "default" in property_schema:
                    instance.setdefault(name, copy.deepcopy(property_schema["default"]))
        yield from check_properties(validator, properties, instance, subschema)

    return jsonschema.validators.extend(base, {"properties": properties_with_defaults})(schema)


def validate_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Validate against the workflow's JSON schema, filling in its defaults (in place).

    The one validation of a study config: the Snakefile and the command line both call it.
    """
    schema = config_schema()
    # A study's own variants may be listed in `variants:` (and be the baseline) beside the
    # built-in names; whether each is a valid variant is checked below, with the reason.
    custom = config.get("custom_variants")
    if isinstance(custom, dict):
        known = schema["$defs"]["variant"]["enum"]
        known += [name for name in custom if isinstance(name, str) and name not in known]
    # The tasks a study may have, each checked by its own section's definition: the registry's.
    schema["properties"]["tasks"]["properties"] = {
        name: {"$ref": f"#/$defs/{task.schema_definition}"} for name, task in TASKS.items()
    }
    errors = sorted(
        _validator_filling_defaults(schema).iter_errors(config), key=lambda e: list(e.path)
    )
    if errors:
        lines = [
            f"  {'.'.join(str(p) for p in e.path) or '(top level)'}: {e.message}" for e in errors
        ]
        raise ConfigError(f"{source} does not match the config schema:\n" + "\n".join(lines))
    _check_custom_variants(config["custom_variants"], source)
    if config["analysis"]["baseline"] not in config["variants"]:
        raise ConfigError(
            f"{source}: analysis.baseline {config['analysis']['baseline']!r} is not among "
            f"variants {config['variants']}"
        )
    for task, task_config in config["tasks"].items():
        kind = TASKS[task].kind_in(task_config["data"])
        if task_config["network"]["bidirectional"] and not kind.bidirectional_allowed:
            raise ConfigError(
                f"{source}: tasks.{task}.network.bidirectional is true, but {task} is a "
                f"{kind.name} task: a backward layer would see the step it predicts"
            )
        try:
            search_dimensions(task_config["search"])  # ranges the schema cannot check
        except ValueError as error:
            raise ConfigError(f"{source}: tasks.{task}.{error}") from error
    return config


def _check_custom_variants(custom: dict[str, Any], source: str) -> None:
    """Every custom variant is a name a folder and a wildcard can carry, not a built-in one, and
    a combination of switches the equations can run; all problems in one message."""
    problems = []
    for name, changes in custom.items():
        try:
            custom_variant(name, changes)
        except ValueError as error:
            problems.append(f"  custom_variants.{name}: {error}")
    folded = {}
    for name in custom:
        if name.casefold() in folded:
            problems.append(
                f"  custom_variants.{name}: differs from {folded[name.casefold()]} only in case; "
                "both would share one folder on a case-insensitive file system"
            )
        folded.setdefault(name.casefold(), name)
    if problems:
        raise ConfigError(
            f"{source}: a custom variant is invalid (each states its changes from vanilla V):\n"
            + "\n".join(problems)
        )


def variant_spec_of(config: dict[str, Any], variant: str) -> CellSpec:
    """What `variant` stands for in this (validated) study: a custom variant's switches from the
    config's `custom_variants`, else the built-in cell of that name (the paper's nine, GRU)."""
    custom = config.get("custom_variants") or {}
    if variant in custom:
        return custom_variant(variant, custom[variant])
    return cell_spec(variant)


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a YAML config file."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config ({error})") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return validate_config(config, str(path))


def trial_settings(config: dict[str, Any], task: str) -> TrialSettings:
    """Everything a trial of `task` does besides its hyperparameters (config validated)."""
    task_config = config["tasks"][task]
    training, network = task_config["training"], task_config["network"]
    return TrialSettings(
        max_epochs=int(training["max_epochs"]),
        patience=int(training["patience"]),
        init_std=float(training["init_std"]),
        eval_batch_size=int(training["eval_batch_size"]),
        bidirectional=bool(network["bidirectional"]),
        layers=int(network["layers"]),
        implementation=config["implementation"],
        device=config["device"],
    )


def trial_identity_settings(
    config: dict[str, Any], task: str, variant: str | None = None
) -> dict[str, Any]:
    """The settings that make a trial's result (Snakemake params: a change reruns the trial).

    With `variant`, also what the variant's name stands for where the name alone does not pin
    it (`trial_spec.variant_identity`: a custom variant's switches, the GRU's formulation), the
    part of the trial key beside the settings; the paper's nine add nothing, so their trials'
    params are what they were before custom variants existed and rerun nothing.
    """
    identity = trial_settings(config, task).identity()
    if variant is not None:
        identity.update(variant_identity(variant_spec_of(config, variant)))
    return identity


def hyperparameters_of(config: dict[str, Any], task: str, variant: str, index: int) -> dict:
    """Trial `index` of (task, variant): a pure function of the study seed and the address."""
    dimensions = search_dimensions(config["tasks"][task]["search"])
    return trial_hyperparameters(dimensions, config["study_seed"], task, variant, index)


def seed_of(config: dict[str, Any], task: str, variant: str, index: int) -> int:
    return trial_seed(config["study_seed"], task, variant, index)


def claim_study_directory(config: dict[str, Any], source: str = "config") -> str:
    """Bind the study's results folder to its study seed; refuse a folder of another study.

    Two studies must never write one tree: trial k of another seed has other hyperparameters
    under the same file name, so it would replace a finished trial and `status` would count it
    as done. The folder's `study.json` names the seed whose trials it holds; while it holds no
    trial record it may be re-bound (e.g. after a dry run with another seed).
    """
    paths = study_paths(config)
    wanted = {"study_name": config["study_name"], "study_seed": int(config["study_seed"])}
    claimed = read_study_identity(paths)
    if claimed == wanted:
        return paths.directory
    if claimed is not None and any(Path(paths.trials_directory).rglob("*.json")):
        raise ConfigError(
            f"{source}: {paths.directory}/ holds the trials of study_seed "
            f"{claimed.get('study_seed')}, and this config has study_seed {config['study_seed']}. "
            "Give this study its own results folder with another study_name (e.g. "
            f"--config study_name=seed{config['study_seed']}), or move {paths.directory}/ away."
        )
    atomic_write_json(paths.identity_file, wanted)
    return paths.directory
