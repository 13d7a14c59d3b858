"""Results before the end: the study's tables, figures and a report from the trials finished so far.

`snakemake interim --cores 1` (the rule `interim`) calls `write_interim_results` while the study
runs. It reads the trial records that exist at that moment -- valid ones (`trial_record`) of
this study's seed; a broken file is skipped and named, never set aside -- and builds what the
final analysis builds, with the same library functions: the trials and epochs tables, Welch's
tests against the baseline with the box plot and the learning curves, fANOVA importance with its
figures, per task under `results/<study>/interim/<task>/`, plus the study-wide
`interim/trials.tsv` and `interim/report.md`. Every table has an `interim` column and every
figure's title a line saying "interim: n of N trials" (n finished of the N the config plans).

It touches nothing of the running study: no trial record, checkpoint or final output is read
for writing, and the rule has no inputs, so it is never a parent of a training job. The folder is
built beside itself (`interim.building`) and swapped in at the end: a reader never sees half of
two runs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lstm_odyssey.analysis.fanova import ForestSettings
from lstm_odyssey.analysis.fanova_tables import POOLED, task_fanova
from lstm_odyssey.analysis.selection import best_trials
from lstm_odyssey.analysis.table import (
    collect_trials,
    prepared_output_size,
    task_label,
    write_table,
)
from lstm_odyssey.analysis.welch import welch_against_vanilla
from lstm_odyssey.io import atomic_write_text
from lstm_odyssey.paths import StudyPaths
from lstm_odyssey.plots.comparison import plot_learning_curves, plot_variant_boxplot
from lstm_odyssey.plots.fanova_figures import write_fanova_figures
from lstm_odyssey.search.space import search_dimensions
from lstm_odyssey.tasks import metric_unit
from lstm_odyssey.trial_record import record_problems

INTERIM_COLUMN = "interim"


def interim_note(finished: int, planned: int) -> str:
    """What marks every interim table and figure."""
    return f"interim: {finished} of {planned} trials"


@dataclass
class InterimTrials:
    """The records finished so far, per task, and the files left out (with why)."""

    planned: dict[str, int]  # task -> trials the config plans (all variants)
    records: dict[str, list[Path]]  # task -> valid records of this study
    skipped: list[str] = field(default_factory=list)

    def note(self, task: str | None = None) -> str:
        tasks = [task] if task is not None else list(self.planned)
        return interim_note(
            sum(len(self.records[t]) for t in tasks), sum(self.planned[t] for t in tasks)
        )


def finished_trials(config: Mapping[str, Any], paths: StudyPaths) -> InterimTrials:
    """Every planned trial's record that is there now, valid and of this study's seed."""
    study_seed = int(config["study_seed"])
    interim = InterimTrials({}, {})
    for task, settings in config["tasks"].items():
        trials = int(settings["training"]["trials"])
        interim.planned[task] = trials * len(config["variants"])
        interim.records[task] = []
        for variant in config["variants"]:
            for index in range(trials):
                path = Path(paths.trial_record(task, variant, index))
                why = _unusable(path, study_seed)
                if why is None:
                    interim.records[task].append(path)
                elif why:
                    interim.skipped.append(f"{path}: {why}")
    return interim


def _unusable(path: Path, study_seed: int) -> str | None:
    """Why the record at `path` is left out ("" when there is none yet), or None to read it."""
    try:
        record = json.loads(path.read_bytes())
    except FileNotFoundError:
        return ""
    except (OSError, ValueError) as error:
        return f"not readable as JSON ({error})"
    problems = record_problems(record)
    if problems:
        return "; ".join(problems)
    if record["study_seed"] != study_seed:
        return f"a record of study_seed {record['study_seed']}, not this study's {study_seed}"
    return None


def _marked(table: pd.DataFrame, note: str) -> pd.DataFrame:
    return table.assign(**{INTERIM_COLUMN: note})


@dataclass
class TaskSection:
    """What the report says of one task."""

    task: str
    note: str
    lines: list[str] = field(default_factory=list)


def write_interim_results(
    config: Mapping[str, Any], paths: StudyPaths, now: dt.datetime | None = None
) -> InterimTrials:
    """Build `paths.interim_directory` from the trials finished so far (module docstring)."""
    interim = finished_trials(config, paths)
    final = Path(paths.interim_directory)
    building = final.with_name(final.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)

    def place(path: str) -> Path:
        """Where a file of `paths.interim_*` goes while the folder is built."""
        return building / Path(path).relative_to(final)

    sections, tables = [], []
    for task in config["tasks"]:
        section = TaskSection(task, interim.note(task))
        sections.append(section)
        prepared = Path(paths.prepared_data(task))
        sizes = {task: prepared_output_size(prepared)} if prepared.exists() else None
        trials, epochs = collect_trials(interim.records[task], output_sizes=sizes)
        write_table(_marked(trials, section.note), place(paths.interim_task_output("trials", task)))
        write_table(_marked(epochs, section.note), place(paths.interim_task_output("epochs", task)))
        if trials.empty:
            section.lines.append("No trial of this task has finished yet.")
            continue
        tables.append(_marked(trials, section.note))
        _task_analysis(config, paths, task, trials, epochs, section, place)

    study_table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    write_table(_marked(study_table, interim.note()), place(paths.interim_study_table))
    report = interim_report(config, paths, interim, sections, now or dt.datetime.now())
    atomic_write_text(place(paths.interim_report), report)

    shutil.rmtree(final, ignore_errors=True)
    os.replace(building, final)
    return interim


def _task_analysis(
    config: Mapping[str, Any],
    paths: StudyPaths,
    task: str,
    trials: pd.DataFrame,
    epochs: pd.DataFrame,
    section: TaskSection,
    place: Callable[[str], Path],
) -> None:
    """One task's Welch tests, comparison figures and fANOVA, as the final rules make them."""
    analysis = config["analysis"]
    baseline, fraction = analysis["baseline"], float(analysis["best_fraction"])
    note = section.note
    metric = str(trials["metric"].iloc[0])
    unit = metric_unit(metric)
    best = best_trials(trials, fraction, int(analysis["minimum_best"]))
    section.lines.append(
        f"{len(trials)} trials finished ({int(trials['diverged'].sum())} diverged); "
        f"metric: test {metric} in {unit or 'its own unit'}, lower is better; the best "
        f"{fraction:.0%} of each variant's trials by validation {metric} are compared."
    )
    if baseline in set(trials["variant"]):
        welch = welch_against_vanilla(best, baseline, float(analysis["alpha"]))
        write_table(_marked(welch, note), place(paths.interim_task_output("welch", task)))
        boxplot = paths.interim_task_output("boxplot", task)
        plot_variant_boxplot(best, welch, task, place(boxplot), fraction, note=note)
        section.lines += ["", f"Welch's t-tests against {baseline}:", "", *_welch_lines(welch)]
        section.lines += ["", f"![box plot]({_relative(paths, boxplot)})"]
    else:
        section.lines.append(
            f"No {baseline} (baseline) trial has finished yet: no Welch test, no box plot."
        )
    curves = paths.interim_task_output("learning_curves", task)
    plot_learning_curves(best, epochs, task, place(curves), fraction, note=note)
    section.lines += ["", f"![learning curves]({_relative(paths, curves)})"]

    forest = analysis["fanova"]
    fanova = task_fanova(
        trials,
        search_dimensions(config["tasks"][task]["search"]),
        ForestSettings.from_config(forest),
    )
    importance = fanova.table()
    write_table(
        _marked(importance, note), place(paths.interim_task_output("fanova_importance", task))
    )
    figures = {
        role: paths.interim_task_output(role, task)
        for role in ("fanova_marginals", "fanova_pies", "fanova_pairs")
    }
    write_fanova_figures(
        fanova,
        task=f"{task_label(trials, task)} ({note})",
        metric_name=metric,
        baseline=baseline,
        grid_size=int(forest["grid_size"]),
        marginals_path=place(figures["fanova_marginals"]),
        pies_path=place(figures["fanova_pies"]),
        pairs_path=place(figures["fanova_pairs"]),
    )
    section.lines += ["", "fANOVA, the largest shares of the test metric's variance:", ""]
    section.lines += _importance_lines(importance)
    for role, path in figures.items():
        section.lines += ["", f"![{role}]({_relative(paths, path)})"]


def _relative(paths: StudyPaths, path: str) -> str:
    return Path(path).relative_to(paths.interim_directory).as_posix()


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _number(value: Any, digits: str = ".4g") -> str:
    return "-" if pd.isna(value) else format(float(value), digits)


def _welch_lines(welch: pd.DataFrame) -> list[str]:
    return _markdown_table(
        ["variant", "n", "mean", "median", "difference", "p", "direction"],
        [
            [
                str(row.variant),
                str(row.n),
                _number(row.mean),
                _number(row.median),
                _number(row.difference),
                _number(row.p_value, ".3g"),
                str(row.direction),
            ]
            for row in welch.itertuples()
        ],
    )


def _importance_lines(importance: pd.DataFrame, shown: int = 5) -> list[str]:
    pooled = importance[
        (importance["trials"] == POOLED) & (importance["metric"] == "test_metric")
    ].sort_values("fraction_mean", ascending=False)
    if pooled.empty:
        return ["(fewer than two trials with a finite test metric: no decomposition yet)"]
    return _markdown_table(
        ["term", "share of variance"],
        [
            [str(row.term), _number(row.fraction_mean, ".1%")]
            for row in pooled.head(shown).itertuples()
        ],
    )


def interim_report(
    config: Mapping[str, Any],
    paths: StudyPaths,
    interim: InterimTrials,
    sections: list[TaskSection],
    now: dt.datetime,
) -> str:
    """The report, in Markdown: counts, Welch's tests, the fANOVA and links to the figures."""
    lines = [
        f"# Study {paths.name}, interim results ({interim.note()})",
        "",
        f"Built {now:%Y-%m-%d %H:%M} from the trials finished so far; the study is not done and "
        "every number here may change. Each table and figure says how many trials it saw; the "
        f"final results in {paths.directory}/ are not touched.",
        "",
    ]
    lines += _markdown_table(
        ["task", "finished", "planned"],
        [
            [task, str(len(interim.records[task])), str(interim.planned[task])]
            for task in config["tasks"]
        ],
    )
    if interim.skipped:
        lines += ["", f"{len(interim.skipped)} record(s) left out:", ""]
        lines += [f"- {why}" for why in interim.skipped]
    for section in sections:
        lines += ["", f"## {section.task} ({section.note})", "", *section.lines]
    return "\n".join(lines) + "\n"
