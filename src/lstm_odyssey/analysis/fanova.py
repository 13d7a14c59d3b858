"""Functional ANOVA of the trial results: how much each hyperparameter (and pair) matters.

Follows Hutter, Hoos & Leyton-Brown (ICML 2014), as used in Greff et al. (2017, Figs. 4-6):
a random forest predicts a metric from the hyperparameters, and each tree's prediction is
decomposed *exactly* into main effects, pairwise interactions and a higher-order rest, under the
uniform measure on the search box. Everything happens in the space a dimension was sampled in
(log learning rate, log hidden size, log(1 - momentum), ...), so the decomposition weighs the
box the way the random search did.

How a tree is decomposed without enumerating its grid: each leaf is a box, a product of one
interval per dimension. The tree's thresholds cut each dimension into cells; a leaf covers a
contiguous run of cells in every dimension. The marginal over all dimensions but j is then a sum
over leaves of value x (volume outside j), spread over the cells of j that the leaf covers -- a
difference array and a cumulative sum. Pairs use the same trick in two dimensions.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.tree import DecisionTreeRegressor

from lstm_odyssey.config_schema import schema_default
from lstm_odyssey.search.space import SearchDimension

HIGHER_ORDER = "higher order"


def _fanova_default(key: str) -> Any:
    return schema_default("properties", "analysis", "properties", "fanova", key)


@dataclass(frozen=True)
class ForestSettings:
    """Random-forest settings for the fANOVA surrogate (the config's `analysis.fanova`).

    The defaults are the config schema's, the one place they are stated.
    """

    n_trees: int = _fanova_default("trees")
    min_samples_leaf: int = _fanova_default("min_samples_leaf")
    max_features: float = _fanova_default("max_features")
    bootstrap: bool = _fanova_default("bootstrap")
    max_depth: int | None = None  # not configurable: trees grow until min_samples_leaf stops them
    seed: int = _fanova_default("seed")

    @classmethod
    def from_config(cls, fanova: Mapping[str, Any]) -> ForestSettings:
        """From the config's `analysis.fanova` section (validated; its defaults filled in)."""
        return cls(
            n_trees=int(fanova["trees"]),
            min_samples_leaf=int(fanova["min_samples_leaf"]),
            max_features=float(fanova["max_features"]),
            bootstrap=bool(fanova["bootstrap"]),
            seed=int(fanova["seed"]),
        )


@dataclass(frozen=True)
class DimensionCells:
    """The cells a tree's thresholds cut one dimension into.

    `edges` bound the cells (cell k is (edges[k], edges[k+1]]), `weights` are the cells'
    probabilities under the uniform measure, and `representatives` are points inside each cell
    (midpoints; for a categorical dimension the category codes, one cell per code).
    """

    edges: np.ndarray
    representatives: np.ndarray
    weights: np.ndarray

    def locate(self, search_coordinates: np.ndarray) -> np.ndarray:
        """Index of the cell holding each point (points outside the box go to the end cells)."""
        inner = self.edges[1:-1]
        cells = np.searchsorted(inner, np.asarray(search_coordinates, dtype=float), side="left")
        return np.clip(cells, 0, len(self.weights) - 1)


@dataclass(frozen=True)
class TreePartition:
    """One regression tree seen as a piecewise-constant function on the search box.

    Leaf l covers cells `first_cell[l, j]` (inclusive) to `stop_cell[l, j]` (exclusive) of
    dimension j; `coverage[l, j]` is the probability mass of that run of cells.
    """

    cells: tuple[DimensionCells, ...]
    leaf_values: np.ndarray
    first_cell: np.ndarray
    stop_cell: np.ndarray
    coverage: np.ndarray

    @property
    def leaf_volumes(self) -> np.ndarray:
        return np.prod(self.coverage, axis=1)

    @property
    def mean(self) -> float:
        return float(self.leaf_volumes @ self.leaf_values)

    @property
    def total_variance(self) -> float:
        volumes = self.leaf_volumes
        mean = volumes @ self.leaf_values
        return float(max(volumes @ self.leaf_values**2 - mean**2, 0.0))

    def main_marginal(self, j: int) -> np.ndarray:
        """f_j on the cells of dimension j: the tree averaged over all other dimensions."""
        others = np.prod(np.delete(self.coverage, j, axis=1), axis=1)
        weight = self.leaf_values * others
        n_cells = len(self.cells[j].weights)
        change = np.bincount(self.first_cell[:, j], weight, minlength=n_cells + 1)
        change -= np.bincount(self.stop_cell[:, j], weight, minlength=n_cells + 1)
        return np.cumsum(change)[:n_cells]

    def pair_marginal(self, j: int, k: int) -> np.ndarray:
        """f_jk on the cell grid of dimensions j x k: the tree averaged over all others."""
        others = np.prod(np.delete(self.coverage, [j, k], axis=1), axis=1)
        weight = self.leaf_values * others
        n_j, n_k = len(self.cells[j].weights), len(self.cells[k].weights)
        width = n_k + 1
        size = (n_j + 1) * width
        a0, a1 = self.first_cell[:, j], self.stop_cell[:, j]
        b0, b1 = self.first_cell[:, k], self.stop_cell[:, k]
        change = np.bincount(a0 * width + b0, weight, minlength=size)
        change -= np.bincount(a1 * width + b0, weight, minlength=size)
        change -= np.bincount(a0 * width + b1, weight, minlength=size)
        change += np.bincount(a1 * width + b1, weight, minlength=size)
        grid = change.reshape(n_j + 1, width).cumsum(axis=0).cumsum(axis=1)
        return grid[:n_j, :n_k]

    def main_variance(self, j: int) -> float:
        marginal = self.main_marginal(j)
        return float(self.cells[j].weights @ (marginal - self.mean) ** 2)

    def pair_interaction(self, j: int, k: int) -> np.ndarray:
        """The pure j-k interaction on the cell grid: f_jk - f_j - f_k + mean."""
        mean = self.mean
        return (
            self.pair_marginal(j, k)
            - self.main_marginal(j)[:, None]
            - self.main_marginal(k)[None, :]
            + mean
        )

    def pair_variance(self, j: int, k: int) -> float:
        interaction = self.pair_interaction(j, k)
        return float(self.cells[j].weights @ interaction**2 @ self.cells[k].weights)


def dimension_cells(dimension: SearchDimension, thresholds: np.ndarray) -> DimensionCells:
    """Cut one dimension's box by a tree's thresholds on it (categoricals: one cell per code)."""
    low, high = dimension.search_low, dimension.search_high
    if dimension.is_categorical:
        codes = np.arange(len(dimension.choices), dtype=float)  # type: ignore[arg-type]
        edges = np.concatenate([[-0.5], codes + 0.5])
        return DimensionCells(edges, codes, np.full(len(codes), 1.0 / len(codes)))
    inner = np.unique(thresholds[(thresholds > low) & (thresholds < high)])
    edges = np.concatenate([[low], inner, [high]])
    return DimensionCells(edges, 0.5 * (edges[:-1] + edges[1:]), np.diff(edges) / (high - low))


def leaf_boxes(tree: DecisionTreeRegressor, n_dims: int) -> tuple[np.ndarray, ...]:
    """Each leaf's box as (lower, upper) bounds, a leaf holding lower < x <= upper per dim.

    Walks the tree one depth level at a time so each level is one vectorised step.
    """
    structure = tree.tree_
    left, right = structure.children_left, structure.children_right
    feature, threshold = structure.feature, structure.threshold
    lower = np.full((structure.node_count, n_dims), -np.inf)
    upper = np.full((structure.node_count, n_dims), np.inf)
    level = np.array([0])
    while level.size:
        parents = level[left[level] != -1]
        split_on, cut = feature[parents], threshold[parents]
        for children in (left[parents], right[parents]):
            lower[children] = lower[parents]
            upper[children] = upper[parents]
        upper[left[parents], split_on] = np.minimum(upper[left[parents], split_on], cut)
        lower[right[parents], split_on] = np.maximum(lower[right[parents], split_on], cut)
        level = np.concatenate([left[parents], right[parents]])
    leaves = np.flatnonzero(left == -1)
    values = structure.value[leaves, 0, 0]
    return lower[leaves], upper[leaves], values


def tree_partition(
    tree: DecisionTreeRegressor, dimensions: Sequence[SearchDimension]
) -> TreePartition:
    """The exact cell structure of one fitted tree over the search box."""
    lower, upper, values = leaf_boxes(tree, len(dimensions))
    structure = tree.tree_
    internal = structure.children_left != -1
    cells, first, stop, coverage = [], [], [], []
    for j, dimension in enumerate(dimensions):
        on_j = internal & (structure.feature == j)
        cut = dimension_cells(dimension, structure.threshold[on_j])
        # A leaf holds lower < x <= upper, so it covers the cells whose representative does.
        start = np.searchsorted(cut.representatives, lower[:, j], side="right")
        end = np.searchsorted(cut.representatives, upper[:, j], side="right")
        mass = np.concatenate([[0.0], np.cumsum(cut.weights)])
        cells.append(cut)
        first.append(start)
        stop.append(end)
        coverage.append(mass[end] - mass[start])
    return TreePartition(
        cells=tuple(cells),
        leaf_values=np.asarray(values, dtype=float),
        first_cell=np.stack(first, axis=1),
        stop_cell=np.stack(stop, axis=1),
        coverage=np.clip(np.stack(coverage, axis=1), 0.0, None),
    )


@dataclass(frozen=True)
class Marginal:
    """Predicted metric along one hyperparameter, the others averaged out; mean/std over trees."""

    dimension: SearchDimension
    search_grid: np.ndarray
    natural_grid: np.ndarray
    mean: np.ndarray
    std: np.ndarray


@dataclass(frozen=True)
class JointMarginal:
    """Predicted metric over a pair of hyperparameters (axis 0: first, axis 1: second).

    `interaction_*` is the joint marginal minus both main effects minus the overall mean.
    """

    dimensions: tuple[SearchDimension, SearchDimension]
    search_grids: tuple[np.ndarray, np.ndarray]
    natural_grids: tuple[np.ndarray, np.ndarray]
    mean: np.ndarray
    std: np.ndarray
    interaction_mean: np.ndarray
    interaction_std: np.ndarray


@dataclass(frozen=True)
class FanovaResult:
    """Variance fractions per tree (rows: trees with non-zero variance) and the trees themselves.

    `main_fractions[t, j]` is dimension j's share of tree t's variance, `pair_fractions[t, p]`
    the share of pair `pairs[p]` (indices into `dimensions`).
    """

    dimensions: tuple[SearchDimension, ...]
    metric: str
    n_trials: int
    pairs: tuple[tuple[int, int], ...]
    main_fractions: np.ndarray
    pair_fractions: np.ndarray
    total_variances: np.ndarray
    n_skipped_trees: int
    trees: tuple[TreePartition, ...]
    # How well the forest predicts trials it did not see (R², out-of-bag); NaN when unknown
    # (no bootstrap, or too few trials). A poor fit makes every fraction here doubtful.
    out_of_bag_r2: float = float("nan")

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    @property
    def higher_order_fractions(self) -> np.ndarray:
        """Per tree, the share not explained by any main effect or pair."""
        return 1.0 - self.main_fractions.sum(axis=1) - self.pair_fractions.sum(axis=1)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"fANOVA: no dimension {name!r}; have {self.names}") from None

    def importance_table(self) -> pd.DataFrame:
        """One row per main effect, per pair, and the higher-order rest."""
        rows = []
        for j, name in enumerate(self.names):
            rows.append((name, name, self.main_fractions[:, j]))
        for p, (j, k) in enumerate(self.pairs):
            a, b = self.names[j], self.names[k]
            rows.append((f"{a} x {b}", f"{a},{b}", self.pair_fractions[:, p]))
        rows.append((HIGHER_ORDER, ",".join(self.names), self.higher_order_fractions))
        return pd.DataFrame(
            {
                "term": [r[0] for r in rows],
                "dimensions": [r[1] for r in rows],
                "fraction_mean": [_mean(r[2]) for r in rows],
                "fraction_std": [_std(r[2]) for r in rows],
            }
        )

    def marginal(self, name: str, grid_size: int = 100) -> Marginal:
        """Main-effect curve of `name` on `grid_size` points (categoricals: every code)."""
        j = self.index(name)
        dimension = self.dimensions[j]
        grid = _search_grid(dimension, grid_size)
        curves = np.stack([t.main_marginal(j)[t.cells[j].locate(grid)] for t in self.trees])
        return Marginal(
            dimension, grid, dimension.from_search_space(grid), curves.mean(0), curves.std(0)
        )

    def joint_marginal(self, first: str, second: str, grid_size: int = 50) -> JointMarginal:
        """Joint marginal and pure interaction of a pair on a `grid_size` x `grid_size` grid."""
        j, k = self.index(first), self.index(second)
        if j == k:
            raise ValueError(f"fANOVA: a joint marginal needs two dimensions, got {first!r} twice")
        dims = (self.dimensions[j], self.dimensions[k])
        grids = (_search_grid(dims[0], grid_size), _search_grid(dims[1], grid_size))
        joints, interactions = [], []
        for tree in self.trees:
            rows = tree.cells[j].locate(grids[0])[:, None]
            cols = tree.cells[k].locate(grids[1])[None, :]
            joints.append(tree.pair_marginal(j, k)[rows, cols])
            interactions.append(tree.pair_interaction(j, k)[rows, cols])
        joint, interaction = np.stack(joints), np.stack(interactions)
        return JointMarginal(
            dimensions=dims,
            search_grids=grids,
            natural_grids=tuple(d.from_search_space(g) for d, g in zip(dims, grids, strict=True)),
            mean=joint.mean(0),
            std=joint.std(0),
            interaction_mean=interaction.mean(0),
            interaction_std=interaction.std(0),
        )


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size else float("nan")


def _std(values: np.ndarray) -> float:
    return float(np.std(values)) if values.size else float("nan")


def _search_grid(dimension: SearchDimension, grid_size: int) -> np.ndarray:
    if dimension.is_categorical:
        return np.arange(len(dimension.choices), dtype=float)  # type: ignore[arg-type]
    return np.linspace(dimension.search_low, dimension.search_high, grid_size)


def search_matrix(table: pd.DataFrame, dimensions: Sequence[SearchDimension]) -> np.ndarray:
    """The trials' hyperparameters in search coordinates, one column per dimension."""
    missing = [d.name for d in dimensions if d.name not in table.columns]
    if missing:
        raise KeyError(f"trials table: missing hyperparameter columns {missing}")
    return np.column_stack([d.to_search_space(table[d.name].to_numpy()) for d in dimensions])


def fit_forest(x: np.ndarray, y: np.ndarray, settings: ForestSettings) -> RandomForestRegressor:
    """The random-forest surrogate of metric ~ hyperparameters (single-threaded)."""
    forest = RandomForestRegressor(
        n_estimators=settings.n_trees,
        min_samples_leaf=settings.min_samples_leaf,
        max_features=settings.max_features,
        bootstrap=settings.bootstrap,
        max_depth=settings.max_depth,
        random_state=settings.seed,
        n_jobs=1,
    )
    with warnings.catch_warnings():
        # Small studies leave some trials in every bag; sklearn warns and the R² stays rough.
        warnings.simplefilter("ignore", UserWarning)
        forest.set_params(oob_score=settings.bootstrap and len(y) >= 5)
        return forest.fit(x, y)


def decompose_forest(
    forest: RandomForestRegressor,
    dimensions: Sequence[SearchDimension],
    metric: str = "",
    n_trials: int = 0,
) -> FanovaResult:
    """Exact per-tree variance fractions of all main effects and pairs, gathered over the forest.

    Trees whose prediction is constant over the box (zero variance) have no fractions; they are
    left out of the fractions (counted in `n_skipped_trees`) but kept for the marginal curves.
    """
    pairs = tuple(itertools.combinations(range(len(dimensions)), 2))
    trees = tuple(tree_partition(t, dimensions) for t in forest.estimators_)
    mains, pair_shares, totals, skipped = [], [], [], 0
    for tree in trees:
        total = tree.total_variance
        if not total > 1e-12 * max(1.0, tree.mean**2):
            skipped += 1
            continue
        mains.append([tree.main_variance(j) / total for j in range(len(dimensions))])
        pair_shares.append([tree.pair_variance(j, k) / total for j, k in pairs])
        totals.append(total)
    return FanovaResult(
        dimensions=tuple(dimensions),
        metric=metric,
        n_trials=n_trials,
        pairs=pairs,
        main_fractions=np.asarray(mains, dtype=float).reshape(-1, len(dimensions)),
        pair_fractions=np.asarray(pair_shares, dtype=float).reshape(-1, len(pairs)),
        total_variances=np.asarray(totals, dtype=float),
        n_skipped_trees=skipped,
        trees=trees,
        out_of_bag_r2=float(getattr(forest, "oob_score_", float("nan"))),
    )


def fanova_importance(
    table: pd.DataFrame,
    dimensions: Sequence[SearchDimension],
    metric: str = "test_metric",
    forest_settings: ForestSettings | None = None,
) -> FanovaResult:
    """Fit the forest on `table` (already filtered to the trials wanted) and decompose it."""
    if metric not in table.columns:
        raise KeyError(f"trials table: no metric column {metric!r}")
    if len(table) < 2:
        raise ValueError(f"fANOVA of {metric!r}: needs at least two trials, got {len(table)}")
    y = table[metric].to_numpy(dtype=float)
    if not np.all(np.isfinite(y)):
        raise ValueError(
            f"trials table: column {metric!r} has {int((~np.isfinite(y)).sum())} non-finite values"
        )
    forest = fit_forest(search_matrix(table, dimensions), y, forest_settings or ForestSettings())
    return decompose_forest(forest, dimensions, metric=metric, n_trials=len(table))
