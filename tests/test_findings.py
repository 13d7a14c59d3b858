"""The paper's findings beside the study's: hand-made trial tables whose verdicts are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lstm_odyssey.analysis.fanova import ForestSettings
from lstm_odyssey.analysis.findings import (
    AGREES,
    CANNOT_TELL,
    DISAGREES,
    FINDINGS_COLUMNS,
    FindingsSettings,
    smallest_rank_p,
    task_findings,
)
from lstm_odyssey.search.space import search_dimensions
from lstm_odyssey.variant_specs import VARIANT_NAMES

DIMENSIONS = search_dimensions(
    {
        "hidden_size": {"distribution": "log_uniform_int", "low": 20, "high": 100},
        "learning_rate": {"distribution": "log_uniform", "low": 1e-4, "high": 1e-2},
        "momentum": {"distribution": "one_minus_log_uniform", "low": 0.0, "high": 0.99},
        "input_noise": {"distribution": "uniform", "low": 0.0, "high": 1.0},
    }
)
SETTINGS = FindingsSettings(forest=ForestSettings(n_trees=32, min_samples_leaf=1), grid_size=30)


def random_hyperparameters(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Hyperparameters drawn as the random search draws them: uniform in the search space."""
    columns = {}
    for dimension in DIMENSIONS:
        coordinates = rng.uniform(dimension.search_low, dimension.search_high, n)
        columns[dimension.name] = dimension.from_search_space(coordinates)
    columns["hidden_size"] = np.round(columns["hidden_size"]).astype(int)
    return pd.DataFrame(columns)


def trials_table(
    test_metric_by_variant: dict[str, np.ndarray], seed: int = 0, response=None
) -> pd.DataFrame:
    """Rows as the tidy table has them; `response(hyperparameters)` is added to every metric."""
    rng = np.random.default_rng(seed)
    frames = []
    for variant, values in test_metric_by_variant.items():
        values = np.asarray(values, dtype=float)
        frame = random_hyperparameters(len(values), rng)
        metric = values + (response(frame) if response is not None else 0.0)
        frame.insert(0, "index", range(len(values)))
        frame.insert(0, "variant", variant)
        frame.insert(0, "task", "jsb")
        frame["diverged"] = False
        frame["exploded"] = False
        frame["parameter_count"] = 1000
        frame["valid_metric"] = metric  # the best by validation are the best by test
        frame["test_metric"] = metric
        frame["test_metric_raw"] = metric
        frame["metric"] = "nll"
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def verdicts(findings: pd.DataFrame) -> dict[str, str]:
    return dict(zip(findings["finding"], findings["verdict"], strict=True))


def row(findings: pd.DataFrame, finding: str) -> pd.Series:
    return findings.set_index("finding").loc[finding]


def log_learning_rate(frame: pd.DataFrame) -> np.ndarray:
    return np.log10(frame["learning_rate"].to_numpy(dtype=float))


def hidden_position(frame: pd.DataFrame) -> np.ndarray:
    """Where each hidden size sits in its log search range, 0 (20 units) to 1 (100 units)."""
    log_h = np.log(frame["hidden_size"].to_numpy(dtype=float))
    return (log_h - np.log(20)) / (np.log(100) - np.log(20))


# --- the rank floor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_a", "n_b", "expected"),
    [(2, 2, 1 / 3), (3, 3, 0.1), (4, 4, 2 / 70), (2, 20, 2 / 231), (1, 1, 1.0), (0, 5, 1.0)],
)
def test_smallest_rank_p_is_two_over_the_number_of_orderings(n_a, n_b, expected) -> None:
    assert smallest_rank_p(n_a, n_b) == pytest.approx(expected)


# --- findings 1-3: Welch's tests --------------------------------------------------------------


def steady(n: int, centre: float) -> np.ndarray:
    """n values spread evenly around `centre` (so the best tenth has a spread too)."""
    return centre + np.linspace(-0.5, 0.5, n)


def test_a_variant_far_behind_agrees_with_finding_2_and_an_equal_one_with_finding_3() -> None:
    # 40 trials per variant -> the best 4 a side, enough for p < 0.05 (smallest possible 0.029).
    table = trials_table(
        {
            "V": steady(40, 10.0),
            "NFG": steady(40, 15.0),
            "NOAF": steady(40, 14.0),
            "NP": steady(40, 10.0),
            "CIFG": steady(40, 10.0),
        }
    )
    findings = task_findings(table, DIMENSIONS, SETTINGS)
    assert list(findings.columns) == list(FINDINGS_COLUMNS)
    assert verdicts(findings)["2"] == AGREES
    assert verdicts(findings)["3"] == AGREES
    assert "NFG worse" in row(findings, "2")["statistic"]
    assert "NP same" in row(findings, "3")["statistic"]
    # Finding 1 is about all eight variants: four are missing from this study.
    assert verdicts(findings)["1"] == CANNOT_TELL
    assert "NIG" in row(findings, "1")["reason"]


def test_all_eight_variants_none_better_agrees_with_finding_1() -> None:
    table = trials_table({variant: steady(40, 10.0) for variant in VARIANT_NAMES})
    assert verdicts(task_findings(table, DIMENSIONS, SETTINGS))["1"] == AGREES


def test_a_variant_significantly_better_disagrees_with_finding_1() -> None:
    values = {variant: steady(40, 10.0) for variant in VARIANT_NAMES}
    values["FGR"] = steady(40, 8.0)
    findings = task_findings(trials_table(values), DIMENSIONS, SETTINGS)
    assert verdicts(findings)["1"] == DISAGREES
    assert "FGR" in row(findings, "1")["reason"]


def test_nfg_not_worse_and_np_worse_disagree_with_findings_2_and_3() -> None:
    table = trials_table(
        {
            "V": steady(40, 10.0),
            "NFG": steady(40, 10.0),
            "NOAF": steady(40, 14.0),
            "NP": steady(40, 12.0),
            "CIFG": steady(40, 10.0),
        }
    )
    found = verdicts(task_findings(table, DIMENSIONS, SETTINGS))
    assert found["2"] == DISAGREES and found["3"] == DISAGREES


def test_five_trials_per_variant_cannot_tell_even_a_variant_far_behind() -> None:
    # The best 2 of 5 a side: no test on 2 vs 2 values can reach p < 0.05 (smallest p 1/3),
    # however far behind NFG is. The metric does not depend on the hyperparameters, so the pooled
    # forest predicts held-out trials no better than their mean.
    rng = np.random.default_rng(3)
    table = trials_table(
        {
            "V": rng.normal(10, 1, 5),
            "NFG": rng.normal(20, 1, 5),
            "NOAF": rng.normal(10, 1, 5),
            "NP": rng.normal(10, 1, 5),
            "CIFG": rng.normal(10, 1, 5),
        }
    )
    findings = task_findings(table, DIMENSIONS, SETTINGS)
    assert set(verdicts(findings).values()) == {CANNOT_TELL, ""}, findings[["finding", "reason"]]
    assert "smallest possible p 0.33" in row(findings, "2")["statistic"]
    assert "R²" in row(findings, "4")["reason"]


def test_without_vanilla_trials_the_welch_findings_cannot_tell() -> None:
    table = trials_table({"NFG": steady(40, 15.0), "NP": steady(40, 10.0)})
    found = verdicts(task_findings(table, DIMENSIONS, SETTINGS))
    assert found["1"] == found["2"] == found["3"] == CANNOT_TELL


# --- findings 4-6: the pooled fANOVA ----------------------------------------------------------


def learning_rate_bowl(frame: pd.DataFrame) -> np.ndarray:
    """The metric depends on the learning rate alone: best at 1e-3."""
    return 2.0 * (log_learning_rate(frame) + 3.0) ** 2


def test_a_pure_learning_rate_response_agrees_with_findings_4_5_and_6() -> None:
    rng = np.random.default_rng(5)
    table = trials_table(
        {"V": rng.normal(10, 0.02, 150), "NP": rng.normal(10, 0.02, 150)},
        response=learning_rate_bowl,
    )
    findings = task_findings(table, DIMENSIONS, SETTINGS)
    found = verdicts(findings)
    assert found["4"] == AGREES, row(findings, "4")["statistic"]
    assert found["5"] == AGREES, row(findings, "5")["statistic"]
    assert found["6"] == AGREES, row(findings, "6")["statistic"]
    statistic = row(findings, "4")["statistic"]
    assert statistic.startswith("main effects") and "learning_rate" in statistic
    assert "out-of-bag R²" in statistic and "300 trials" in statistic


def test_a_planted_learning_rate_by_hidden_size_interaction_disagrees_with_finding_6() -> None:
    # The best learning rate moves from 1e-4 (20 units) to 1e-2 (100 units): two decades.
    def moving_bowl(frame: pd.DataFrame) -> np.ndarray:
        best = -4.0 + 2.0 * hidden_position(frame)
        return 2.0 * (log_learning_rate(frame) - best) ** 2

    rng = np.random.default_rng(6)
    table = trials_table({"V": rng.normal(10, 0.02, 300)}, response=moving_bowl)
    findings = task_findings(table, DIMENSIONS, SETTINGS)
    assert verdicts(findings)["6"] == DISAGREES, row(findings, "6")["statistic"]
    assert "decades" in row(findings, "6")["statistic"]


def test_a_forest_that_fits_poorly_cannot_tell_independence() -> None:
    # The same learning-rate response under noise: the forest still ranks the learning rate
    # first, but predicts held-out trials only in part (R² 0.42), and the noise it fits would
    # read as interactions.
    rng = np.random.default_rng(9)
    table = trials_table({"V": rng.normal(10, 0.5, 200)}, response=learning_rate_bowl)
    findings = task_findings(table, DIMENSIONS, SETTINGS)
    assert verdicts(findings)["4"] == AGREES
    assert verdicts(findings)["6"] == CANNOT_TELL
    assert "below 0.5" in row(findings, "6")["reason"]


def test_momentum_that_matters_disagrees_with_finding_5() -> None:
    def momentum_slope(frame: pd.DataFrame) -> np.ndarray:
        return 5.0 * frame["momentum"].to_numpy(dtype=float) + learning_rate_bowl(frame) * 0.1

    rng = np.random.default_rng(7)
    table = trials_table({"V": rng.normal(10, 0.02, 300)}, response=momentum_slope)
    assert verdicts(task_findings(table, DIMENSIONS, SETTINGS))["5"] == DISAGREES


def test_a_study_of_four_trials_cannot_tell_any_finding() -> None:
    table = trials_table({"V": [10.0, 11.0], "NFG": [14.0, 15.0]}, response=learning_rate_bowl)
    findings = task_findings(table, DIMENSIONS, SETTINGS)
    assert set(verdicts(findings).values()) == {CANNOT_TELL, ""}
    assert "unknown" in row(findings, "4")["reason"]


def test_a_hyperparameter_the_study_did_not_search_cannot_be_judged() -> None:
    rng = np.random.default_rng(8)
    table = trials_table({"V": rng.normal(10, 0.02, 200)}, response=learning_rate_bowl)
    without_momentum = [d for d in DIMENSIONS if d.name != "momentum"]
    findings = task_findings(table, without_momentum, SETTINGS)
    assert verdicts(findings)["5"] == CANNOT_TELL
    assert "not searched: momentum" in row(findings, "5")["reason"]


# --- the trials row ------------------------------------------------------------------------------


def test_the_trials_row_counts_diverged_and_exploded_trials() -> None:
    table = trials_table({"V": steady(5, 10.0), "NOAF": steady(5, 11.0)})
    noaf = table["variant"] == "NOAF"
    table.loc[noaf & (table["index"] == 4), ["exploded", "test_metric_raw"]] = [True, 1235.7]
    table.loc[noaf & (table["index"] == 3), ["diverged", "test_metric_raw"]] = [True, math.nan]
    trials_row = row(task_findings(table, DIMENSIONS, SETTINGS), "trials")
    assert trials_row["verdict"] == ""
    statistic = trials_row["statistic"]
    assert statistic.startswith("10 trials")
    assert "1 exploded (NOAF 1: 1236)" in statistic
    assert "1 diverged (NOAF 1)" in statistic
    assert statistic.endswith("each scored as the task's worst ordinary trial")


def test_findings_are_per_task() -> None:
    table = trials_table({"V": steady(5, 10.0)})
    two_tasks = pd.concat([table, table.assign(task="timit")])
    with pytest.raises(ValueError, match="per task"):
        task_findings(two_tasks, DIMENSIONS, SETTINGS)
