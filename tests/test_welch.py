"""Best-fraction selection and Welch's t-tests against vanilla, checked against the formulas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lstm_odyssey.analysis.selection import best_count, best_trials
from lstm_odyssey.analysis.welch import WELCH_COLUMNS, welch_against_vanilla


def trials_table(task: str, variant: str, valid: list[float], test: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task": task,
            "variant": variant,
            "index": range(len(valid)),
            "valid_metric": valid,
            "test_metric": test,
            "parameter_count": [100 + i for i in range(len(valid))],
        }
    )


def welch_by_formula(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Welch's t and Welch-Satterthwaite df written out, p from the t distribution."""
    mean_a, mean_b = a.sum() / len(a), b.sum() / len(b)
    var_a = ((a - mean_a) ** 2).sum() / (len(a) - 1)
    var_b = ((b - mean_b) ** 2).sum() / (len(b) - 1)
    se_a, se_b = var_a / len(a), var_b / len(b)
    t = (mean_a - mean_b) / math.sqrt(se_a + se_b)
    df = (se_a + se_b) ** 2 / (se_a**2 / (len(a) - 1) + se_b**2 / (len(b) - 1))
    return t, df, 2 * stats.t.sf(abs(t), df)


@pytest.mark.parametrize(
    ("n_trials", "expected"),
    [(1, 1), (2, 2), (5, 2), (20, 2), (21, 3), (30, 3), (31, 4), (100, 10), (200, 20)],
)
def test_best_count_is_ceil_of_ten_percent_at_least_two_at_most_all(
    n_trials: int, expected: int
) -> None:
    assert best_count(n_trials) == expected


def test_best_count_rejects_bad_fraction() -> None:
    with pytest.raises(ValueError, match="fraction"):
        best_count(10, fraction=0)


def test_best_fraction_picks_lowest_validation_metric_per_task_and_variant() -> None:
    table = pd.concat(
        [
            # 21 vanilla trials -> ceil(2.1) = 3 best: valid 0.5, 1.0, 2.0 (indices 20, 0, 5)
            trials_table(
                "jsb",
                "V",
                [1.0] + [9.0] * 4 + [2.0] + [9.0] * 14 + [0.5],
                list(range(21)),
            ),
            # 4 NIG trials -> minimum 2; the NaN valid metric must not be chosen
            trials_table("jsb", "NIG", [np.nan, 3.0, 1.0, 2.0], [10, 11, 12, 13]),
            trials_table("timit", "V", [5.0, 4.0], [1, 2]),
        ]
    )
    best = best_trials(table)
    chosen = {key: sorted(group["index"]) for key, group in best.groupby(["task", "variant"])}
    assert chosen == {("jsb", "V"): [0, 5, 20], ("jsb", "NIG"): [2, 3], ("timit", "V"): [0, 1]}
    assert list(best["variant"].unique()) == ["V", "NIG"], "paper order, vanilla first"


def test_best_fraction_breaks_ties_by_index() -> None:
    table = trials_table("jsb", "V", [1.0, 1.0, 1.0, 1.0], [0, 1, 2, 3]).iloc[::-1]
    assert sorted(best_trials(table)["index"]) == [0, 1]


def test_welch_matches_the_formula() -> None:
    rng = np.random.default_rng(7)
    vanilla_test = rng.normal(10, 1, 30)
    worse_test = rng.normal(12, 2, 30)
    valid = list(range(30))  # every test value is among the "best" once fraction=1.0
    table = pd.concat(
        [
            trials_table("jsb", "V", valid, list(vanilla_test)),
            trials_table("jsb", "NOAF", valid, list(worse_test)),
        ]
    )
    result = welch_against_vanilla(best_trials(table, fraction=1.0)).set_index("variant")
    assert list(result.columns) == [c for c in WELCH_COLUMNS if c != "variant"]
    t, df, p = welch_by_formula(worse_test, vanilla_test)
    row = result.loc["NOAF"]
    assert row["t_statistic"] == pytest.approx(t, rel=1e-10)
    assert row["degrees_of_freedom"] == pytest.approx(df, rel=1e-10)
    assert row["p_value"] == pytest.approx(p, rel=1e-8)
    assert row["n"] == 30
    assert row["mean"] == pytest.approx(worse_test.mean())
    assert row["std"] == pytest.approx(worse_test.std(ddof=1))
    assert row["median"] == pytest.approx(np.median(worse_test))
    assert row["baseline_mean"] == pytest.approx(vanilla_test.mean())
    assert row["difference"] == pytest.approx(worse_test.mean() - vanilla_test.mean())
    assert row["mean_parameter_count"] == pytest.approx(100 + 14.5)
    assert row["significant"] and row["direction"] == "worse"


def test_welch_uses_only_the_best_trials_test_metrics() -> None:
    # 20 trials each -> best 2 by validation metric (indices 0 and 1); the rest are decoys.
    vanilla = trials_table("jsb", "V", list(range(20)), [5.0, 5.2] + [100.0] * 18)
    variant = trials_table("jsb", "CIFG", list(range(20)), [4.0, 4.5] + [-100.0] * 18)
    result = welch_against_vanilla(best_trials(pd.concat([vanilla, variant]))).set_index("variant")
    t, df, p = welch_by_formula(np.array([4.0, 4.5]), np.array([5.0, 5.2]))
    assert result.loc["CIFG", "n"] == 2
    assert result.loc["CIFG", "t_statistic"] == pytest.approx(t)
    assert result.loc["CIFG", "p_value"] == pytest.approx(p)


def test_significantly_lower_metric_is_better() -> None:
    valid = list(range(10))
    table = pd.concat(
        [
            trials_table("jsb", "V", valid, [10.0, 10.1, 9.9, 10.2, 9.8] * 2),
            trials_table("jsb", "NP", valid, [5.0, 5.1, 4.9, 5.2, 4.8] * 2),
            trials_table("jsb", "FGR", valid, [10.0, 10.2, 9.8, 10.1, 9.9] * 2),
        ]
    )
    result = welch_against_vanilla(best_trials(table, fraction=1.0)).set_index("variant")
    assert result.loc["NP", "direction"] == "better"
    assert result.loc["FGR", "direction"] == "same" and not result.loc["FGR", "significant"]


def test_baseline_row_has_no_test_statistics() -> None:
    table = pd.concat(
        [
            trials_table("jsb", "V", [1, 2, 3], [1.0, 2.0, 3.0]),
            trials_table("jsb", "NIG", [1, 2, 3], [1.0, 2.0, 4.0]),
        ]
    )
    result = welch_against_vanilla(best_trials(table, fraction=1.0)).set_index("variant")
    baseline = result.loc["V"]
    assert baseline["direction"] == "baseline" and not baseline["significant"]
    assert np.isnan(baseline[["t_statistic", "degrees_of_freedom", "p_value"]].astype(float)).all()
    assert baseline["difference"] == 0.0


def test_single_trial_gives_nan_p_not_a_crash() -> None:
    table = pd.concat(
        [trials_table("jsb", "V", [1, 2], [1.0, 2.0]), trials_table("jsb", "NFG", [1], [9.0])]
    )
    row = welch_against_vanilla(best_trials(table)).set_index("variant").loc["NFG"]
    assert row["n"] == 1 and np.isnan(row["p_value"]) and np.isnan(row["std"])
    assert row["direction"] == "same"


def test_zero_variance_on_both_sides_gives_nan_p_not_a_crash() -> None:
    table = pd.concat(
        [
            trials_table("jsb", "V", [1, 2, 3], [2.0, 2.0, 2.0]),
            trials_table("jsb", "NOG", [1, 2, 3], [3.0, 3.0, 3.0]),
        ]
    )
    row = welch_against_vanilla(best_trials(table, fraction=1.0)).set_index("variant").loc["NOG"]
    assert np.isnan(row["t_statistic"]) and np.isnan(row["p_value"])
    assert row["direction"] == "same"


def test_tasks_are_tested_separately() -> None:
    table = pd.concat(
        [
            trials_table("jsb", "V", [1, 2, 3], [1.0, 2.0, 3.0]),
            trials_table("jsb", "NIG", [1, 2, 3], [1.5, 2.0, 3.5]),
            trials_table("timit", "V", [1, 2, 3], [100.0, 101.0, 102.0]),
            trials_table("timit", "NIG", [1, 2, 3], [100.0, 101.5, 102.0]),
        ]
    )
    result = welch_against_vanilla(best_trials(table, fraction=1.0))
    assert list(zip(result["task"], result["variant"], strict=True)) == [
        ("jsb", "V"),
        ("jsb", "NIG"),
        ("timit", "V"),
        ("timit", "NIG"),
    ]
    assert result.loc[3, "baseline_mean"] == pytest.approx(101.0)


def test_missing_baseline_is_an_error_naming_the_task() -> None:
    table = trials_table("jsb", "NIG", [1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="task jsb.*'V'"):
        welch_against_vanilla(best_trials(table))


def test_diverged_and_exploded_stand_ins_are_counted_per_row() -> None:
    table = pd.concat(
        [
            trials_table("jsb", "V", [1, 2, 3], [1.0, 2.0, 3.0]),
            trials_table("jsb", "NOAF", [1, 2, 3], [3.0, 3.5, 4.0]),
        ]
    )
    table["diverged"] = [False, False, False, True, False, False]
    table["exploded"] = [False, False, False, False, True, True]
    result = welch_against_vanilla(best_trials(table, fraction=1.0)).set_index("variant")
    assert result.loc["NOAF", ["n", "n_diverged", "n_exploded"]].tolist() == [3, 1, 2]
    assert result.loc["V", ["n_diverged", "n_exploded"]].tolist() == [0, 0]


def test_tables_without_the_flags_count_none() -> None:
    table = pd.concat(
        [trials_table("jsb", "V", [1, 2], [1.0, 2.0]), trials_table("jsb", "NP", [1, 2], [1, 3])]
    )
    result = welch_against_vanilla(best_trials(table))
    assert (result["n_diverged"] == 0).all() and (result["n_exploded"] == 0).all()
