"""A task's fANOVA outputs survive diverged trials: fewer subsets, never a crash."""

import numpy as np
import pandas as pd
import pytest

from lstm_odyssey.analysis.fanova import ForestSettings
from lstm_odyssey.analysis.fanova_tables import task_fanova
from lstm_odyssey.io import atomic_write_tsv
from lstm_odyssey.plots.fanova_figures import write_fanova_figures
from lstm_odyssey.search.space import search_dimensions

DIMENSIONS = search_dimensions(
    {
        "learning_rate": {"distribution": "log_uniform", "low": 1e-4, "high": 1e-2},
        "input_noise": {"distribution": "uniform", "low": 0.0, "high": 1.0},
    }
)


def _trials(values_by_variant):
    rng = np.random.default_rng(0)
    rows = []
    for variant, values in values_by_variant.items():
        for index, value in enumerate(values):
            rows.append(
                {
                    "task": "jsb",
                    "variant": variant,
                    "index": index,
                    "metric": "nll",
                    "learning_rate": 10 ** rng.uniform(-4, -2),
                    "input_noise": rng.uniform(),
                    "test_metric": value,
                    "train_seconds": 1.0 + rng.uniform(),
                }
            )
    return pd.DataFrame(rows)


def _write(trials, tmp_path):
    paths = {
        name: tmp_path / f"{name}.{ext}"
        for name, ext in (
            ("importance", "tsv"),
            ("marginals", "png"),
            ("pies", "png"),
            ("pairs", "png"),
        )
    }
    fanova = task_fanova(trials, DIMENSIONS, ForestSettings(n_trees=8, min_samples_leaf=1))
    table = fanova.table()
    atomic_write_tsv(table, paths["importance"])
    write_fanova_figures(
        fanova,
        task="jsb",
        metric_name="nll",
        baseline="V",
        grid_size=10,
        marginals_path=paths["marginals"],
        pies_path=paths["pies"],
        pairs_path=paths["pairs"],
    )
    for path in paths.values():
        assert path.stat().st_size > 0
    return table


def test_every_subset_and_metric_is_in_the_table(tmp_path):
    rng = np.random.default_rng(1)
    table = _write(_trials({"V": rng.random(6), "NP": rng.random(6)}), tmp_path)
    assert set(table["trials"]) == {"all variants", "V", "NP"}
    assert set(table["metric"]) == {"test_metric", "train_seconds"}


def test_a_variant_without_finite_results_is_left_out(tmp_path, caplog):
    rng = np.random.default_rng(2)
    table = _write(_trials({"V": rng.random(6), "NP": [np.nan] * 6}), tmp_path)
    of_metric = table[table["metric"] == "test_metric"]
    assert set(of_metric["trials"]) == {"all variants", "V"}
    assert "NP has 0 trials" in caplog.text
    # training time is known for every trial, diverged or not
    assert set(table[table["metric"] == "train_seconds"]["trials"]) == {"all variants", "V", "NP"}


@pytest.mark.parametrize("baseline_values", [[np.nan] * 4, [np.nan, 1.0, np.nan, np.nan]])
def test_a_task_without_finite_results_still_gets_its_outputs(tmp_path, baseline_values):
    table = _write(_trials({"V": baseline_values, "NP": [np.nan] * 4}), tmp_path)
    assert "test_metric" not in set(table["metric"])


def test_forest_settings_come_from_the_config_section():
    """The schema's keys (`trees`, ...) are read by the library, not renamed by the script."""
    from pathlib import Path

    import yaml

    from lstm_odyssey.study import validate_config

    config = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text()
    )
    del config["analysis"]["fanova"]
    validate_config(config)
    settings = ForestSettings.from_config(config["analysis"]["fanova"])
    assert settings.n_trees == 64 and settings.min_samples_leaf == 1 and settings.bootstrap
