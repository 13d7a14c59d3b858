"""How long fANOVA takes at the paper's scale: 1800 trials, 4 hyperparameters, 64 trees.

Times the forest fit and the exact decomposition (4 main effects, 6 pairs) separately, on one
core. Target: under 10 s in total. Run as `python benchmarks/fanova_speed.py`.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lstm_odyssey.analysis.fanova import (  # noqa: E402
    ForestSettings,
    decompose_forest,
    fit_forest,
    search_matrix,
)
from lstm_odyssey.search.space import SearchDimension  # noqa: E402

DIMENSIONS = [
    SearchDimension("learning_rate", "log_uniform", low=1e-6, high=1e-2),
    SearchDimension("hidden_size", "log_uniform_int", low=20, high=200),
    SearchDimension("momentum", "one_minus_log_uniform", low=0.0, high=0.99),
    SearchDimension("input_noise", "uniform", low=0.0, high=1.0),
]


def synthetic_trials(n_trials: int, seed: int = 0) -> pd.DataFrame:
    """Random-search-like trials with a learning-rate valley, a size trend and noise."""
    rng = np.random.default_rng(seed)
    coordinates = np.column_stack(
        [rng.uniform(d.search_low, d.search_high, n_trials) for d in DIMENSIONS]
    )
    log_rate, log_size, log_one_minus_momentum, noise = coordinates.T
    metric = (
        0.05 * (log_rate + 7.0) ** 2
        - 0.3 * log_size
        + 0.02 * log_rate * log_one_minus_momentum
        + 0.5 * noise**2
        + rng.normal(0.0, 0.3, n_trials)
    )
    table = pd.DataFrame(
        {d.name: d.from_search_space(coordinates[:, j]) for j, d in enumerate(DIMENSIONS)}
    )
    table["hidden_size"] = np.round(table["hidden_size"]).astype(int)
    table["test_metric"] = metric
    return table


def time_fanova(table: pd.DataFrame, settings: ForestSettings) -> tuple[float, float, int]:
    """Seconds to fit, seconds to decompose, and the mean leaf count per tree."""
    start = time.perf_counter()
    forest = fit_forest(search_matrix(table, DIMENSIONS), table["test_metric"].to_numpy(), settings)
    fitted = time.perf_counter()
    result = decompose_forest(forest, DIMENSIONS, "test_metric", len(table))
    done = time.perf_counter()
    assert result.pair_fractions.shape == (settings.n_trees, 6)
    leaves = int(np.mean([t.leaf_values.size for t in result.trees]))
    return fitted - start, done - fitted, leaves


def main() -> None:
    table = synthetic_trials(1800)
    for min_samples_leaf in (3, 1):
        settings = ForestSettings(n_trees=64, min_samples_leaf=min_samples_leaf)
        fit, decompose, leaves = time_fanova(table, settings)
        print(
            f"1800 trials, 4 dims, 64 trees, min_samples_leaf={min_samples_leaf} "
            f"(~{leaves} leaves/tree): fit {fit:.2f} s, decomposition {decompose:.2f} s "
            f"(4 mains + 6 pairs), total {fit + decompose:.2f} s"
        )


if __name__ == "__main__":
    main()
