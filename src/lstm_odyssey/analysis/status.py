"""Where a study stands, read from the results tree alone: done, running, diverged, missing.

A study of 5400 trials runs for days on a cluster; its owner wants to see, at any moment and
without touching the workflow, how far each task x variant is, the best validation metric so
far, what the finished trials cost and what is left. Everything here comes from files the
training jobs write anyway: a trial's JSON record once it finished, its `.ckpt` beside it while
it runs (saved after an epoch). No torch, no pandas and no Snakemake: `lstm-odyssey status`
answers in well under two seconds on 5400 records. A record of another study seed (a folder
shared by mistake) is not this study's trial: it counts as missing, and a line says how many.

The estimate of what remains: per task x variant, the finished trials' mean CPU seconds per
epoch times their mean number of epochs (capped at `max_epochs`; the task's means where a
variant has none finished yet), for every trial not finished; running trials count whole. A task
with no finished trial has nothing to estimate from: it is named below the table instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstm_odyssey.paths import StudyPaths
from lstm_odyssey.training.checkpoint import checkpoint_path_for


@dataclass
class CellStatus:
    """One task x variant of the study."""

    task: str
    variant: str
    planned: int
    done: int = 0  # finished, diverged ones included
    diverged: int = 0
    running: int = 0
    best_valid_metric: float | None = None
    metric: str | None = None
    epochs: int = 0
    cpu_seconds: float = 0.0
    epoch_cpu_seconds: list[float] = field(default_factory=list)  # per finished trial
    other_study: int = 0  # records of another study seed where this study's would be

    @property
    def missing(self) -> int:
        return self.planned - self.done - self.running


def study_status(
    config: Mapping[str, Any], study_directory: str | os.PathLike[str]
) -> list[CellStatus]:
    """The status of every task x variant the (validated) config plans, from its results folder."""
    paths = StudyPaths.at(study_directory)
    study_seed = int(config["study_seed"])
    cells = []
    for task, settings in config["tasks"].items():
        planned = int(settings["training"]["trials"])
        for variant in config["variants"]:
            cell = CellStatus(task, variant, planned)
            for index in range(planned):
                path = Path(paths.trial_record(task, variant, index))
                try:
                    record = json.loads(path.read_bytes())
                except FileNotFoundError:
                    if checkpoint_path_for(path).exists():
                        cell.running += 1
                    continue
                except (OSError, ValueError):
                    continue  # unreadable: the workflow sets it aside and retrains it
                if record.get("study_seed", study_seed) != study_seed:
                    cell.other_study += 1
                    continue
                _count(cell, record)
            cells.append(cell)
    return cells


def _count(cell: CellStatus, record: Mapping[str, Any]) -> None:
    """Add one finished trial (ok or diverged: both are done, the workflow keeps both)."""
    epochs = len(record.get("epochs") or [])
    threads = int((record.get("provenance") or {}).get("threads") or 1)
    seconds = float(record.get("train_seconds") or 0.0) * threads
    cell.done += 1
    cell.epochs += epochs
    cell.cpu_seconds += seconds
    cell.metric = record.get("metric", cell.metric)
    if epochs:
        cell.epoch_cpu_seconds.append(seconds / epochs)
    if record.get("status") == "diverged":
        cell.diverged += 1
        return
    valid = record.get("best_valid_metric")
    if valid is not None and (cell.best_valid_metric is None or valid < cell.best_valid_metric):
        cell.best_valid_metric = float(valid)


def remaining_cpu_seconds(cells: Sequence[CellStatus], config: Mapping[str, Any]) -> float:
    """CPU seconds the unfinished trials will take, from the finished ones (module docstring)."""
    total = 0.0
    for task in {cell.task for cell in cells}:
        task_cells = [cell for cell in cells if cell.task == task]
        finished = [cell for cell in task_cells if cell.epoch_cpu_seconds]
        task_epochs = sum(cell.epochs for cell in finished)
        task_trials = sum(len(cell.epoch_cpu_seconds) for cell in finished)
        task_per_epoch = (
            sum(sum(cell.epoch_cpu_seconds) for cell in finished) / task_trials
            if task_trials
            else None
        )
        max_epochs = int(config["tasks"][task]["training"]["max_epochs"])
        for cell in task_cells:
            left = cell.planned - cell.done
            if left <= 0:
                continue
            if cell.epoch_cpu_seconds:
                per_epoch = sum(cell.epoch_cpu_seconds) / len(cell.epoch_cpu_seconds)
                epochs = cell.epochs / len(cell.epoch_cpu_seconds)
            elif task_per_epoch is not None:
                per_epoch, epochs = task_per_epoch, task_epochs / task_trials
            else:
                continue  # nothing measured for this task yet
            total += left * per_epoch * min(epochs, max_epochs)
    return total


def unmeasured_tasks(cells: Sequence[CellStatus]) -> list[str]:
    """Tasks with unfinished trials but no finished one to estimate them from."""
    tasks = sorted({cell.task for cell in cells})
    return [
        task
        for task in tasks
        if any(c.done < c.planned for c in cells if c.task == task)
        and not any(c.epoch_cpu_seconds for c in cells if c.task == task)
    ]


def format_status(cells: Sequence[CellStatus], config: Mapping[str, Any]) -> str:
    """A fixed-width table plus totals, as `lstm-odyssey status` prints it."""
    header = (
        f"{'task':<10} {'variant':<7} {'done':>5} {'run':>4} {'div':>4} {'miss':>5} "
        f"{'best valid':>11} {'epochs':>7} {'CPU-h':>7}"
    )
    lines = [header, "-" * len(header)]
    for cell in cells:
        best = "-" if cell.best_valid_metric is None else f"{cell.best_valid_metric:11.4g}"
        lines.append(
            f"{cell.task:<10} {cell.variant:<7} {cell.done:>5} {cell.running:>4} "
            f"{cell.diverged:>4} {cell.missing:>5} {best:>11} {cell.epochs:>7} "
            f"{cell.cpu_seconds / 3600:7.2f}"
        )
    planned = sum(cell.planned for cell in cells)
    done = sum(cell.done for cell in cells)
    spent = sum(cell.cpu_seconds for cell in cells) / 3600
    remaining = remaining_cpu_seconds(cells, config) / 3600
    lines.append("-" * len(header))
    lines.append(
        f"{done} of {planned} trials done ({sum(c.diverged for c in cells)} diverged), "
        f"{sum(c.running for c in cells)} running; {spent:.2f} CPU-hours spent, "
        f"about {remaining:.2f} CPU-hours to go"
    )
    other_study = sum(cell.other_study for cell in cells)
    if other_study:
        lines.append(
            f"({other_study} records of another study_seed in this folder are not counted: "
            "give each study its own study_name)"
        )
    unmeasured = unmeasured_tasks(cells)
    if unmeasured:
        lines.append(f"(no finished trial yet to estimate {', '.join(unmeasured)} from)")
    return "\n".join(lines)
