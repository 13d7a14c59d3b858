"""Where a study stands, read from its files alone: done, running, stale, diverged, failed, missing.

A study of 5400 trials runs for days on a cluster; its owner wants to see, at any moment and
without touching the workflow, how far each task x variant is, the best validation metric so far
(named, with its unit), what the finished trials cost, what is left and when it will be done.
Everything here comes from files the training jobs write anyway: a trial's JSON record once it
finished, its checkpoint beside the record while it runs (`<index>.json.ckpt`, saved after an
epoch) and its job log (`logs/<study>/train/<task>/<variant>/<index>.log`, a line per epoch, see
`training.trial`). No torch, no pandas and no Snakemake: `lstm-odyssey status` answers in well
under two seconds on 5400 records, and `--watch` redraws the table every few seconds.

The state of a trial (the rule, in this order)
----------------------------------------------
- done: its record is there, of this study's seed. A diverged trial is done too (it is a result
  the analysis keeps); the diverged column says how many of the done ones diverged.
- failed: no usable record, and its last attempt says so: its job log holds the job's failure
  (`joblog.FAILURE_MESSAGE`, then the traceback), or the file in the record's place is not
  readable JSON, or a broken record was set aside beside it (`<index>.json.broken`, see
  `recovery`) and no job has run it since. The next `snakemake` run retrains it.
- running: no record, and its checkpoint or its job log was written within the task's stale time.
- stale: no record, and a checkpoint or a job log that nothing touched for longer than the stale
  time, with neither a failure nor an end in the log: its job was killed (time limit, memory, a
  lost node, Ctrl-C) or hangs. The next run resumes it from its checkpoint.
- missing: nothing of it yet, or a record of another study seed in its place (a folder shared
  by mistake: a line says how many), or a log saying it ended whose record was deleted since.

The stale time of a task is an epoch with room to spare: twice the longest epoch its finished
trials measured (training seconds over epochs), at least `STALE_MINIMUM_SECONDS`, plus the
config's `checkpoint_interval_seconds` (a checkpoint is saved at most that often; the log is
written every epoch). Before any trial of the task finished it is `STALE_FALLBACK_SECONDS`.

What remains and when it is done
--------------------------------
Per task x variant, the finished trials' mean seconds per epoch times their mean number of
epochs (capped at `max_epochs`; the task's means where a variant has none finished yet) for
every trial not done; a running trial less the epochs its log says it ran. CPU seconds are the
training seconds times the trial's threads. The wall-clock ETA spreads the trials' seconds over
`jobs` parallel jobs: the larger of (their sum / jobs) and the longest single trial left. A task
with no finished trial has nothing to estimate from: it is named ("not enough measured yet")
instead of counting as zero.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from lstm_odyssey.joblog import FAILURE_MESSAGE
from lstm_odyssey.paths import StudyPaths, checkpoint_path_for
from lstm_odyssey.tasks import metric_unit

STALE_MINIMUM_SECONDS = 120.0
STALE_FALLBACK_SECONDS = 3600.0
"""The stale time of a task none of whose trials has finished yet (nothing measured)."""
STALE_EPOCH_MARGIN = 2.0

_LOG_TAIL_BYTES = 1 << 16  # a job log's end: its last epochs, its end or its failure
_FAILED = re.compile(rf" ERROR \S+: {re.escape(FAILURE_MESSAGE)}$", re.MULTILINE)
_ENDED = re.compile(r"^\S+ \S+ INFO \S+: \S+ ends: ", re.MULTILINE)  # training.trial
_EPOCH = re.compile(r" epoch (\d+)/\d+: train loss ")
_LISTED = 5  # stale and failed trials named below the table


@dataclass
class CellStatus:
    """One task x variant of the study."""

    task: str
    variant: str
    planned: int
    done: int = 0  # finished, diverged ones included
    diverged: int = 0
    running: int = 0
    stale: int = 0
    failed: int = 0
    best_valid_metric: float | None = None
    metric: str | None = None
    epochs: int = 0
    cpu_seconds: float = 0.0
    epoch_cpu_seconds: list[float] = field(default_factory=list)  # per finished trial
    epoch_wall_seconds: list[float] = field(default_factory=list)  # per finished trial
    running_epochs: list[int] = field(default_factory=list)  # epochs each running trial ran
    stale_trials: list[int] = field(default_factory=list)
    failed_trials: list[int] = field(default_factory=list)
    other_study: int = 0  # records of another study seed where this study's would be

    @property
    def missing(self) -> int:
        return self.planned - self.done - self.running - self.stale - self.failed

    @property
    def metric_unit(self) -> str:
        return metric_unit(self.metric) if self.metric else ""


def study_status(
    config: Mapping[str, Any],
    study_directory: str | os.PathLike[str],
    *,
    now: float | None = None,
    stale_after: float | None = None,
) -> list[CellStatus]:
    """The status of every task x variant the (validated) config plans, from its results folder
    and its job logs (module docstring). `now` (epoch seconds) and `stale_after` (seconds, for
    every task) default to the clock and the measured epochs."""
    paths = StudyPaths.at(study_directory)  # the logs: beside the results root
    study_seed = int(config["study_seed"])
    cells = []
    unfinished: list[tuple[CellStatus, int, Path]] = []
    for task, settings in config["tasks"].items():
        planned = int(settings["training"]["trials"])
        for variant in config["variants"]:
            cell = CellStatus(task, variant, planned)
            for index in range(planned):
                path = Path(paths.trial_record(task, variant, index))
                try:
                    record = json.loads(path.read_bytes())
                except FileNotFoundError:
                    unfinished.append((cell, index, path))
                    continue
                except (OSError, ValueError):
                    record = None
                if not isinstance(record, dict):  # the workflow sets it aside and retrains it
                    cell.failed += 1
                    cell.failed_trials.append(index)
                    continue
                if record.get("study_seed", study_seed) != study_seed:
                    cell.other_study += 1
                    continue
                _count(cell, record)
            cells.append(cell)
    stale_times = {
        task: stale_after if stale_after is not None else stale_seconds(cells, task, config)
        for task in config["tasks"]
    }
    now = time.time() if now is None else now
    for cell, index, path in unfinished:
        log_path = Path(paths.trial_log(cell.task, cell.variant, index))
        state, epochs_run = unfinished_state(path, log_path, stale_times[cell.task], now)
        if state == "running":
            cell.running += 1
            cell.running_epochs.append(epochs_run)
        elif state == "stale":
            cell.stale += 1
            cell.stale_trials.append(index)
        elif state == "failed":
            cell.failed += 1
            cell.failed_trials.append(index)
    return cells


def _count(cell: CellStatus, record: Mapping[str, Any]) -> None:
    """Add one finished trial (ok or diverged: both are done, the workflow keeps both)."""
    epochs = len(record.get("epochs") or [])
    wall = float(record.get("train_seconds") or 0.0)
    seconds = wall * int((record.get("provenance") or {}).get("threads") or 1)
    cell.done += 1
    cell.epochs += epochs
    cell.cpu_seconds += seconds
    cell.metric = record.get("metric", cell.metric)
    if epochs:
        cell.epoch_cpu_seconds.append(seconds / epochs)
        cell.epoch_wall_seconds.append(wall / epochs)
    if record.get("status") == "diverged":
        cell.diverged += 1
        return
    valid = record.get("best_valid_metric")
    if valid is not None and (cell.best_valid_metric is None or valid < cell.best_valid_metric):
        cell.best_valid_metric = float(valid)


def stale_seconds(cells: Sequence[CellStatus], task: str, config: Mapping[str, Any]) -> float:
    """How long a running trial of `task` may go without a write before it counts as stale."""
    epochs = [seconds for c in cells if c.task == task for seconds in c.epoch_wall_seconds]
    if not epochs:
        return STALE_FALLBACK_SECONDS
    interval = float(config.get("checkpoint_interval_seconds") or 0.0)
    return max(STALE_EPOCH_MARGIN * max(epochs), STALE_MINIMUM_SECONDS) + interval


def _modified(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _log_tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(handle.tell() - _LOG_TAIL_BYTES, 0))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def unfinished_state(
    record_path: Path, log_path: Path, stale_after: float, now: float
) -> tuple[str, int]:
    """(state, epochs run) of a trial without a record: running, stale, failed or missing."""
    checkpoint_time = _modified(checkpoint_path_for(record_path))
    log_time = _modified(log_path)
    tail = _log_tail(log_path) if log_time is not None else ""
    set_aside = record_path.with_name(record_path.name + ".broken").exists()
    if _FAILED.search(tail):
        return "failed", 0
    if _ENDED.search(tail):  # its record was written, and set aside or deleted since
        return ("failed" if set_aside else "missing"), 0
    touched = max((t for t in (checkpoint_time, log_time) if t is not None), default=None)
    if touched is not None:
        epochs = [int(match) for match in _EPOCH.findall(tail)]
        state = "running" if now - touched <= stale_after else "stale"
        return state, epochs[-1] if epochs else 0
    return ("failed" if set_aside else "missing"), 0


# --- what remains ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialEstimate:
    """What one more trial of a task x variant costs, from the finished ones."""

    cpu_per_epoch: float
    wall_per_epoch: float
    epochs: float


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def trial_estimates(
    cells: Sequence[CellStatus], config: Mapping[str, Any]
) -> dict[tuple[str, str], TrialEstimate]:
    """(task, variant) -> its estimate; absent where the task has nothing measured."""
    estimates = {}
    for task in {cell.task for cell in cells}:
        task_cells = [cell for cell in cells if cell.task == task]
        max_epochs = int(config["tasks"][task]["training"]["max_epochs"])
        measured = [c for c in task_cells if c.epoch_wall_seconds]
        if not measured:
            continue
        task_estimate = TrialEstimate(
            _mean([s for c in measured for s in c.epoch_cpu_seconds]),
            _mean([s for c in measured for s in c.epoch_wall_seconds]),
            sum(c.epochs for c in measured) / sum(len(c.epoch_wall_seconds) for c in measured),
        )
        for cell in task_cells:
            estimate = task_estimate
            if cell.epoch_wall_seconds:
                estimate = TrialEstimate(
                    _mean(cell.epoch_cpu_seconds),
                    _mean(cell.epoch_wall_seconds),
                    cell.epochs / len(cell.epoch_wall_seconds),
                )
            estimates[task, cell.variant] = TrialEstimate(
                estimate.cpu_per_epoch, estimate.wall_per_epoch, min(estimate.epochs, max_epochs)
            )
    return estimates


@dataclass(frozen=True)
class Remaining:
    """What the trials not done will take, where it can be estimated."""

    cpu_seconds: float
    trial_seconds: float  # wall seconds of every trial left, one after the other
    longest_trial_seconds: float
    unmeasured_tasks: list[str]

    def eta_seconds(self, jobs: int) -> float:
        """Wall-clock seconds until the estimated trials are done with `jobs` in parallel."""
        return max(self.trial_seconds / max(jobs, 1), self.longest_trial_seconds)


def remaining(cells: Sequence[CellStatus], config: Mapping[str, Any]) -> Remaining:
    """The estimate of the module docstring, over every task x variant."""
    estimates = trial_estimates(cells, config)
    cpu = wall = longest = 0.0
    for cell in cells:
        estimate = estimates.get((cell.task, cell.variant))
        if estimate is None:
            continue
        running = [max(estimate.epochs - ran, 0.0) for ran in cell.running_epochs]
        waiting = max(cell.planned - cell.done - len(running), 0)
        epochs_left = [*running, *([estimate.epochs] * min(waiting, 1))]
        epochs = sum(running) + waiting * estimate.epochs
        cpu += epochs * estimate.cpu_per_epoch
        wall += epochs * estimate.wall_per_epoch
        longest = max([longest, *(e * estimate.wall_per_epoch for e in epochs_left)])
    return Remaining(cpu, wall, longest, unmeasured_tasks(cells))


def remaining_cpu_seconds(cells: Sequence[CellStatus], config: Mapping[str, Any]) -> float:
    """CPU seconds the trials not done will take, from the finished ones (module docstring)."""
    return remaining(cells, config).cpu_seconds


def unmeasured_tasks(cells: Sequence[CellStatus]) -> list[str]:
    """Tasks with trials not done but no finished one to estimate them from."""
    tasks = sorted({cell.task for cell in cells})
    return [
        task
        for task in tasks
        if any(c.done < c.planned for c in cells if c.task == task)
        and not any(c.epoch_wall_seconds for c in cells if c.task == task)
    ]


def default_jobs(config: Mapping[str, Any]) -> int:
    """The trials this machine runs at once under `snakemake --cores all`: cores / threads."""
    return max((os.cpu_count() or 1) // int(config.get("threads_per_trial") or 1), 1)


# --- the table --------------------------------------------------------------------------------


def duration_text(seconds: float) -> str:
    """`45 s`, `12 min`, `3 h 05 min`, `2 d 04 h`."""
    if seconds < 60:
        return f"{math.ceil(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def cpu_hours_text(seconds: float) -> str:
    """CPU seconds as hours, `0.25`; a cost too small to show is `< 0.01`, not a zero."""
    hours = seconds / 3600
    return "< 0.01" if 0 < hours < 0.005 else f"{hours:.2f}"


def _metric_text(cell: CellStatus) -> str:
    if cell.best_valid_metric is None:
        return "-"
    return f"{cell.best_valid_metric:.4g} {cell.metric_unit}".rstrip()


def status_table(cells: Sequence[CellStatus]) -> Table:
    """One row per task x variant: the trials in each state, the best metric, the cost."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("task", "variant"):
        table.add_column(name)
    for name in ("done", "running", "stale", "diverged", "failed", "missing"):
        table.add_column(name, justify="right")
    table.add_column("metric")
    table.add_column("best valid", justify="right")
    table.add_column("epochs", justify="right")
    table.add_column("CPU-h", justify="right")
    for cell in cells:
        table.add_row(
            cell.task,
            cell.variant,
            str(cell.done),
            str(cell.running),
            Text(str(cell.stale), style="yellow" if cell.stale else ""),
            str(cell.diverged),
            Text(str(cell.failed), style="red" if cell.failed else ""),
            str(cell.missing),
            cell.metric or "-",
            _metric_text(cell),
            str(cell.epochs),
            cpu_hours_text(cell.cpu_seconds),
        )
    return table


def _trial_list(cells: Sequence[CellStatus], which: Callable[[CellStatus], list[int]]) -> str:
    names = [f"{c.task}/{c.variant}/{index}" for c in cells for index in which(c)]
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return ", ".join(names[:_LISTED]) + more


def summary_lines(
    cells: Sequence[CellStatus],
    config: Mapping[str, Any],
    jobs: int | None = None,
    now: float | None = None,
) -> list[str]:
    """The totals, the estimate and the ETA, and what needs a look (stale, failed trials)."""
    jobs = default_jobs(config) if jobs is None else jobs
    now = time.time() if now is None else now
    planned = sum(c.planned for c in cells)
    done = sum(c.done for c in cells)
    spent = cpu_hours_text(sum(c.cpu_seconds for c in cells))
    counts = ", ".join(
        f"{sum(getattr(c, state) for c in cells)} {state}"
        for state in ("running", "stale", "failed", "missing")
    )
    lines = [
        f"{done} of {planned} trials done ({sum(c.diverged for c in cells)} diverged), "
        f"{counts}; {spent} CPU-hours spent"
    ]
    left = remaining(cells, config)
    measured_all = not left.unmeasured_tasks
    if done == planned:
        lines.append("all trials done")
    elif not measured_all and len(left.unmeasured_tasks) == len({c.task for c in cells}):
        lines.append("to go: not enough measured yet (no trial has finished)")
    else:
        eta = left.eta_seconds(jobs)
        finish = time.strftime("%a %d %b %H:%M", time.localtime(now + eta))
        which = "" if measured_all else " (of the tasks measured)"
        cpu = cpu_hours_text(left.cpu_seconds)
        lines.append(
            f"to go{which}: {cpu if cpu.startswith('<') else f'about {cpu}'} CPU-hours; with "
            f"{jobs} parallel job{'s' if jobs != 1 else ''} about {duration_text(eta)} "
            f"(done around {finish})"
        )
        if not measured_all:
            lines.append(
                f"not enough measured yet for {', '.join(left.unmeasured_tasks)} "
                "(no finished trial to estimate from)"
            )
    other_study = sum(c.other_study for c in cells)
    if other_study:
        lines.append(
            f"({other_study} records of another study_seed in this folder are not counted: "
            "give each study its own study_name)"
        )
    if any(c.stale for c in cells):
        lines.append(
            "stale (no job wrote their checkpoint or log for longer than an epoch takes: killed; "
            f"the next run resumes them): {_trial_list(cells, lambda c: c.stale_trials)}"
        )
    if any(c.failed for c in cells):
        lines.append(
            "failed (their job logs say why; the next run retrains them): "
            f"{_trial_list(cells, lambda c: c.failed_trials)}"
        )
    return lines


def status_renderable(
    cells: Sequence[CellStatus],
    config: Mapping[str, Any],
    jobs: int | None = None,
    now: float | None = None,
) -> RenderableType:
    """The table and its summary, as `lstm-odyssey status` shows them."""
    return Group(
        status_table(cells), *(Text(line) for line in summary_lines(cells, config, jobs, now))
    )


def format_status(
    cells: Sequence[CellStatus],
    config: Mapping[str, Any],
    jobs: int | None = None,
    now: float | None = None,
    width: int = 120,
) -> str:
    """The status as plain text (a log file, a pipe)."""
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(status_renderable(cells, config, jobs, now))
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())


def watch_status(
    render: Callable[[], RenderableType],
    console: Console,
    interval: float = 10.0,
    refreshes: int | None = None,
) -> None:
    """Show `render()` and redraw it every `interval` seconds, `refreshes` times (None: until
    Ctrl-C), under a line with the time it was taken. On a terminal it is redrawn in place;
    elsewhere (a pipe, a file) each drawing is printed below the last one."""
    from rich.live import Live
    from rich.rule import Rule

    def frame() -> RenderableType:
        taken = time.strftime("%Y-%m-%d %H:%M:%S")
        return Group(Rule(f"{taken}, redrawn every {interval:g} s (Ctrl-C stops)"), render())

    count = 0
    try:
        if console.is_terminal:
            with Live(frame(), console=console, auto_refresh=False) as live:
                count = 1
                while refreshes is None or count < refreshes:
                    time.sleep(interval)
                    live.update(frame(), refresh=True)
                    count += 1
            return
        while refreshes is None or count < refreshes:
            if count:
                time.sleep(interval)
            console.print(frame())
            count += 1
    except KeyboardInterrupt:
        return
