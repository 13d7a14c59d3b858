"""Comparison figures: they read the tidy tables, write a PNG, and refuse inconsistent inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstm_odyssey.analysis.selection import best_trials
from lstm_odyssey.analysis.table import VARIANT_ORDER
from lstm_odyssey.analysis.welch import welch_against_vanilla
from lstm_odyssey.plots.comparison import (
    plot_learning_curves,
    plot_variant_boxplot,
    variant_colour,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def study_tables(n_trials: int = 20, n_epochs: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small synthetic study: all nine variants on one task, a few diverged trials."""
    rng = np.random.default_rng(3)
    shift = {"NOAF": 3.0, "NFG": 1.0, "CIFG": -0.5}
    trial_rows, epoch_rows = [], []
    for variant in VARIANT_ORDER:
        for index in range(n_trials):
            final = 8.0 + shift.get(variant, 0.0) + rng.normal(0, 0.3)
            diverged = index == n_trials - 1
            curve = final + 4.0 * np.exp(-np.arange(n_epochs))
            trial_rows.append(
                {
                    "task": "jsb",
                    "variant": variant,
                    "index": index,
                    "status": "diverged" if diverged else "ok",
                    "diverged": diverged,
                    "valid_metric": 30.0 if diverged else curve.min(),
                    "test_metric": 30.0 if diverged else final + 0.2,
                    "parameter_count": 10_000 + 500 * VARIANT_ORDER.index(variant),
                    "metric": "nll",
                }
            )
            for epoch, value in enumerate(curve, start=1):
                epoch_rows.append(
                    {
                        "task": "jsb",
                        "variant": variant,
                        "index": index,
                        "epoch": epoch,
                        "train_loss": value + 0.1,
                        "valid_metric": value,
                        "seconds": 1.0,
                    }
                )
    return pd.DataFrame(trial_rows), pd.DataFrame(epoch_rows)


def test_boxplot_writes_a_png(tmp_path: Path) -> None:
    trials, _ = study_tables()
    best = best_trials(trials)
    welch = welch_against_vanilla(best)
    assert set(welch["direction"]) >= {"baseline", "worse"}
    path = plot_variant_boxplot(best, welch, "jsb", tmp_path / "jsb" / "boxplot.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert [p.name for p in path.parent.iterdir()] == ["boxplot.png"]


def test_boxplot_with_larger_fraction_including_diverged_trials(tmp_path: Path) -> None:
    trials, _ = study_tables()
    best = best_trials(trials, fraction=1.0)
    welch = welch_against_vanilla(best)
    path = plot_variant_boxplot(best, welch, "jsb", tmp_path / "all.png", fraction=1.0)
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_boxplot_refuses_a_welch_table_without_a_variant_it_draws(tmp_path: Path) -> None:
    trials, _ = study_tables()
    best = best_trials(trials)
    welch = welch_against_vanilla(best[best["variant"] != "NP"])
    with pytest.raises(ValueError, match="no row for NP"):
        plot_variant_boxplot(best, welch, "jsb", tmp_path / "boxplot.png")
    assert not (tmp_path / "boxplot.png").exists()


def test_unknown_task_is_an_error_naming_the_known_ones(tmp_path: Path) -> None:
    trials, epochs = study_tables(n_trials=3)
    with pytest.raises(ValueError, match="'timit'.*jsb"):
        plot_learning_curves(trials, epochs, "timit", tmp_path / "curves.png")


def test_learning_curves_write_a_png(tmp_path: Path) -> None:
    trials, epochs = study_tables()
    path = plot_learning_curves(best_trials(trials), epochs, "jsb", tmp_path / "curves.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_learning_curves_without_other_trials_and_with_nan_epochs(tmp_path: Path) -> None:
    trials, epochs = study_tables(n_trials=3)
    epochs.loc[epochs["epoch"] == 2, "valid_metric"] = np.nan
    epochs.loc[epochs["epoch"] == 3, "valid_metric"] = np.inf
    path = plot_learning_curves(
        best_trials(trials), epochs, "jsb", tmp_path / "curves.png", show_other_best=False
    )
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_each_variant_has_its_own_colour() -> None:
    colours = [variant_colour(v) for v in VARIANT_ORDER]
    assert len(set(colours)) == len(VARIANT_ORDER)
    assert variant_colour("SOMETHING_NEW") == variant_colour("SOMETHING_NEW")
