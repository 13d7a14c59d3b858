"""Trial address -> seed and hyperparameters, as a pure function.

A trial is addressed by (task, variant, index). Its seed is a hash of the study seed and that
address, so trial k is the same whether the study asks for 5 or 200 trials, and adding a variant
or a task never changes the trials of another.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

from lstm_odyssey.search.space import SearchDimension, configuration_space


@functools.lru_cache(maxsize=64)
def _space(dimensions: tuple[SearchDimension, ...]) -> Any:
    """One space per search config, reseeded for every trial: building one costs ~3 ms, which
    a DAG of 5400 trials would pay at every Snakemake start."""
    return configuration_space(dimensions, 0)


def trial_seed(study_seed: int, task: str, variant: str, index: int) -> int:
    """A 31-bit seed derived from the study seed and the trial's address."""
    key = f"{int(study_seed)}/{task}/{variant}/{int(index)}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "little") & 0x7FFFFFFF


def trial_hyperparameters(
    dimensions: Sequence[SearchDimension], study_seed: int, task: str, variant: str, index: int
) -> dict[str, Any]:
    """The hyperparameters of trial `index` of (task, variant): one ConfigSpace sample.

    Keyed in name order: the sample does not depend on the order of the config's `search:` keys,
    and neither does the result (Snakemake compares params as text).
    """
    seed = trial_seed(study_seed, task, variant, index)
    space = _space(tuple(dimensions))
    space.seed(seed)  # the same stream as a space built with this seed
    configuration = space.sample_configuration()
    return {
        d.name: d.natural_value(configuration) for d in sorted(dimensions, key=lambda d: d.name)
    }
