"""What a trial is, apart from how it trains: its address, its settings and the key of its result.

One `TrialSettings` serves the workflow (its identity part is a Snakemake param: a change reruns
the trial), the command line and the trainer; the result-neutral part (`RESULT_NEUTRAL_SETTINGS`)
is read by the job but never reruns anything. Torch-free: the Snakefile builds these for every
trial of the DAG.

A trial's variant is named by its address; what the name stands for joins its identity only where
the name alone does not pin it (`variant_identity`): a study's own variant (its switches come from
the config and may be edited) and the GRU. The paper's nine add nothing, so their keys, and the
records filed under them, are the ones they had before custom variants existed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from lstm_odyssey.config_schema import schema_default
from lstm_odyssey.conventions import LOSS_CONVENTION, RESULT_NEUTRAL_SETTINGS
from lstm_odyssey.variant_specs import BUILT_IN, CellSpec, GRUSpec, is_paper_variant, switches


@dataclass(frozen=True)
class TrialAddress:
    """Where a trial sits in the study: (task, variant, index) plus the study seed."""

    task: str
    variant: str
    index: int
    study_seed: int
    seed: int

    def __str__(self) -> str:
        return f"{self.task}/{self.variant}/{self.index}"


@dataclass(frozen=True)
class TrialSettings:
    """Everything about a trial that is not searched over (per task, from the config).

    The defaults are the config schema's (`config_schema`), the one place they are stated.
    """

    max_epochs: int
    patience: int
    bidirectional: bool = schema_default("$defs", "network", "bidirectional")
    layers: int = schema_default("$defs", "network", "layers")
    init_std: float = schema_default("$defs", "training", "init_std")
    eval_batch_size: int = schema_default("$defs", "training", "eval_batch_size")
    implementation: str = schema_default("implementation")
    device: str = schema_default("device")
    # Not configurable: recorded so results trained under another convention are never mixed.
    loss_convention: str = LOSS_CONVENTION

    def identity(self) -> dict[str, Any]:
        """The settings that make a trial's result (a change reruns the trial)."""
        return {k: v for k, v in asdict(self).items() if k not in RESULT_NEUTRAL_SETTINGS}


def variant_identity(spec: CellSpec) -> dict[str, Any]:
    """What a trial's variant adds to its identity: nothing for the paper's nine under their own
    names (their keys must not change), the cell and its switches for any other."""
    if is_paper_variant(spec):
        return {}
    if isinstance(spec, GRUSpec):
        return {"variant_spec": {"cell": "gru", "formulation": GRUSpec.FORMULATION}}
    return {"variant_spec": {"cell": "lstm", **switches(spec)}}


def trial_key(
    address: TrialAddress,
    hyperparameters: dict[str, Any],
    settings: TrialSettings,
    data_hash: str,
    variant: CellSpec | None = None,
) -> str:
    """What identifies a trial's result: address, hyperparameters, settings, data content and,
    for a variant other than the paper's nine, its switches (`variant_identity`).

    `variant` is the spec the address's name stands for; it may be left out for a built-in name
    (the paper's nine, GRU), never for a study's own variant.
    """
    if variant is None:
        if address.variant not in BUILT_IN:
            raise ValueError(
                f"trial_key of {address}: {address.variant!r} is a study's own variant; pass "
                "its spec (its switches are part of the key)"
            )
        variant = BUILT_IN[address.variant]
    identity = {**settings.identity(), **variant_identity(variant)}
    text = json.dumps([asdict(address), hyperparameters, identity, data_hash], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
