"""The paper's findings beside this study's: one row per finding, its test here and a verdict.

Greff et al. (2017) state six findings this study can test. Each row of `task_findings` gives the
paper's statement, the statistic that tests it on one task's trials, and a verdict: "agrees",
"disagrees" or "cannot tell", by the rules below. The statistics are the ones the other tables
report, computed by the same functions with the same settings: Welch's tests of the best trials
against vanilla (`analysis.welch`, as in welch.tsv) and the fANOVA of the test metric over all
variants' trials pooled (`analysis.fanova`, the "all variants" rows of fanova_importance.tsv).

The statements
--------------
Quoted from the paper's abstract (arXiv 1503.04069 v2; the same text in IEEE TNNLS 28(10)):
"none of the variants can improve upon the standard LSTM architecture significantly", "the
forget gate and the output activation function [are] its most critical components", "the studied
hyperparameters are virtually independent". Quoted from the conclusions of arXiv v1, as a
third-party page reproduces them: "Certain modifications such as coupling the input and forget
gates or removing peephole connections simplify LSTM without significantly hurting performance."
The hyperparameter findings (4-6) are *paraphrased* from the paper's Section V and conclusions:
we could not retrieve their exact wording. The paper also reports what input noise does per
dataset (as we remember it: a little help on TIMIT, harm on the others); not verified against
its text, so finding 5 reports input noise's share and direction here without judging it.

Verdict rules
-------------
Findings 1-3 read Welch's tests of each variant's best trials against vanilla (V, the paper's
baseline; the selection `best_fraction`/`minimum_best` and `alpha` are the study's). A variant
is *testable* when it and V both have best trials, its p value is defined, and its numbers of
values could reach alpha at all: the smallest two-sided p any test on the ranks of n_a and n_b
values can give, 2 / C(n_a + n_b, n_a), must be below alpha (`smallest_rank_p`). With 2 values a
side that is 0.33, with 3 it is 0.10, with 4 0.029: at alpha = 0.05 a test needs 4 best trials a
side (at least 31 trials per variant at 10 %). With fewer, Welch's p rests on nothing but the
assumption that two or three values are normal, so no verdict is drawn from it.

1. disagrees when any testable variant is significantly better than V; agrees when all eight
   are present and testable and none is; otherwise cannot tell.
2. agrees when NFG and NOAF are both testable and significantly worse; disagrees when either is
   testable and not significantly worse; otherwise cannot tell.
3. agrees when CIFG and NP are both testable and not significantly worse; disagrees when either
   is testable and significantly worse; otherwise cannot tell.

Findings 4-6 read the pooled forest. A forest is *usable* when its out-of-bag R² is above 0: at
or below 0 it predicts trials it did not see no better than their mean, and NaN (fewer than 5
trials, or no bootstrap) says nothing. An unusable forest, or a hyperparameter the finding names
that the study did not search, gives "cannot tell". A share (mean over trees) is *clearly larger*
than another when their mean ± std intervals over the trees do not overlap; a share is *little*
when below `LITTLE_SHARE` (a tenth of the variance: our reading of "virtually" and "matters
little", for which the paper gives no number).

4. agrees when the learning rate's main effect is clearly larger than every other one and no
   hyperparameter but the learning rate is clearly larger than the hidden size; disagrees when
   another hyperparameter is clearly larger than the learning rate, or the learning rate is
   clearly first but another is clearly larger than the hidden size; otherwise cannot tell.
5. agrees when momentum's share is clearly little (mean + std below `LITTLE_SHARE`); disagrees
   when clearly not (mean - std above it); otherwise cannot tell.
6. needs a forest that fits well, out-of-bag R² at least `GOOD_FIT_R2` (0.5): the noise a forest
   fits does not split along one hyperparameter at a time, so it shows up mostly as interactions,
   and a poor fit would read as "not independent". Then: agrees when the summed pairwise
   interactions are clearly little and the best learning rate (the minimum of the forest's
   learning rate x hidden size marginal, in each third of the hidden-size range) moves by at most
   `LEARNING_RATE_TOLERANCE_DECADES` between the thirds; disagrees when the summed pairs are
   clearly not little or the best learning rate moves by more; otherwise cannot tell.

A last row, `trials`, is no finding: it says how many trials the statistics rest on, and how many
of them diverged or exploded (`analysis.table`) and were scored as the task's worst ordinary
trial. Its verdict is empty. Where the study trains variants beyond the paper's nine (GRU, its
own `custom_variants`), a row `other variants` before it gives each one's Welch test against V
and its parameter count, by the same rules as finding 1's statistic; it is no finding either (the
paper's statements are about its nine), so its verdict is empty too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lstm_odyssey.analysis.fanova import FanovaResult, ForestSettings, fanova_importance
from lstm_odyssey.analysis.selection import best_trials
from lstm_odyssey.analysis.table import variant_order
from lstm_odyssey.analysis.welch import welch_against_vanilla
from lstm_odyssey.config_schema import schema_default
from lstm_odyssey.search.space import SearchDimension
from lstm_odyssey.variant_specs import VANILLA, VARIANT_NAMES

__all__ = [
    "AGREES",
    "CANNOT_TELL",
    "DISAGREES",
    "FINDINGS_COLUMNS",
    "GOOD_FIT_R2",
    "LEARNING_RATE_TOLERANCE_DECADES",
    "LITTLE_SHARE",
    "PAPER_FINDINGS",
    "FindingsSettings",
    "PaperFinding",
    "smallest_rank_p",
    "task_findings",
]

AGREES, DISAGREES, CANNOT_TELL = "agrees", "disagrees", "cannot tell"

LITTLE_SHARE = 0.10
"""A share of the variance below this is "little" (findings 5 and 6)."""

LEARNING_RATE_TOLERANCE_DECADES = 0.5
"""How far (in decades, a factor of about 3.2) the best learning rate may move between
hidden-size thirds and still count as not depending on the hidden size (finding 6)."""

GOOD_FIT_R2 = 0.5
"""The out-of-bag R² finding 6 needs: the forest predicts at least half the held-out variance."""

HIDDEN_SIZE_BANDS = 3

FINDINGS_COLUMNS: tuple[str, ...] = (
    "task",
    "finding",
    "paper",
    "wording",
    "statistic",
    "verdict",
    "reason",
)

LEARNING_RATE, HIDDEN_SIZE, MOMENTUM, INPUT_NOISE = (
    "learning_rate",
    "hidden_size",
    "momentum",
    "input_noise",
)


@dataclass(frozen=True)
class PaperFinding:
    """One statement of the paper; `wording` says whether it is "quoted" or "paraphrased"."""

    id: str
    statement: str
    wording: str


PAPER_FINDINGS: tuple[PaperFinding, ...] = (
    PaperFinding(
        "1",
        "None of the eight variants significantly improves on vanilla LSTM: “none of the "
        "variants can improve upon the standard LSTM architecture significantly”",
        "quoted",
    ),
    PaperFinding(
        "2",
        "Removing the forget gate (NFG) or the output activation function (NOAF) significantly "
        "hurts: “the forget gate and the output activation function [are] its most critical "
        "components”",
        "quoted",
    ),
    PaperFinding(
        "3",
        "“Certain modifications such as coupling the input and forget gates [CIFG] or removing "
        "peephole connections [NP] simplify LSTM without significantly hurting performance.”",
        "quoted",
    ),
    PaperFinding(
        "4",
        "The learning rate is by far the most important hyperparameter, followed by the hidden "
        "layer size.",
        "paraphrased",
    ),
    PaperFinding(
        "5",
        "Momentum matters little (for the online gradient descent used). Input noise: reported "
        "here, not judged.",
        "paraphrased",
    ),
    PaperFinding(
        "6",
        "The hyperparameters are “virtually independent”: their interactions explain little of "
        "the variance, and the best learning rate does not depend on the hidden size.",
        "quoted and paraphrased",
    ),
)

_PAPER = {finding.id: finding for finding in PAPER_FINDINGS}


def _analysis_default(key: str) -> Any:
    return schema_default("properties", "analysis", key)


@dataclass(frozen=True)
class FindingsSettings:
    """The study's analysis settings the findings use (the config's `analysis` section)."""

    best_fraction: float = _analysis_default("best_fraction")
    minimum_best: int = _analysis_default("minimum_best")
    alpha: float = _analysis_default("alpha")
    forest: ForestSettings = field(default_factory=ForestSettings)
    grid_size: int = schema_default("properties", "analysis", "properties", "fanova", "grid_size")

    @classmethod
    def from_config(cls, analysis: Mapping[str, Any]) -> FindingsSettings:
        """From the config's `analysis` section (validated; its defaults filled in)."""
        return cls(
            best_fraction=float(analysis["best_fraction"]),
            minimum_best=int(analysis["minimum_best"]),
            alpha=float(analysis["alpha"]),
            forest=ForestSettings.from_config(analysis["fanova"]),
            grid_size=int(analysis["fanova"]["grid_size"]),
        )


def smallest_rank_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided p a test on the ranks of n_a and n_b values can reach: every value
    of one side beyond every value of the other, 2 / C(n_a + n_b, n_a) (capped at 1)."""
    if n_a < 1 or n_b < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


# --- Welch's tests (findings 1-3) ----------------------------------------------------------------


@dataclass(frozen=True)
class _VariantTest:
    variant: str
    present: bool
    testable: bool
    direction: str  # better / worse / same (meaningful only when testable)
    text: str
    parameter_count: float = math.nan  # mean over the best trials


def _variant_tests(
    trials: pd.DataFrame, settings: FindingsSettings
) -> dict[str, _VariantTest] | None:
    """Each variant's test against V, or None where V has no trials: the paper's eight, present
    or not, then any other variant of the table."""
    if trials.empty or VANILLA not in set(trials["variant"]):
        return None
    best = best_trials(trials, settings.best_fraction, settings.minimum_best)
    welch = welch_against_vanilla(best, VANILLA, settings.alpha).set_index("variant")
    n_baseline = int(welch.loc[VANILLA, "n"])
    tests = {}
    for variant in variant_order([*VARIANT_NAMES, *welch.index]):
        if variant == VANILLA:
            continue
        if variant not in welch.index:
            tests[variant] = _VariantTest(variant, False, False, "", f"{variant} has no trials")
            continue
        row = welch.loc[variant]
        n = int(row["n"])
        floor = smallest_rank_p(n, n_baseline)
        p_value = float(row["p_value"])
        stand_ins = int(row["n_diverged"]) + int(row["n_exploded"])
        counts = f"{n} vs {n_baseline} best trials"
        if stand_ins:
            counts += f", {stand_ins} of them diverged/exploded stand-ins"
        parameters = float(row["mean_parameter_count"])
        if not floor < settings.alpha:
            text = f"{variant} untestable ({counts}, smallest possible p {floor:.2g})"
            tests[variant] = _VariantTest(variant, True, False, "", text, parameters)
        elif not math.isfinite(p_value):
            text = f"{variant} untestable ({counts}, no variance on either side)"
            tests[variant] = _VariantTest(variant, True, False, "", text, parameters)
        else:
            direction = str(row["direction"])
            text = (
                f"{variant} {direction} (p={p_value:.2g}, mean difference "
                f"{float(row['difference']):+.3g}, {counts})"
            )
            tests[variant] = _VariantTest(variant, True, True, direction, text, parameters)
    return tests


def _other_variants_text(tests: dict[str, _VariantTest] | None, others: Sequence[str]) -> str:
    """Each variant beyond the paper's nine against V, with its parameter count."""
    if tests is None:
        return f"{', '.join(others)}: no vanilla (V) trials to compare with"
    parts = []
    for variant in others:
        test = tests[variant]
        count = test.parameter_count
        parts.append(test.text + (f"; {count:,.0f} parameters" if math.isfinite(count) else ""))
    return "; ".join(parts)


def _untestable_names(tests: Sequence[_VariantTest]) -> str:
    missing = [t.variant for t in tests if not t.present]
    untestable = [t.variant for t in tests if t.present and not t.testable]
    parts = [f"no trials: {', '.join(missing)}"] if missing else []
    if untestable:
        parts.append(f"too few best trials (or no variance) for a test: {', '.join(untestable)}")
    return "; ".join(parts)


def _finding_none_better(tests: dict[str, _VariantTest] | None) -> tuple[str, str, str]:
    if tests is None:
        return "no vanilla (V) trials", CANNOT_TELL, "nothing to compare with"
    all_tests = list(tests.values())
    statistic = "; ".join(t.text for t in all_tests)
    better = [t.variant for t in all_tests if t.testable and t.direction == "better"]
    if better:
        return statistic, DISAGREES, f"significantly better than V: {', '.join(better)}"
    if all(t.testable for t in all_tests):
        return statistic, AGREES, "all eight variants testable, none significantly better"
    untestable = _untestable_names(all_tests)
    return statistic, CANNOT_TELL, f"none significantly better, but {untestable}"


def _finding_these_hurt(
    tests: dict[str, _VariantTest] | None, variants: Sequence[str], hurt: bool
) -> tuple[str, str, str]:
    """Finding 2 (`hurt`: each must be significantly worse) or 3 (none may be)."""
    if tests is None:
        return "no vanilla (V) trials", CANNOT_TELL, "nothing to compare with"
    chosen = [tests[v] for v in variants]
    statistic = "; ".join(t.text for t in chosen)
    testable = [t for t in chosen if t.testable]
    worse = [t.variant for t in testable if t.direction == "worse"]
    not_worse = [t.variant for t in testable if t.direction != "worse"]
    names = " and ".join(variants)
    if hurt:
        if not_worse:
            return statistic, DISAGREES, f"not significantly worse: {', '.join(not_worse)}"
        if len(worse) == len(chosen):
            return statistic, AGREES, f"{names} both significantly worse"
    else:
        if worse:
            return statistic, DISAGREES, f"significantly worse: {', '.join(worse)}"
        if len(not_worse) == len(chosen):
            return statistic, AGREES, f"{names} both testable, neither significantly worse"
    return statistic, CANNOT_TELL, _untestable_names(chosen)


# --- fANOVA (findings 4-6) -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Share:
    mean: float
    std: float

    def clearly_above(self, other: _Share) -> bool:
        return self.mean - self.std > other.mean + other.std

    def clearly_below_value(self, value: float) -> bool:
        return self.mean + self.std < value

    def clearly_above_value(self, value: float) -> bool:
        return self.mean - self.std > value

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.std:.2f}"


def _share(per_tree: np.ndarray) -> _Share:
    if per_tree.size == 0:
        return _Share(math.nan, math.nan)
    return _Share(float(np.mean(per_tree)), float(np.std(per_tree)))


@dataclass(frozen=True)
class _Forest:
    """The pooled decomposition, or why there is none to judge by."""

    result: FanovaResult | None
    problem: str  # empty when usable

    @property
    def fit(self) -> str:
        if self.result is None:
            return "no forest"
        r2 = self.result.out_of_bag_r2
        r2_text = "unknown" if math.isnan(r2) else f"{r2:.2f}"
        return (
            f"forest out-of-bag R² {r2_text} on {self.result.n_trials} trials, "
            f"{len(self.result.main_fractions)} trees"
        )

    def main(self, name: str) -> _Share:
        assert self.result is not None
        return _share(self.result.main_fractions[:, self.result.index(name)])


def _pooled_forest(
    trials: pd.DataFrame, dimensions: Sequence[SearchDimension], forest: ForestSettings
) -> _Forest:
    usable = trials[np.isfinite(trials["test_metric"].astype(float))] if len(trials) else trials
    if len(usable) < 2:
        return _Forest(None, f"{len(usable)} trials with a finite test metric")
    result = fanova_importance(usable, dimensions, "test_metric", forest)
    r2 = result.out_of_bag_r2
    if math.isnan(r2):
        return _Forest(result, "the forest's out-of-bag R² is unknown (fewer than 5 trials?)")
    if not r2 > 0:
        return _Forest(result, f"the forest's out-of-bag R² is {r2:.2f} (no better than the mean)")
    if len(result.main_fractions) == 0:
        return _Forest(result, "every tree predicts a constant")
    return _Forest(result, "")


def _not_computable(forest: _Forest, names: Sequence[str]) -> str:
    """Why a finding about `names` has no statistic at all ("" when it has one): no forest, or
    a hyperparameter the study did not search. (A forest with a poor fit still has one.)"""
    if forest.result is None or len(forest.result.main_fractions) == 0:
        return forest.problem
    absent = [n for n in names if n not in forest.result.names]
    return f"not searched: {', '.join(absent)}" if absent else ""


def _main_effects_text(forest: _Forest) -> str:
    assert forest.result is not None
    shares = {name: forest.main(name) for name in forest.result.names}
    ranked = sorted(shares, key=lambda n: -np.nan_to_num(shares[n].mean, nan=-1.0))
    return ", ".join(f"{name} {shares[name]}" for name in ranked)


def _finding_learning_rate_first(forest: _Forest) -> tuple[str, str, str]:
    problem = _not_computable(forest, [LEARNING_RATE, HIDDEN_SIZE])
    if problem:
        return forest.fit, CANNOT_TELL, problem
    assert forest.result is not None
    statistic = (
        "main effects (share of variance, mean ± std over trees): "
        f"{_main_effects_text(forest)}; {forest.fit}"
    )
    if forest.problem:
        return statistic, CANNOT_TELL, forest.problem
    learning_rate, hidden = forest.main(LEARNING_RATE), forest.main(HIDDEN_SIZE)
    others = [n for n in forest.result.names if n != LEARNING_RATE]
    above_learning_rate = [n for n in others if forest.main(n).clearly_above(learning_rate)]
    if above_learning_rate:
        reason = f"clearly above the learning rate: {', '.join(above_learning_rate)}"
        return statistic, DISAGREES, reason
    learning_rate_first = all(learning_rate.clearly_above(forest.main(n)) for n in others)
    above_hidden = [n for n in others if n != HIDDEN_SIZE and forest.main(n).clearly_above(hidden)]
    if learning_rate_first and above_hidden:
        return (
            statistic,
            DISAGREES,
            f"the learning rate is clearly first, but {', '.join(above_hidden)} clearly above "
            "the hidden size",
        )
    if learning_rate_first:
        return statistic, AGREES, "learning rate clearly first, nothing clearly above hidden size"
    return statistic, CANNOT_TELL, "the learning rate is not clearly above every other share"


def _finding_momentum_little(forest: _Forest, grid_size: int) -> tuple[str, str, str]:
    problem = _not_computable(forest, [MOMENTUM])
    if problem:
        return forest.fit, CANNOT_TELL, problem
    assert forest.result is not None
    momentum = forest.main(MOMENTUM)
    statistic = f"momentum share {momentum}"
    if INPUT_NOISE in forest.result.names:
        curve = forest.result.marginal(INPUT_NOISE, grid_size)
        trend = "rises" if curve.mean[-1] > curve.mean[0] else "falls"
        statistic += (
            f"; input_noise share {forest.main(INPUT_NOISE)}, predicted test metric {trend} from "
            f"{curve.mean[0]:.4g} (noise {curve.natural_grid[0]:g}) to {curve.mean[-1]:.4g} "
            f"(noise {curve.natural_grid[-1]:g})"
        )
    statistic += f"; {forest.fit}"
    if forest.problem:
        return statistic, CANNOT_TELL, forest.problem
    if momentum.clearly_below_value(LITTLE_SHARE):
        return statistic, AGREES, f"momentum's share clearly below {LITTLE_SHARE:g}"
    if momentum.clearly_above_value(LITTLE_SHARE):
        return statistic, DISAGREES, f"momentum's share clearly above {LITTLE_SHARE:g}"
    return (
        statistic,
        CANNOT_TELL,
        f"momentum's share is not clearly on either side of {LITTLE_SHARE:g}",
    )


def best_learning_rate_by_hidden_band(
    result: FanovaResult, grid_size: int, bands: int = HIDDEN_SIZE_BANDS
) -> list[tuple[float, float, float]]:
    """(hidden size low, high, best learning rate) per equal band of the hidden-size search
    range: the learning rate minimising the forest's joint marginal averaged over the band."""
    joint = result.joint_marginal(LEARNING_RATE, HIDDEN_SIZE, grid_size)
    hidden_search = joint.search_grids[1]
    edges = np.linspace(hidden_search[0], hidden_search[-1], bands + 1)
    hidden_dimension = joint.dimensions[1]
    rows = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        in_band = (hidden_search >= low) & (hidden_search <= high)
        curve = joint.mean[:, in_band].mean(axis=1)
        best = float(joint.natural_grids[0][int(np.argmin(curve))])
        natural_low, natural_high = hidden_dimension.from_search_space([low, high])
        rows.append((float(natural_low), float(natural_high), best))
    return rows


def _finding_independent(forest: _Forest, grid_size: int) -> tuple[str, str, str]:
    problem = _not_computable(forest, [LEARNING_RATE, HIDDEN_SIZE])
    if problem:
        return forest.fit, CANNOT_TELL, problem
    assert forest.result is not None
    result = forest.result
    pairs = _share(result.pair_fractions.sum(axis=1))
    pair_index = result.pairs.index(
        tuple(sorted((result.index(LEARNING_RATE), result.index(HIDDEN_SIZE))))
    )
    learning_rate_hidden = _share(result.pair_fractions[:, pair_index])
    bands = best_learning_rate_by_hidden_band(result, grid_size)
    best = [rate for _, _, rate in bands]
    spread = float(np.log10(max(best) / min(best)))
    statistic = (
        f"all pairwise interactions {pairs} (learning_rate x hidden_size "
        f"{learning_rate_hidden}); best learning rate by hidden size "
        + ", ".join(f"{low:.0f}-{high:.0f}: {rate:.2g}" for low, high, rate in bands)
        + f" (moves {spread:.2f} decades); {forest.fit}"
    )
    if forest.problem:
        return statistic, CANNOT_TELL, forest.problem
    if not result.out_of_bag_r2 >= GOOD_FIT_R2:
        reason = (
            f"the forest's out-of-bag R² is {result.out_of_bag_r2:.2f}, below {GOOD_FIT_R2:g}: "
            "the noise it fits would read as interactions"
        )
        return statistic, CANNOT_TELL, reason
    if pairs.clearly_above_value(LITTLE_SHARE):
        return statistic, DISAGREES, f"pairwise interactions clearly above {LITTLE_SHARE:g}"
    if spread > LEARNING_RATE_TOLERANCE_DECADES:
        reason = f"the best learning rate moves more than {LEARNING_RATE_TOLERANCE_DECADES} decades"
        return statistic, DISAGREES, reason
    if pairs.clearly_below_value(LITTLE_SHARE):
        reason = (
            f"pairwise interactions clearly below {LITTLE_SHARE:g}, best learning rate within "
            f"{LEARNING_RATE_TOLERANCE_DECADES} decades"
        )
        return statistic, AGREES, reason
    return statistic, CANNOT_TELL, f"pairwise interactions not clearly below {LITTLE_SHARE:g}"


# --- the table ---------------------------------------------------------------------------------


def _trials_text(trials: pd.DataFrame) -> str:
    """How many trials there are, and which diverged or exploded (scored as the worst)."""
    parts = [f"{len(trials)} trials"]
    scored = 0
    for flag in ("diverged", "exploded"):
        flagged = trials[trials[flag].astype(bool)] if flag in trials.columns else trials[:0]
        scored += len(flagged)
        if flagged.empty:
            parts.append(f"0 {flag}")
            continue
        by_variant = []
        for variant, group in flagged.groupby("variant", sort=False):
            text = f"{variant} {len(group)}"
            # An exploded trial's reported value says how far it blew up; a diverged one's is
            # usually NaN.
            if flag == "exploded" and "test_metric_raw" in group.columns:
                text += ": " + ", ".join(f"{v:.4g}" for v in group["test_metric_raw"])
            by_variant.append(text)
        parts.append(f"{len(flagged)} {flag} ({'; '.join(by_variant)})")
    text = ", ".join(parts)
    if scored:
        text += "; each scored as the task's worst ordinary trial"
    return text


def task_findings(
    trials: pd.DataFrame,
    dimensions: Sequence[SearchDimension],
    settings: FindingsSettings | None = None,
) -> pd.DataFrame:
    """The findings table of one task's trials (the tidy table's rows of that task)."""
    settings = settings or FindingsSettings()
    tasks = sorted(set(trials["task"])) if "task" in trials.columns else []
    if len(tasks) > 1:
        raise ValueError(f"findings are per task; the trials table holds {tasks}")
    task = tasks[0] if tasks else ""
    tests = _variant_tests(trials, settings)
    # The paper's statements are about its nine; other variants get a row of their own.
    paper_tests = None if tests is None else {v: tests[v] for v in VARIANT_NAMES if v in tests}
    present = variant_order(trials["variant"]) if "variant" in trials.columns else []
    others = [v for v in present if v not in VARIANT_NAMES]
    forest = _pooled_forest(trials, dimensions, settings.forest)
    judged = {
        "1": _finding_none_better(paper_tests),
        "2": _finding_these_hurt(paper_tests, ["NFG", "NOAF"], hurt=True),
        "3": _finding_these_hurt(paper_tests, ["CIFG", "NP"], hurt=False),
        "4": _finding_learning_rate_first(forest),
        "5": _finding_momentum_little(forest, settings.grid_size),
        "6": _finding_independent(forest, settings.grid_size),
    }
    rows = [
        {
            "task": task,
            "finding": finding,
            "paper": _PAPER[finding].statement,
            "wording": _PAPER[finding].wording,
            "statistic": statistic,
            "verdict": verdict,
            "reason": reason,
        }
        for finding, (statistic, verdict, reason) in judged.items()
    ]
    if others:
        rows.append(
            {
                "task": task,
                "finding": "other variants",
                "paper": "(not a finding: variants beyond the paper's nine, each against V)",
                "wording": "",
                "statistic": _other_variants_text(tests, others),
                "verdict": "",
                "reason": "",
            }
        )
    rows.append(
        {
            "task": task,
            "finding": "trials",
            "paper": "(not a finding: what the statistics above rest on)",
            "wording": "",
            "statistic": _trials_text(trials),
            "verdict": "",
            "reason": "",
        }
    )
    return pd.DataFrame(rows, columns=list(FINDINGS_COLUMNS))
