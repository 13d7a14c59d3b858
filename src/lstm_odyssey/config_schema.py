"""The study config's JSON schema, the one place its keys and defaults are stated.

The schema ships inside the package (`config.schema.yaml`), so an installed copy validates configs
without the checkout; the trainer's settings and the known hyperparameters take their defaults and
names from it instead of repeating them.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from lstm_odyssey.variant_specs import ACTIVATIONS, BUILT_IN, SWITCHES

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


@functools.cache
def _schema() -> dict[str, Any]:
    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    # The variant names and a variant's switches are stated once, in variant_specs.
    schema["$defs"]["variant"]["enum"] = list(BUILT_IN)
    schema["$defs"]["variant_changes"]["properties"] = {
        name: {"enum": list(ACTIVATIONS)} if name.endswith("_activation") else {"type": "boolean"}
        for name in SWITCHES
    }
    return schema


def config_schema() -> dict[str, Any]:
    """A copy of the schema, ready for validation."""
    return copy.deepcopy(_schema())


def schema_default(*path: str) -> Any:
    """The `default` of the property at `path` (e.g. "$defs", "training", "init_std")."""
    node: Any = _schema()
    for key in path[:-1]:
        node = node[key]
    return copy.deepcopy(node["properties"][path[-1]]["default"])


def search_dimension_names() -> tuple[str, ...]:
    """Every hyperparameter a task's `search:` section may name (required ones first)."""
    return tuple(_schema()["$defs"]["search"]["properties"])
