"""fANOVA: exact per-tree decomposition, and recovery of known decompositions of test functions."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeRegressor

from lstm_odyssey.analysis.fanova import (
    HIGHER_ORDER,
    ForestSettings,
    fanova_importance,
    tree_partition,
)
from lstm_odyssey.search.space import SearchDimension, search_dimensions

FAST_FOREST = ForestSettings(n_trees=64, min_samples_leaf=3, seed=0)


def uniform_moment(low: float, high: float, power: int) -> float:
    """E[x**power] for x uniform on [low, high]."""
    return (high ** (power + 1) - low ** (power + 1)) / ((power + 1) * (high - low))


def uniform_variance(low: float, high: float) -> float:
    return (high - low) ** 2 / 12.0


def trials_table(dimensions, coordinates, metric) -> pd.DataFrame:
    columns = {d.name: d.from_search_space(coordinates[:, j]) for j, d in enumerate(dimensions)}
    return pd.DataFrame({**columns, "test_metric": metric})


def fraction(table: pd.DataFrame, term: str) -> float:
    return float(table.set_index("term").loc[term, "fraction_mean"])


# --- recovering a known decomposition --------------------------------------------------------

A, B, C = 1.0, 2.0, 3.0
BOX = {"x1": (-1.0, 2.0), "x2": (0.0, 1.0), "x3": (0.5, 1.5), "x4": (0.0, 10.0)}


def analytic_function(x: np.ndarray) -> np.ndarray:
    """f = a x1 + b x2^2 + c x1 x3; x4 has no effect."""
    return A * x[:, 0] + B * x[:, 1] ** 2 + C * x[:, 0] * x[:, 2]


def analytic_fractions() -> dict[str, float]:
    """Closed-form variance shares of `analytic_function` under the uniform measure on BOX."""
    (l1, h1), (l2, h2), (l3, h3) = BOX["x1"], BOX["x2"], BOX["x3"]
    mean1, mean3 = uniform_moment(l1, h1, 1), uniform_moment(l3, h3, 1)
    var1, var3 = uniform_variance(l1, h1), uniform_variance(l3, h3)
    var_x2_squared = uniform_moment(l2, h2, 4) - uniform_moment(l2, h2, 2) ** 2
    # x1 x3 = (x1 - m1)(x3 - m3) + m3 x1 + m1 x3 - m1 m3: a pure interaction plus two mains.
    variances = {
        "x1": (A + C * mean3) ** 2 * var1,
        "x2": B**2 * var_x2_squared,
        "x3": (C * mean1) ** 2 * var3,
        "x4": 0.0,
        "x1 x x3": C**2 * var1 * var3,
    }
    total = sum(variances.values())
    return {term: v / total for term, v in variances.items()}


@pytest.fixture(scope="module")
def analytic_result():
    dimensions = [
        SearchDimension(name, "uniform", low=lo, high=hi) for name, (lo, hi) in BOX.items()
    ]
    rng = np.random.default_rng(1)
    lows = np.array([lo for lo, _ in BOX.values()])
    highs = np.array([hi for _, hi in BOX.values()])
    x = rng.uniform(lows, highs, size=(2000, 4))
    return fanova_importance(
        trials_table(dimensions, x, analytic_function(x)), dimensions, "test_metric", FAST_FOREST
    )


def test_recovers_analytic_variance_fractions(analytic_result):
    table = analytic_result.importance_table()
    for term, truth in analytic_fractions().items():
        assert fraction(table, term) == pytest.approx(truth, abs=0.03), term


def test_unused_dimension_and_absent_pairs_explain_nothing(analytic_result):
    table = analytic_result.importance_table()
    assert fraction(table, "x4") < 0.003
    for term in ("x1 x x2", "x1 x x4", "x2 x x3", "x2 x x4", "x3 x x4"):
        assert fraction(table, term) < 0.01, term
    assert abs(fraction(table, HIGHER_ORDER)) < 0.03


def test_importance_table_has_every_main_pair_and_higher_order(analytic_result):
    table = analytic_result.importance_table()
    assert list(table.columns) == ["term", "dimensions", "fraction_mean", "fraction_std"]
    assert len(table) == 4 + 6 + 1
    assert (table["fraction_std"] >= 0).all()


def test_marginal_curve_follows_the_true_main_effect(analytic_result):
    marginal = analytic_result.marginal("x2", grid_size=41)
    truth = B * marginal.search_grid**2
    # Compare shapes: the marginal's offset is the average of the other terms. A forest is
    # piecewise constant with a few cuts per dimension, so the curve flattens at the box edges.
    error = (marginal.mean - marginal.mean.mean()) - (truth - truth.mean())
    assert np.max(np.abs(error)) < 0.2 * np.ptp(truth)
    assert np.corrcoef(marginal.mean, truth)[0, 1] > 0.99
    assert np.all(marginal.std >= 0)


def test_joint_marginal_interaction_is_the_product_term(analytic_result):
    joint = analytic_result.joint_marginal("x1", "x3", grid_size=21)
    x1, x3 = joint.search_grids
    mean1, mean3 = uniform_moment(*BOX["x1"], 1), uniform_moment(*BOX["x3"], 1)
    truth = C * np.outer(x1 - mean1, x3 - mean3)
    assert joint.mean.shape == (21, 21)
    assert np.max(np.abs(joint.interaction_mean - truth)) < 0.15 * np.ptp(truth)


# --- exactness of one tree against brute force -----------------------------------------------


def brute_force_decomposition(tree, dimensions):
    """Evaluate `tree` at the midpoint of every cell of its own threshold grid, then average."""
    axes, weights = [], []
    for j, d in enumerate(dimensions):
        if d.is_categorical:
            codes = np.arange(len(d.choices), dtype=float)
            axes.append(codes)
            weights.append(np.full(len(codes), 1 / len(codes)))
            continue
        cuts = tree.tree_.threshold[(tree.tree_.children_left != -1) & (tree.tree_.feature == j)]
        cuts = cuts[(cuts > d.search_low) & (cuts < d.search_high)]
        edges = np.unique(np.concatenate([[d.search_low, d.search_high], cuts]))
        axes.append(0.5 * (edges[1:] + edges[:-1]))
        weights.append(np.diff(edges) / (d.search_high - d.search_low))
    mesh = np.meshgrid(*axes, indexing="ij")
    values = tree.predict(np.column_stack([m.ravel() for m in mesh])).reshape(mesh[0].shape)
    weight = weights[0]
    for w in weights[1:]:
        weight = np.multiply.outer(weight, w)
    mean = float((weight * values).sum())
    total = float((weight * (values - mean) ** 2).sum())
    n = len(dimensions)

    def marginal(keep):
        drop = tuple(i for i in range(n) if i not in keep)
        return (weight * values).sum(axis=drop) / weight.sum(axis=drop)

    mains = {j: marginal((j,)) for j in range(n)}
    main_variances = [float(weights[j] @ (mains[j] - mean) ** 2) for j in range(n)]
    pair_variances = {}
    for j, k in itertools.combinations(range(n), 2):
        pure = marginal((j, k)) - mains[j][:, None] - mains[k][None, :] + mean
        pair_variances[j, k] = float(weights[j] @ pure**2 @ weights[k])
    return mean, total, main_variances, pair_variances


def mixed_dimensions():
    return [
        SearchDimension("learning_rate", "log_uniform", low=1e-6, high=1e-2),
        SearchDimension("momentum", "one_minus_log_uniform", low=0.0, high=0.99),
        SearchDimension("input_noise", "uniform", low=0.0, high=1.0),
        SearchDimension("nesterov", "categorical", choices=(True, False, "maybe")),
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tree_decomposition_matches_brute_force_on_its_cell_grid(seed):
    dimensions = mixed_dimensions()
    rng = np.random.default_rng(seed)
    lows = np.array([d.search_low for d in dimensions])
    highs = np.array([d.search_high for d in dimensions])
    x = rng.uniform(lows, highs, size=(300, 4))
    x[:, 3] = rng.integers(0, 3, size=300)
    y = np.sin(x[:, 0]) * x[:, 1] + x[:, 2] * (x[:, 3] == 1) + rng.normal(0, 0.1, 300)
    tree = DecisionTreeRegressor(max_leaf_nodes=25, random_state=seed).fit(x, y)

    partition = tree_partition(tree, dimensions)
    mean, total, mains, pairs = brute_force_decomposition(tree, dimensions)

    assert partition.leaf_volumes.sum() == pytest.approx(1.0, abs=1e-12)
    assert partition.mean == pytest.approx(mean, abs=1e-9)
    assert partition.total_variance == pytest.approx(total, abs=1e-9)
    for j in range(4):
        assert partition.main_variance(j) == pytest.approx(mains[j], abs=1e-9)
    for (j, k), variance in pairs.items():
        assert partition.pair_variance(j, k) == pytest.approx(variance, abs=1e-9)


# --- categorical and boolean dimensions ------------------------------------------------------


def test_categorical_and_boolean_dimensions_get_their_true_shares():
    dimensions = [
        SearchDimension("input_noise", "uniform", low=0.0, high=1.0),
        SearchDimension("cell", "categorical", choices=("a", "b", "c")),
        SearchDimension("nesterov", "categorical", choices=(True, False)),
    ]
    offsets, slopes = np.array([0.0, 1.0, 3.0]), np.array([0.0, 0.0, 2.0])
    rng = np.random.default_rng(3)
    n = 1500
    noise, cell = rng.uniform(0, 1, n), rng.integers(0, 3, n)
    nesterov = rng.integers(0, 2, n)
    metric = offsets[cell] + slopes[cell] * noise
    table = pd.DataFrame(
        {
            "input_noise": noise,
            "cell": np.array(["a", "b", "c"])[cell],
            # Tables read back from TSV hold booleans as text.
            "nesterov": np.array(["True", "False"])[nesterov],
            "test_metric": metric,
        }
    )
    result = fanova_importance(table, dimensions, "test_metric", FAST_FOREST)

    variances = {
        "cell": np.var(offsets + slopes / 2),
        "input_noise": np.mean(slopes) ** 2 / 12,
        "input_noise x cell": np.var(slopes) / 12,
    }
    total = sum(variances.values())
    shares = result.importance_table()
    for term, variance in variances.items():
        assert fraction(shares, term) == pytest.approx(variance / total, abs=0.03), term
    assert fraction(shares, "nesterov") < 0.005

    marginal = result.marginal("cell")
    assert list(marginal.natural_grid) == ["a", "b", "c"]
    expected = offsets + slopes / 2
    np.testing.assert_allclose(marginal.mean, expected, atol=0.1)


# --- edge cases and output ---------------------------------------------------------------------


def test_constant_metric_trees_are_skipped_and_fractions_are_nan():
    dimensions = [
        SearchDimension("input_noise", "uniform", low=0.0, high=1.0),
        SearchDimension("learning_rate", "log_uniform", low=1e-6, high=1e-2),
    ]
    table = pd.DataFrame(
        {
            "input_noise": np.linspace(0, 1, 50),
            "learning_rate": np.geomspace(1e-6, 1e-2, 50),
            "test_metric": np.full(50, 2.5),
        }
    )
    result = fanova_importance(table, dimensions, "test_metric", ForestSettings(n_trees=4))
    assert result.n_skipped_trees == 4
    assert result.importance_table()["fraction_mean"].isna().all()
    np.testing.assert_allclose(result.marginal("learning_rate", 5).mean, 2.5)


def test_non_finite_metric_is_rejected_with_the_column_name():
    dimensions = [SearchDimension("input_noise", "uniform", low=0.0, high=1.0)]
    table = pd.DataFrame({"input_noise": [0.1, 0.2, 0.3], "test_metric": [1.0, np.nan, 2.0]})
    with pytest.raises(ValueError, match="test_metric"):
        fanova_importance(table, dimensions)


def test_fanova_figures_are_written_for_numeric_and_categorical_dimensions(tmp_path):
    from lstm_odyssey.plots.fanova import plot_marginals, plot_pair_heatmaps, plot_variance_pies

    dimensions = mixed_dimensions()
    rng = np.random.default_rng(5)
    x = rng.uniform(
        [d.search_low for d in dimensions], [d.search_high for d in dimensions], size=(150, 4)
    )
    x[:, 3] = rng.integers(0, 3, size=150)
    table = trials_table(dimensions, x, x[:, 0] ** 2 + x[:, 3])
    table["train_seconds"] = 10 + x[:, 2]
    small = ForestSettings(n_trees=4)
    metric = fanova_importance(table, dimensions, "test_metric", small)
    seconds = fanova_importance(table, dimensions, "train_seconds", small)
    paths = [
        plot_marginals(
            {"V": metric, "NIG": metric}, tmp_path / "marginals.png", time_results={"V": seconds}
        ),
        plot_variance_pies({"all variants": metric, "V": metric}, tmp_path / "pies.png"),
        plot_pair_heatmaps(metric, tmp_path / "pairs.png", n_pairs=2, grid_size=10),
    ]
    for path in paths:
        assert path.stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marginals.png", "pairs.png", "pies.png"]


def test_out_of_bag_r2_reports_how_well_the_forest_fits() -> None:
    """A noiseless smooth function is predicted well; pure noise is not (R² near or below 0)."""
    dimensions = search_dimensions(
        {name: {"distribution": "uniform", "low": 0.0, "high": 1.0} for name in ("a", "b")}
    )
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"a": rng.random(400), "b": rng.random(400)})
    settings = ForestSettings(n_trees=32, min_samples_leaf=1)
    table["smooth"] = np.sin(3 * table["a"]) + table["b"]
    table["noise"] = rng.normal(size=400)
    assert fanova_importance(table, dimensions, "smooth", settings).out_of_bag_r2 > 0.95
    assert fanova_importance(table, dimensions, "noise", settings).out_of_bag_r2 < 0.1
