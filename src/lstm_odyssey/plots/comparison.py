"""Variant comparison figures for one task: the Fig. 3 box plot and the learning curves.

Both read the tidy tables from `lstm_odyssey.analysis` (never the per-trial JSON files), draw on a
plain `matplotlib.figure.Figure` (no pyplot state, so nothing leaks between calls or needs a
display) and save atomically.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from lstm_odyssey.analysis.table import VARIANT_ORDER, task_label, variant_order
from lstm_odyssey.io import atomic_savefig

__all__ = ["DIRECTION_COLOURS", "plot_learning_curves", "plot_variant_boxplot", "variant_colour"]

# Colour-blind-safe (Okabe-Ito) colours for the outcome of the test against vanilla.
DIRECTION_COLOURS: dict[str, str] = {
    "baseline": "#bbbbbb",
    "better": "#0072B2",
    "worse": "#D55E00",
    "same": "#ffffff",
}
_DIRECTION_LABELS = {
    "baseline": "vanilla (baseline)",
    "better": "significantly better",
    "worse": "significantly worse",
    "same": "no significant difference",
}
_VARIANT_PALETTE = [
    "#000000",  # V
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#882255",
]
_EXTRA_PALETTE = ["#999999", "#44AA99", "#117733", "#332288"]


def variant_colour(variant: str) -> str:
    """A fixed colour per variant, so a variant looks the same in every figure of the report."""
    if variant in VARIANT_ORDER:
        return _VARIANT_PALETTE[VARIANT_ORDER.index(variant)]
    return _EXTRA_PALETTE[sum(map(ord, variant)) % len(_EXTRA_PALETTE)]


def _task_trials(trials: pd.DataFrame, task: str) -> pd.DataFrame:
    rows = trials[trials["task"] == task]
    if rows.empty:
        known = ", ".join(sorted(trials["task"].unique())) or "none"
        raise ValueError(f"no trials of task {task!r} in the trials table (tasks: {known})")
    return rows


def _metric_name(rows: pd.DataFrame) -> str:
    names = rows["metric"].dropna().unique() if "metric" in rows.columns else []
    return str(names[0]) if len(names) == 1 else "metric"


def _format_count(count: float) -> str:
    if not math.isfinite(count):
        return "?"
    if count >= 1e6:
        return f"{count / 1e6:.2f}M"
    if count >= 1e3:
        return f"{count / 1e3:.1f}k"
    return f"{count:.0f}"


def _with_note(title: str, note: str | None) -> str:
    return f"{title}\n{note}" if note else title


def _format_p(p_value: float) -> str:
    if not math.isfinite(p_value):
        return "p n/a"
    return "p<0.001" if p_value < 0.001 else f"p={p_value:.3f}"


def plot_variant_boxplot(
    best: pd.DataFrame,
    welch: pd.DataFrame,
    task: str,
    path: str | os.PathLike[str],
    fraction: float = 0.10,
    note: str | None = None,
) -> Path:
    """Fig. 3 analog: the best trials' test metric per variant, coloured by the test vs vanilla.

    `best` is the selection the Welch tests were computed on (`best_trials`, with `fraction`,
    which only labels the figure); `note` is a second title line (e.g. "interim: 5 of 9
    trials"). Penalised (diverged) trials are drawn as crosses, since their
    value is imputed.
    """
    best = _task_trials(best, task)
    tests = welch[welch["task"] == task].set_index("variant")
    variants = variant_order(best["variant"])
    missing = [v for v in variants if v not in tests.index]
    if missing:
        raise ValueError(f"task {task}: the Welch table has no row for {', '.join(missing)}")

    figure = Figure(figsize=(max(6.0, 0.85 * len(variants) + 2.5), 4.8))
    axis = figure.add_subplot()
    rng = np.random.default_rng(0)  # fixed jitter: the same tables give the same picture
    samples = []
    any_diverged = False
    for position, variant in enumerate(variants):
        rows = best[best["variant"] == variant]
        values = rows["test_metric"].to_numpy(dtype=float)
        finite = np.isfinite(values)
        samples.append(values[finite])
        jitter = rng.uniform(-0.12, 0.12, len(values))
        diverged = rows["diverged"].to_numpy(dtype=bool) if "diverged" in rows else ~finite
        any_diverged = any_diverged or bool(diverged.any())
        axis.scatter(
            position + jitter[~diverged],
            values[~diverged],
            s=14,
            color="#222222",
            alpha=0.7,
            zorder=3,
            linewidths=0,
        )
        axis.scatter(
            position + jitter[diverged],
            values[diverged],
            s=22,
            marker="x",
            color="#CC0000",
            zorder=3,
        )

    boxes = axis.boxplot(
        samples,
        positions=range(len(variants)),
        widths=0.6,
        patch_artist=True,
        showfliers=False,
        medianprops={"color": "black", "linewidth": 1.5},
    )
    for box, variant in zip(boxes["boxes"], variants, strict=True):
        box.set_facecolor(DIRECTION_COLOURS.get(tests.loc[variant, "direction"], "#ffffff"))
        box.set_edgecolor("black")

    for sample, variant in zip(samples, variants, strict=True):
        if tests.loc[variant, "direction"] == "baseline" and sample.size:
            axis.axhline(np.median(sample), color="#888888", linestyle="--", linewidth=0.8)

    text_transform = axis.get_xaxis_transform()
    for position, variant in enumerate(variants):
        if tests.loc[variant, "direction"] != "baseline":
            axis.text(
                position,
                1.01,
                _format_p(float(tests.loc[variant, "p_value"])),
                transform=text_transform,
                ha="center",
                va="bottom",
                fontsize=7,
            )
    axis.set_xticks(
        range(len(variants)),
        [f"{v}\n{_format_count(float(tests.loc[v, 'mean_parameter_count']))}" for v in variants],
    )
    axis.set_xlabel("variant  (mean parameter count of the best trials)")
    axis.set_ylabel(f"test {_metric_name(best)}  (lower is better)")
    axis.set_title(
        _with_note(f"{task_label(best, task)}: best {fraction:.0%} of each variant's trials", note),
        pad=16,
    )
    axis.grid(axis="y", alpha=0.3)

    present = [d for d in ("baseline", "better", "worse", "same") if d in set(tests["direction"])]
    handles: list[Patch | Line2D] = [
        Patch(facecolor=DIRECTION_COLOURS[d], edgecolor="black", label=_DIRECTION_LABELS[d])
        for d in present
    ]
    if any_diverged:
        handles.append(
            Line2D([], [], marker="x", color="#CC0000", linestyle="", label="diverged (penalised)")
        )
    axis.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return atomic_savefig(figure, path)


def plot_learning_curves(
    best: pd.DataFrame,
    epochs: pd.DataFrame,
    task: str,
    path: str | os.PathLike[str],
    fraction: float = 0.10,
    show_other_best: bool = True,
    note: str | None = None,
) -> Path:
    """Validation metric per epoch of each variant's best trial (thick), other best ones thin.

    `best` is the `best_trials` selection (`fraction` only labels the figure); `note` is a
    second title line.

    The y range is fitted to the thick lines, so one wild early epoch of a thin line cannot
    flatten the curves that matter; thin lines outside it are clipped.
    """
    best = _task_trials(best, task)
    curves = epochs[epochs["task"] == task]
    figure = Figure(figsize=(8.0, 4.8))
    axis = figure.add_subplot()
    thick_values: list[np.ndarray] = []
    for variant in variant_order(best["variant"]):
        ranked = best[best["variant"] == variant].sort_values(
            ["valid_metric", "index"], kind="stable", na_position="last"
        )
        colour = variant_colour(variant)
        for rank, index in enumerate(ranked["index"]):
            if rank > 0 and not show_other_best:
                break
            curve = curves[(curves["variant"] == variant) & (curves["index"] == index)]
            curve = curve.sort_values("epoch")
            values = curve["valid_metric"].to_numpy(dtype=float)
            values = np.where(np.isfinite(values), values, np.nan)
            if rank == 0:
                axis.plot(
                    curve["epoch"],
                    values,
                    color=colour,
                    linewidth=2.0,
                    label=f"{variant} (#{index})",
                )
                thick_values.append(values)
            else:
                axis.plot(curve["epoch"], values, color=colour, linewidth=0.7, alpha=0.35)

    finite = np.concatenate(thick_values) if thick_values else np.array([])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        margin = 0.05 * (high - low) if high > low else max(abs(high) * 0.05, 1e-3)
        axis.set_ylim(low - margin, high + margin)
    axis.set_xlabel("epoch")
    axis.set_ylabel(f"validation {_metric_name(best)}  (lower is better)")
    detail = f"; thin: rest of the best {fraction:.0%}" if show_other_best else ""
    axis.set_title(
        _with_note(
            f"{task_label(best, task)}: learning curve of each variant's best trial{detail}", note
        )
    )
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="variant (trial)")
    return atomic_savefig(figure, path)
