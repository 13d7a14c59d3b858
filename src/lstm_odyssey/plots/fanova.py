"""fANOVA figures: marginal curves (paper Fig. 4), variance pies (Fig. 5), pair heatmaps (Fig. 6).

Each function takes fANOVA results and a path and saves one figure atomically. Figures are built
on `matplotlib.figure.Figure` directly (Agg canvas), so nothing touches pyplot's global state.
Axes are drawn in natural units with the scale the dimension was sampled on: log for learning
rate and hidden size, log(1 - m) for momentum (shown as momentum, increasing to the right).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from lstm_odyssey.analysis.fanova import HIGHER_ORDER, FanovaResult
from lstm_odyssey.io import atomic_savefig
from lstm_odyssey.plots.comparison import variant_colour
from lstm_odyssey.search.space import SearchDimension
from lstm_odyssey.variant_specs import VANILLA

INTERACTIONS = "pairwise interactions"


def axis_values(dimension: SearchDimension, search_grid: np.ndarray) -> np.ndarray:
    """Where grid points go on a plot axis (set up by `style_axis`)."""
    if dimension.is_categorical:
        return np.asarray(search_grid, dtype=float)
    if dimension.distribution == "one_minus_log_uniform":
        return np.exp(search_grid)  # 1 - m, drawn on a reversed log axis
    return dimension.from_search_space(search_grid)


def style_axis(ax: Axes, dimension: SearchDimension, which: str = "x") -> None:
    """Scale, ticks and label of the axis showing `dimension`."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    set_scale = ax.set_xscale if which == "x" else ax.set_yscale
    label = dimension.name.replace("_", " ")
    if dimension.is_categorical:
        axis.set_ticks(range(len(dimension.choices)))  # type: ignore[arg-type]
        axis.set_ticklabels([str(c) for c in dimension.choices])  # type: ignore[union-attr]
    elif dimension.distribution in ("log_uniform", "log_uniform_int"):
        set_scale("log")
        if dimension.high / dimension.low < 100:  # type: ignore[operator]
            # Under two decades, label 20, 50, 100, 200 rather than crowded 2x10^1 minor ticks.
            axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())
    elif dimension.distribution == "one_minus_log_uniform":
        set_scale("log")
        (ax.invert_xaxis if which == "x" else ax.invert_yaxis)()
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{1 - v:g}"))
        axis.set_minor_formatter(NullFormatter())
    axis.set_label_text(label)


def _variant_colors(names: Sequence[str]) -> dict[str, str]:
    """The same colour per variant as in the comparison figures."""
    return {name: variant_colour(name) for name in names}


def _ordered(results: Mapping[str, FanovaResult], primary: str) -> list[str]:
    """Primary variant first (drawn with its band), the others overlaid after it."""
    return sorted(results, key=lambda name: (name != primary, list(results).index(name)))


def _draw_marginals(
    ax: Axes,
    results: Mapping[str, FanovaResult],
    name: str,
    primary: str,
    colors: Mapping[str, str],
    grid_size: int,
) -> None:
    variants = _ordered(results, primary)
    dimension = results[variants[0]].dimensions[results[variants[0]].index(name)]
    for offset_index, variant in enumerate(variants):
        marginal = results[variant].marginal(name, grid_size)
        color = colors[variant]
        x = axis_values(dimension, marginal.search_grid)
        if dimension.is_categorical:
            shift = 0.12 * (offset_index - (len(variants) - 1) / 2)
            ax.errorbar(
                x + shift,
                marginal.mean,
                yerr=marginal.std,
                fmt="o",
                color=color,
                capsize=3,
                label=variant,
            )
            continue
        ax.plot(x, marginal.mean, color=color, lw=2 if variant == primary else 1, label=variant)
        if variant == primary or len(variants) == 1:
            ax.fill_between(
                x,
                marginal.mean - marginal.std,
                marginal.mean + marginal.std,
                color=color,
                alpha=0.25,
                lw=0,
            )
    style_axis(ax, dimension)


def plot_marginals(
    metric_results: Mapping[str, FanovaResult],
    path: str | Path,
    time_results: Mapping[str, FanovaResult] | None = None,
    primary: str = VANILLA,
    metric_label: str = "test metric",
    grid_size: int = 100,
    title: str | None = None,
) -> Path:
    """Fig. 4 analog: predicted metric (and training time) along each hyperparameter.

    `metric_results` / `time_results` map a variant name to its fANOVA of the metric / of
    `train_seconds`. The primary variant gets a mean +- 1 std (across trees) band; other
    variants are overlaid as lines.
    """
    if not metric_results:
        raise ValueError("plot_marginals: no fANOVA results given")
    first = metric_results[_ordered(metric_results, primary)[0]]
    names = first.names
    rows = [(metric_results, metric_label)]
    if time_results:
        rows.append((time_results, "training time (s)"))
    colors = _variant_colors(_ordered(metric_results, primary))
    figure = Figure(figsize=(3.2 * len(names), 2.8 * len(rows)), layout="constrained")
    axes = figure.subplots(len(rows), len(names), squeeze=False, sharey="row")
    for row, (results, label) in enumerate(rows):
        row_colors = {**_variant_colors(list(results)), **colors}
        for column, name in enumerate(names):
            ax = axes[row, column]
            _draw_marginals(ax, results, name, primary, row_colors, grid_size)
            ax.grid(alpha=0.3)
            if column == 0:
                ax.set_ylabel(label)
    if len(metric_results) > 1:
        axes[0, -1].legend(title="variant", fontsize="small")
    if title:
        figure.suptitle(title)
    return atomic_savefig(figure, path)


def variance_shares(result: FanovaResult) -> dict[str, float]:
    """Mean variance fractions grouped as in the paper's pies: each hyperparameter, all pairs
    together, and the higher-order rest (clipped at zero against rounding)."""
    table = result.importance_table().set_index("term")["fraction_mean"]
    shares = {name: float(table[name]) for name in result.names}
    pair_terms = [f"{result.names[j]} x {result.names[k]}" for j, k in result.pairs]
    shares[INTERACTIONS] = float(table[pair_terms].sum()) if pair_terms else 0.0
    shares[HIGHER_ORDER] = float(table["higher order"])
    return {term: max(share, 0.0) if np.isfinite(share) else 0.0 for term, share in shares.items()}


def plot_variance_pies(
    results: Mapping[str, FanovaResult], path: str | Path, title: str | None = None
) -> Path:
    """Fig. 5 analog: one pie of variance fractions per result (e.g. all variants, vanilla).

    Keys label the pies; colours are shared so a hyperparameter looks the same in every pie.
    """
    if not results:
        raise ValueError("plot_variance_pies: no fANOVA results given")
    shares = {label: variance_shares(result) for label, result in results.items()}
    terms = list(dict.fromkeys(term for s in shares.values() for term in s))
    colors = {term: f"C{i % 10}" for i, term in enumerate(terms)}
    colors[INTERACTIONS], colors[HIGHER_ORDER] = "0.55", "0.8"
    figure = Figure(figsize=(3.6 * len(results) + 2.2, 3.8), layout="constrained")
    axes = figure.subplots(1, len(results), squeeze=False)[0]
    for ax, (label, share) in zip(axes, shares.items(), strict=True):
        values = np.array([share.get(term, 0.0) for term in terms])
        if values.sum() <= 0:
            ax.text(0.5, 0.5, "no variance", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        else:
            ax.pie(
                values,
                colors=[colors[t] for t in terms],
                startangle=90,
                counterclock=False,
                autopct=lambda p: f"{p:.0f}%" if p >= 3 else "",
                pctdistance=0.72,
                wedgeprops={"linewidth": 0.8, "edgecolor": "white"},
            )
        result = results[label]
        ax.set_title(f"{label}\n({result.n_trials} trials, {result.metric})", fontsize="medium")
    handles = [Patch(facecolor=colors[term], label=term.replace("_", " ")) for term in terms]
    figure.legend(handles=handles, loc="outside right center", fontsize="small")
    if title:
        figure.suptitle(title)
    return atomic_savefig(figure, path)


def strongest_pairs(result: FanovaResult, n_pairs: int) -> list[tuple[str, str]]:
    """The pairs with the largest mean interaction fraction, strongest first."""
    order = np.argsort(-np.nan_to_num(result.pair_fractions.mean(axis=0), nan=-1.0), kind="stable")
    return [
        (result.names[result.pairs[p][0]], result.names[result.pairs[p][1]])
        for p in order[:n_pairs]
    ]


def plot_pair_heatmaps(
    result: FanovaResult,
    path: str | Path,
    pairs: Sequence[tuple[str, str]] | None = None,
    n_pairs: int = 3,
    grid_size: int = 50,
    metric_label: str = "test metric",
    title: str | None = None,
) -> Path:
    """Fig. 6 analog: per pair, the joint marginal and its pure interaction part.

    Pairs default to the `n_pairs` strongest interactions. The interaction panel is the joint
    marginal minus both main effects minus the mean, on a colour scale centred at zero.
    """
    chosen = list(pairs) if pairs is not None else strongest_pairs(result, n_pairs)
    if not chosen:
        raise ValueError("plot_pair_heatmaps: no pairs to draw (fewer than two dimensions?)")
    figure = Figure(figsize=(9.0, 3.4 * len(chosen)), layout="constrained")
    axes = figure.subplots(len(chosen), 2, squeeze=False)
    for row, (first, second) in enumerate(chosen):
        joint = result.joint_marginal(first, second, grid_size)
        x = axis_values(joint.dimensions[0], joint.search_grids[0])
        y = axis_values(joint.dimensions[1], joint.search_grids[1])
        p = result.pairs.index(tuple(sorted((result.index(first), result.index(second)))))
        share = np.nanmean(result.pair_fractions[:, p]) if result.pair_fractions.size else np.nan
        panels = [
            (joint.mean, "viridis", None, f"joint marginal ({metric_label})"),
            (
                joint.interaction_mean,
                "RdBu_r",
                _centred(joint.interaction_mean),
                f"interaction only ({100 * share:.1f}% of variance)",
            ),
        ]
        for column, (values, cmap, norm, label) in enumerate(panels):
            ax = axes[row, column]
            mesh = ax.pcolormesh(x, y, values.T, cmap=cmap, norm=norm, shading="nearest")
            style_axis(ax, joint.dimensions[0], "x")
            style_axis(ax, joint.dimensions[1], "y")
            ax.set_title(label, fontsize="medium")
            figure.colorbar(mesh, ax=ax)
    if title:
        figure.suptitle(title)
    return atomic_savefig(figure, path)


def _centred(values: np.ndarray) -> TwoSlopeNorm:
    reach = float(np.max(np.abs(values))) or 1.0
    return TwoSlopeNorm(vcenter=0.0, vmin=-reach, vmax=reach)
