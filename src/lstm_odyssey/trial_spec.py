"""What a trial is, apart from how it trains: its address, its settings and the key of its result.

One `TrialSettings` serves the workflow (its identity part is a Snakemake param: a change reruns
the trial), the command line and the trainer; the result-neutral part (`RESULT_NEUTRAL_SETTINGS`)
is read by the job but never reruns anything. Torch-free: the Snakefile builds these for every
trial of the DAG.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from lstm_odyssey.config_schema import schema_default
from lstm_odyssey.conventions import LOSS_CONVENTION, RESULT_NEUTRAL_SETTINGS


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


def trial_key(
    address: TrialAddress, hyperparameters: dict[str, Any], settings: TrialSettings, data_hash: str
) -> str:
    """What identifies a trial's result: address, hyperparameters, settings and data content."""
    text = json.dumps(
        [asdict(address), hyperparameters, settings.identity(), data_hash], sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()
