"""The trial record: the JSON file one training job writes and every table reads, stated once.

`run_trial` checks each record against `RECORD_SCHEMA` before writing it, and `collect_trials`
checks each file it reads against the same schema, so the writer and the reader cannot drift
apart. `record_version` names the contract: a record of another version (an older result tree,
trained with a per-frame loss before version 2) gets a message saying so, not a KeyError.

Torch-free: the tables and `lstm-odyssey status` read records without the trainer.
"""

from __future__ import annotations

from typing import Any

import jsonschema

RECORD_VERSION = 2
"""Version 2: the loss is summed over a sequence's steps (`lstm_odyssey.conventions`)."""

_NUMBER_OR_NULL = {"type": ["number", "null"]}
_EPOCH = {
    "type": "object",
    "required": ["epoch", "train_loss", "valid_metric", "seconds"],
    "properties": {
        "epoch": {"type": "integer", "minimum": 1},
        "train_loss": _NUMBER_OR_NULL,
        "valid_metric": _NUMBER_OR_NULL,
        "seconds": _NUMBER_OR_NULL,
    },
}

RECORD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "record_version",
        "trial_key",
        "task",
        "variant",
        "index",
        "study_seed",
        "seed",
        "task_kind",
        "metric",
        "hyperparameters",
        "settings",
        "parameter_count",
        "status",
        "stop_reason",
        "epochs",
        "best_valid_epoch",
        "best_valid_metric",
        "test_metric",
        "train_seconds",
        "provenance",
    ],
    "properties": {
        "record_version": {"const": RECORD_VERSION},
        "trial_key": {"type": "string", "minLength": 1},
        "task": {"type": "string", "minLength": 1},
        "variant": {"type": "string", "minLength": 1},
        "index": {"type": "integer", "minimum": 0},
        "study_seed": {"type": "integer"},
        "seed": {"type": "integer"},
        "task_kind": {"type": "string"},
        "metric": {"type": "string", "minLength": 1},
        "hyperparameters": {"type": "object"},
        "settings": {
            "type": "object",
            "required": ["loss_convention"],
            "properties": {"loss_convention": {"type": "string"}},
        },
        "parameter_count": {"type": "integer", "minimum": 0},
        "status": {"enum": ["ok", "diverged"]},
        "stop_reason": {"enum": ["early_stopping", "max_epochs", "diverged"]},
        "epochs": {"type": "array", "items": _EPOCH},
        "best_valid_epoch": {"type": ["integer", "null"]},
        "best_valid_metric": _NUMBER_OR_NULL,
        "test_metric": _NUMBER_OR_NULL,
        "train_seconds": {"type": "number", "minimum": 0},
        "provenance": {
            "type": "object",
            "required": ["data_hash"],
            "properties": {"data_hash": {"type": "string"}},
        },
    },
}

_VALIDATOR = jsonschema.Draft202012Validator(RECORD_SCHEMA)


def _where(path: Any) -> str:
    """A JSON path as `epochs[1].valid_metric`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


def record_problems(record: Any) -> list[str]:
    """Every way `record` breaks the contract, as 'field: what is wrong' (empty when it holds)."""
    if not isinstance(record, dict):
        return [f"top level: expected a JSON object, found {type(record).__name__}"]
    version = record.get("record_version")
    if version != RECORD_VERSION:
        found = "none" if version is None else repr(version)
        return [
            f"record_version: {found}, this version reads {RECORD_VERSION} (records without one "
            "come from before the summed loss of version 2 and are not comparable); retrain the "
            "trial (delete the file) or collect it with the lstm-odyssey that wrote it"
        ]
    problems = []
    for error in sorted(_VALIDATOR.iter_errors(record), key=lambda e: list(e.absolute_path)):
        where = _where(error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1]
            problems.append(f"{_where([*error.absolute_path, missing])}: missing")
        else:
            problems.append(f"{where or 'top level'}: {error.message}")
    return problems
