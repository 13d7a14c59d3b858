"""Collect the per-trial JSON files into the one tidy table that every analysis and figure reads.

`collect_trials` turns results/trials/{task}/{variant}/{index}.json into

* a trials table, one row per trial (like Optuna's `trials_dataframe()`): the trial's address,
  one column per hyperparameter, and its metrics;
* an epochs table, one row per (trial, epoch), for learning curves.

Diverged and exploded trials policy
-----------------------------------
A diverged trial is a result of the search, not a missing value: a variant that diverges often
*is* worse, and dropping those trials would flatter it. So no trial is ever dropped. A trial is
marked `diverged` when its status is "diverged" or its test metric is null/non-finite.

A trial can also blow up without a NaN: its weights grow until its predictions are confidently
wrong, and it ends at a finite but absurd metric (JSB NOAF trials at test NLL 180, 189 and 1236
where the other trials of the task lie between 9 and 12). Left as they are, three such values
decide a Welch test and most of a forest's variance on their own. Neither the paper nor its
framework (IDSIA's brainstorm) says what was done with them, as far as we could find, so the rule
here is our own. A trial is marked `exploded` when its test or validation metric is finite but
worse than the task's *trivial ceiling*, the metric of a predictor that learned nothing at all
(`trivial_ceiling`):

* next-step NLL (JSB): K ln 2 nats per step, every one of the K keys predicted on with
  probability 1/2 (88 keys: 61.0). It needs K, which the tidy table does not hold: the workflow
  reads it from the prepared data (`prepared_output_size`) and passes it as `output_sizes`;
  without it, no NLL counts as exploded;
* character error rate (IAM-OnDB): 100 %, what emitting nothing scores (insertions let a CER
  exceed it);
* frame error (TIMIT): 100 %, which no trial can exceed, so no TIMIT trial explodes.

The ceiling is a fixed property of the task, not of the other trials, so a trial is never marked
for being merely worse than its neighbours, and a study of bad trials stays a study of bad trials.

Diverged and exploded trials are scored alike: `test_metric` and `valid_metric` are set to the
worst (largest: every metric here is lower-is-better) finite value of that column among the
task's trials that did not explode. The value the trial reported stays in `test_metric_raw` /
`valid_metric_raw`. If no trial of a task has such a value the column stays NaN for that task and
a warning is issued. The tables, the Welch tests and the fANOVA all read the scored columns, so
the rule is applied here and nowhere else.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstm_odyssey.io import atomic_write_tsv
from lstm_odyssey.recovery import set_aside
from lstm_odyssey.tasks import CTC, FRAMEWISE, NEXT_STEP
from lstm_odyssey.trial_record import record_problems
from lstm_odyssey.variant_specs import VARIANT_NAMES

__all__ = [
    "EPOCH_COLUMNS",
    "TRIAL_COLUMNS",
    "VARIANT_ORDER",
    "collect_trials",
    "hyperparameter_columns",
    "prepared_output_size",
    "read_table",
    "sort_by_address",
    "trivial_ceiling",
    "variant_order",
    "write_table",
]

VARIANT_ORDER: tuple[str, ...] = VARIANT_NAMES
"""The paper's order of the LSTM variants (vanilla first), used for rows and figure axes."""

# Columns before the hyperparameters, and after them, in the trials table.
_ADDRESS_COLUMNS = ["task", "variant", "index", "seed", "status", "diverged", "exploded"]
_RESULT_COLUMNS = [
    "parameter_count",
    "epochs_run",
    "best_valid_epoch",
    "valid_metric",
    "valid_metric_raw",
    "test_metric",
    "test_metric_raw",
    "train_seconds",
    "seconds_per_epoch",
    "metric",
    "data_source",
    "loss_convention",
    "stop_reason",
    "implementation",
    "kernel_isa",
    "device",
    "data_hash",
    "git_commit",
]
TRIAL_COLUMNS: tuple[str, ...] = tuple(_ADDRESS_COLUMNS + _RESULT_COLUMNS)
"""Fixed columns of the trials table; the hyperparameter columns sit between the two groups."""
# Read back as text even where they look numeric (a hex commit such as "0123456").
_TEXT_COLUMNS = ("task", "variant", "status", *_RESULT_COLUMNS[_RESULT_COLUMNS.index("metric") :])

EPOCH_COLUMNS: tuple[str, ...] = (
    "task",
    "variant",
    "index",
    "epoch",
    "train_loss",
    "valid_metric",
    "seconds",
)

_EPOCH_FIELDS = ("epoch", "train_loss", "valid_metric", "seconds")


def variant_order(variants: Iterable[str]) -> list[str]:
    """The distinct variants: the paper's nine in the paper's order, then every other one (GRU,
    a study's own variants) in the order it first appears.

    The workflow lists a task's trial files in the order of the config's `variants:`, and every
    table keeps its rows in this order, so a study's extras show in its config's order in every
    table and figure."""
    present = list(dict.fromkeys(variants))
    paper = [v for v in VARIANT_ORDER if v in present]
    return paper + [v for v in present if v not in VARIANT_ORDER]


def sort_by_address(df: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered by task, variant (`variant_order`: the paper's nine first, then the others
    as they first appear) and, if present, index."""
    if df.empty:
        return df.reset_index(drop=True)
    keys = ["task", "variant"] + (["index"] if "index" in df.columns else [])
    rank = {variant: position for position, variant in enumerate(variant_order(df["variant"]))}
    ordered = df.sort_values(
        keys,
        key=lambda column: column.map(rank) if column.name == "variant" else column,
        kind="stable",
    )
    return ordered.reset_index(drop=True)


# --- reading and validating one trial file -------------------------------------------------------


def _as_float(value: Any) -> float:
    """A JSON number or null as a float (null -> NaN)."""
    return float("nan") if value is None else float(value)


def _validate_trial(record: Any) -> list[str]:
    """Every problem with one parsed record: the contract (`trial_record`), then the table's own
    rule that no hyperparameter may be named like one of its columns."""
    problems = record_problems(record)
    if not problems:
        for name in sorted(set(record["hyperparameters"]) & set(TRIAL_COLUMNS)):
            problems.append(f"hyperparameters.{name}: name clashes with a column of the table")
    return problems


def _read_trial(path: Path) -> tuple[dict[str, Any] | None, list[str]]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, [f"{path}: not readable as JSON ({error})"]
    problems = _validate_trial(record)
    if problems:
        return None, [f"{path}: {problem}" for problem in problems]
    return record, []


def _trial_row(record: Mapping[str, Any]) -> dict[str, Any]:
    epochs = record["epochs"]
    epochs_run = len(epochs)
    provenance = record["provenance"]
    row: dict[str, Any] = {
        "task": record["task"],
        "variant": record["variant"],
        "index": int(record["index"]),
        "seed": int(record["seed"]),
        "status": record["status"],
        **record["hyperparameters"],
        "parameter_count": int(record["parameter_count"]),
        "epochs_run": epochs_run,
        "best_valid_epoch": _as_float(record["best_valid_epoch"]),
        "valid_metric_raw": _as_float(record["best_valid_metric"]),
        "test_metric_raw": _as_float(record["test_metric"]),
        "train_seconds": float(record["train_seconds"]),
        # Wall time per epoch including evaluation: what a reader needs to budget a rerun.
        "seconds_per_epoch": float(record["train_seconds"]) / epochs_run if epochs_run else np.nan,
        "metric": record["metric"],
        "data_source": provenance.get("data_source"),
        "loss_convention": record["settings"]["loss_convention"],
        "stop_reason": record["stop_reason"],
        "implementation": provenance.get("implementation"),
        "kernel_isa": provenance.get("kernel_isa"),
        "device": provenance.get("device"),
        "data_hash": provenance["data_hash"],
        "git_commit": provenance.get("git_commit"),
    }
    return row


def _epoch_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    address = {"task": record["task"], "variant": record["variant"], "index": record["index"]}
    return [
        {**address, **{field: _as_float(epoch[field]) for field in _EPOCH_FIELDS}}
        for epoch in record["epochs"]
    ]


def _consistency_problems(trials: pd.DataFrame, sources: list[Path]) -> list[str]:
    """Problems that need all files at once: duplicate addresses, mixed metrics or data."""
    problems: list[str] = []
    addresses = trials[["task", "variant", "index"]].assign(source=[str(p) for p in sources])
    for (task, variant, index), group in addresses.groupby(["task", "variant", "index"]):
        if len(group) > 1:
            problems.append(
                f"trial ({task}, {variant}, {index}) appears in more than one file: "
                + ", ".join(group["source"])
            )
    for task, metrics in trials.groupby("task")["metric"]:
        if metrics.nunique() > 1:
            problems.append(
                f"task {task}: trials report different metrics ({', '.join(sorted(set(metrics)))})"
            )
    # A loss convention sets the scale of the learning-rate axis: trials trained under different
    # ones are not comparable. Name the trials outside the majority so they can be rerun.
    for task, group in addresses.assign(
        convention=trials["loss_convention"].to_numpy(), task=trials["task"].to_numpy()
    ).groupby("task"):
        counts = group["convention"].value_counts()
        if len(counts) > 1:
            minority = group[group["convention"] != counts.index[0]]
            problems.append(
                f"task {task}: trials were trained with different loss conventions "
                f"({', '.join(f'{c}: {n} trials' for c, n in counts.items())}); "
                "retrain or remove these: " + ", ".join(minority["source"])
            )
    # Trials of one task trained on different prepared data are not comparable (e.g. after the
    # data was re-prepared and only some trials were rerun).
    for task, hashes in trials.groupby("task")["data_hash"]:
        if hashes.nunique() > 1:
            counts = ", ".join(f"{h[:12]}… ({n} trials)" for h, n in hashes.value_counts().items())
            problems.append(f"task {task}: trials were trained on different data: {counts}")
    return problems


# --- the diverged and exploded trials policy ----------------------------------------------------


def trivial_ceiling(metric: str, output_size: int | None = None) -> float:
    """The metric of a predictor that learned nothing (see the module docstring); a finite metric
    above it marks a trial `exploded`. Infinite where no ceiling is known (NLL without K)."""
    if metric == NEXT_STEP.metric_name:
        return output_size * math.log(2.0) if output_size else math.inf
    if metric in (FRAMEWISE.metric_name, CTC.metric_name):
        return 100.0
    return math.inf


def prepared_output_size(path: str | os.PathLike[str]) -> int:
    """K, the number of outputs (keys, classes, labels) of a prepared data file, read from its
    attributes without loading any array."""
    from lstm_odyssey.data.store import read_prepared  # h5py: only where a file is read

    return read_prepared(path, splits=()).n_classes


def _task_ceilings(trials: pd.DataFrame, output_sizes: Mapping[str, int]) -> pd.Series:
    """Each row's trivial ceiling, from its task's metric and output size."""
    ceilings = {
        task: trivial_ceiling(str(metric), output_sizes.get(task))
        for task, metric in trials.groupby("task")["metric"].first().items()
    }
    return trials["task"].map(ceilings).astype(float)


def _penalise_diverged(
    trials: pd.DataFrame, output_sizes: Mapping[str, int] | None = None
) -> pd.DataFrame:
    """Apply the module's diverged and exploded trials policy (see the module docstring)."""
    trials = trials.copy()
    trials["diverged"] = (trials["status"] == "diverged") | ~np.isfinite(trials["test_metric_raw"])
    ceiling = _task_ceilings(trials, output_sizes or {})
    trials["exploded"] = (trials["test_metric_raw"].astype(float) > ceiling) | (
        trials["valid_metric_raw"].astype(float) > ceiling
    )
    penalised = trials["diverged"] | trials["exploded"]
    for raw_column, column in (
        ("valid_metric_raw", "valid_metric"),
        ("test_metric_raw", "test_metric"),
    ):
        values = trials[raw_column].astype(float)
        finite = values.where(np.isfinite(values))
        # The worst value is taken over trials that did not explode: an exploded value is no
        # measure of how bad an ordinary trial can be.
        worst = finite.where(~trials["exploded"]).groupby(trials["task"]).transform("max")
        trials[column] = finite.where(~penalised, worst)
        # A trial that did not diverge but has no finite value (e.g. only its validation metric
        # is null) is penalised the same way rather than left as NaN.
        trials[column] = trials[column].fillna(worst)
        for task in trials.loc[worst.isna(), "task"].unique():
            warnings.warn(
                f"task {task}: no trial has a finite {raw_column.removesuffix('_raw')} "
                "within the task's trivial ceiling; left as NaN",
                stacklevel=3,
            )
    return trials


# --- public API ----------------------------------------------------------------------------------


def _raise_problems(problems: list[str]) -> None:
    raise ValueError(f"{len(problems)} problem(s) in the trial files:\n  " + "\n  ".join(problems))


def _empty_trials() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in TRIAL_COLUMNS})


def collect_trials(
    paths: Iterable[str | os.PathLike[str]],
    *,
    set_aside_broken: bool = False,
    output_sizes: Mapping[str, int] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read trial JSON files into (trials, epochs) tables; see the module docstring for columns.

    `output_sizes` (task -> K, `prepared_output_size`) sets the NLL tasks' trivial ceilings, above
    which a trial counts as exploded; without it no NLL trial does.

    Every file is checked before anything is built, and all problems are reported together in one
    ValueError, so a broken study is fixed in one pass rather than one file at a time. With
    `set_aside_broken` (the workflow), a file that is not a valid record is renamed to
    `<file>.broken` (see `recovery`), so the next run rebuilds it instead of tripping over it.
    """
    sources = [Path(p) for p in paths]
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for path in sources:
        record, file_problems = _read_trial(path)
        if file_problems and set_aside_broken:
            moved = set_aside(path, "not a valid trial record")
            file_problems.append(f"{path}: moved to {moved}; the next run rebuilds it")
        problems.extend(file_problems)
        if record is not None:
            records.append(record)
    if problems:
        _raise_problems(problems)
    if not records:
        return _empty_trials(), pd.DataFrame({c: pd.Series(dtype=object) for c in EPOCH_COLUMNS})

    trials = pd.DataFrame([_trial_row(record) for record in records])
    problems = _consistency_problems(trials, sources)
    if problems:
        _raise_problems(problems)
    trials = _penalise_diverged(trials, output_sizes)

    columns = _ADDRESS_COLUMNS + hyperparameter_columns(trials) + _RESULT_COLUMNS
    trials = sort_by_address(trials[columns])

    epoch_rows = [row for record in records for row in _epoch_rows(record)]
    epochs = pd.DataFrame(epoch_rows, columns=list(EPOCH_COLUMNS))
    epochs["index"] = epochs["index"].astype("int64")
    if not epochs.empty:
        epochs = sort_by_address(epochs.sort_values("epoch", kind="stable"))
    return trials, epochs


def hyperparameter_columns(trials: pd.DataFrame) -> list[str]:
    """The trials table's hyperparameter columns (everything that is not a fixed column)."""
    return [c for c in trials.columns if c not in TRIAL_COLUMNS]


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a trials or epochs table as TSV, atomically."""
    return atomic_write_tsv(df, path)


def task_label(trials: pd.DataFrame, task: str) -> str:
    """`task` with the corpus its trials were trained on, e.g. `timit (synthetic-timit)`.

    Figure titles use it, so a result from a generated stand-in never passes for the real corpus.
    """
    if "data_source" not in trials.columns or "task" not in trials.columns:
        return task
    sources = sorted(set(trials.loc[trials["task"] == task, "data_source"].dropna().astype(str)))
    return f"{task} ({', '.join(sources)})" if sources else task


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table written by `write_table`, restoring the types that TSV loses."""
    table = pd.read_csv(path, sep="\t", dtype=dict.fromkeys(_TEXT_COLUMNS, str))
    for column in ("diverged", "exploded"):
        if column in table.columns and table[column].dtype != bool:
            table[column] = table[column].astype(str) == "True"
    return table
