"""The study's config: loading and validating it, and what it says about one trial.

The Snakefile and the command line both go through here, so a trial run by hand is exactly the
trial the workflow would run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from lstm_odyssey.search.sampling import trial_hyperparameters, trial_seed
from lstm_odyssey.search.space import search_dimensions

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config file that does not match the schema; the message names the file and the key."""


def validate_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Validate against the workflow's JSON schema, filling in defaults."""
    import jsonschema

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_class(schema).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        lines = [
            f"  {'.'.join(str(p) for p in e.path) or '(top level)'}: {e.message}" for e in errors
        ]
        raise ConfigError(f"{source} does not match the config schema:\n" + "\n".join(lines))
    for task in config["tasks"].values():
        search_dimensions(task["search"])  # ranges checked beyond what the schema can say
    return config


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


def trial_settings(config: dict[str, Any], task: str) -> dict[str, Any]:
    """Everything a trial of `task` does besides its hyperparameters."""
    task_config = config["tasks"][task]
    training = task_config["training"]
    network = task_config.get("network", {})
    return {
        "max_epochs": int(training["max_epochs"]),
        "patience": int(training["patience"]),
        "init_std": float(training.get("init_std", 0.1)),
        "eval_batch_size": int(training.get("eval_batch_size", 32)),
        "bidirectional": bool(network.get("bidirectional", False)),
        "layers": int(network.get("layers", 1)),
        "implementation": config.get("implementation", "reference"),
        "device": config.get("device", "cpu"),
    }


def hyperparameters_of(config: dict[str, Any], task: str, variant: str, index: int) -> dict:
    """Trial `index` of (task, variant): a pure function of the study seed and the address."""
    dimensions = search_dimensions(config["tasks"][task]["search"])
    return trial_hyperparameters(dimensions, config["study_seed"], task, variant, index)


def seed_of(config: dict[str, Any], task: str, variant: str, index: int) -> int:
    return trial_seed(config["study_seed"], task, variant, index)
