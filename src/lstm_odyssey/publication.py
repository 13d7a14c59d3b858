"""A finished study, published as a folder: its tables, its figures, its records and how it ran.

A published study (`docs/reproduction/jsb` is one) is what a reader needs without rerunning
anything -- each task's findings, Welch and fANOVA tables, the paper's Figs. 3-6 -- and what a
later run needs to continue it: the finished trial records (`record_transfer`), which `make
reproduce` imports before it runs, so every run adds trials to the published ones. `run.md`
states how the study ran, read off the records themselves (not off the machine that publishes):
trials per variant, statuses, the CPUs, the kernel's instruction-set paths, the commits, the span
from the first trial's start to the last one's end, and the summed training time.

Publishing is a copy: the study's outputs are never touched, and a file already published with the
same bytes is left alone, so republishing after a rerun changes only what the rerun changed.
Torch-free.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstm_odyssey.io import atomic_path, atomic_write_json, atomic_write_text
from lstm_odyssey.paths import TASK_OUTPUTS, StudyPaths
from lstm_odyssey.record_transfer import export_records
from lstm_odyssey.trial_record import record_problems

PUBLISHED_OUTPUTS: dict[str, str] = {
    "findings": "The paper's findings in this study",
    "welch": "Welch's t-tests of the best trials against vanilla",
    "fanova_importance": "fANOVA: share of the test metric's variance per hyperparameter",
    "trials": "Every trial: hyperparameters, metrics, status",
    "boxplot": "Fig. 3: test metric per variant, all trials and the best ones",
    "fanova_marginals": "Fig. 4: predicted marginal test metric per hyperparameter",
    "fanova_pies": "Fig. 5: fraction of variance per hyperparameter",
    "fanova_pairs": "Fig. 6: learning rate x hidden size, total and interaction only",
    "learning_curves": "Validation metric by epoch",
}
"""The per-task outputs a publication carries (roles of `paths.TASK_OUTPUTS`), with what each is;
the paper's figure numbers where the output is one of its figures."""

RUN_SUMMARY_FILE = "run.json"
RUN_REPORT_FILE = "run.md"
RECORDS_FOLDER = "records"


@dataclass
class RunSummary:
    """How a study ran, read off its finished trial records."""

    trials: dict[str, dict[str, int]] = field(default_factory=dict)  # task -> variant -> count
    statuses: dict[str, int] = field(default_factory=dict)
    cpus: dict[str, int] = field(default_factory=dict)
    kernel_isa: dict[str, int] = field(default_factory=dict)
    implementations: dict[str, int] = field(default_factory=dict)
    torch_versions: dict[str, int] = field(default_factory=dict)
    commits: dict[str, int] = field(default_factory=dict)
    dirty_checkouts: int = 0
    first_started: str | None = None
    last_finished: str | None = None
    span_hours: float | None = None
    training_hours: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _count(counter: Counter) -> dict[str, int]:
    return {str(key): count for key, count in sorted(counter.items(), key=lambda kv: str(kv[0]))}


def summarise_records(records: Sequence[dict[str, Any]]) -> RunSummary:
    """Counts, machines, code paths and times of `records` (finished trial records)."""
    per_task: dict[str, Counter] = {}
    statuses, cpus, isas, implementations, torches, commits = (Counter() for _ in range(6))
    dirty = 0
    starts, ends = [], []
    training_seconds = 0.0
    for record in records:
        per_task.setdefault(record["task"], Counter())[record["variant"]] += 1
        statuses[record["status"]] += 1
        provenance = record.get("provenance") or {}
        cpus[provenance.get("cpu") or "unknown"] += 1
        isas[provenance.get("kernel_isa") or "none (reference)"] += 1
        implementations[provenance.get("implementation") or "unknown"] += 1
        torches[provenance.get("torch") or "unknown"] += 1
        commits[(provenance.get("git_commit") or "unknown")[:12]] += 1
        dirty += bool(provenance.get("git_dirty"))
        for key, into in (("started", starts), ("finished", ends)):
            if provenance.get(key):
                into.append(dt.datetime.fromisoformat(provenance[key]))
        training_seconds += float(record.get("train_seconds") or 0.0)
    summary = RunSummary(
        trials={task: _count(counts) for task, counts in sorted(per_task.items())},
        statuses=_count(statuses),
        cpus=_count(cpus),
        kernel_isa=_count(isas),
        implementations=_count(implementations),
        torch_versions=_count(torches),
        commits=_count(commits),
        dirty_checkouts=dirty,
        training_hours=training_seconds / 3600.0,
    )
    if starts and ends:
        summary.first_started = min(starts).isoformat()
        summary.last_finished = max(ends).isoformat()
        summary.span_hours = (max(ends) - min(starts)).total_seconds() / 3600.0
    return summary


def read_records(trials_directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every finished record under `trials_directory` (`<task>/<variant>/<index>.json`); a file
    that is not one stops the publication, naming it."""
    records = []
    for path in sorted(Path(trials_directory).glob("*/*/*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a readable trial record ({error})") from None
        problems = record_problems(record)
        if problems:
            raise ValueError(f"{path}: breaks the record contract: {'; '.join(problems[:3])}")
        records.append(record)
    return records


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(name) for name in header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} ({count})" for name, count in counts.items()) or "-"


def _checkout_text(dirty_checkouts: int) -> str:
    if dirty_checkouts:
        return f"{dirty_checkouts} trials from a checkout with uncommitted changes"
    return "every trial from a clean checkout"


def run_report(study_name: str, summary: RunSummary, findings: dict[str, Path]) -> str:
    """`run.md`: how the study ran, its findings tables, and what each published file is."""
    lines = [
        f"# Study `{study_name}`: how it ran",
        "",
        "Generated by `lstm-odyssey publish` from the trial records in `records/`; do not edit.",
        "",
    ]
    for task, counts in summary.trials.items():
        per_variant = ", ".join(f"{variant} {count}" for variant, count in counts.items())
        lines.append(f"- **{task}**: {sum(counts.values())} trials ({per_variant})")
    lines += [
        f"- statuses: {_counts_text(summary.statuses)}",
        f"- CPU: {_counts_text(summary.cpus)}",
        f"- our kernel's ISA path: {_counts_text(summary.kernel_isa)}; implementation: "
        f"{_counts_text(summary.implementations)}; torch {_counts_text(summary.torch_versions)}",
        f"- commits: {_counts_text(summary.commits)}; " + _checkout_text(summary.dirty_checkouts),
    ]
    if summary.span_hours is not None:
        lines.append(
            f"- first trial started {summary.first_started}, last finished "
            f"{summary.last_finished}: {summary.span_hours:.2f} h of wall time (over every run "
            f"that added trials); training summed over trials: {summary.training_hours:.2f} h"
        )
    for task, path in findings.items():
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        lines += ["", f"## {task}: the paper's findings in this study", ""]
        lines += _markdown_table(
            ["finding", "statistic", "verdict", "reason"],
            [[row["finding"], row["statistic"], row["verdict"], row["reason"]] for row in rows],
        )
    lines += ["", "## Files", ""]
    for role, what in PUBLISHED_OUTPUTS.items():
        lines.append(f"- `<task>/{TASK_OUTPUTS[role]}`: {what}")
    lines.append(f"- `{RECORDS_FOLDER}/<task>/<variant>/<index>.json`: every finished trial")
    return "\n".join(lines) + "\n"


def _copy_if_changed(source: Path, target: Path) -> bool:
    if target.exists() and target.read_bytes() == source.read_bytes():
        return False
    with atomic_path(target) as partial:
        shutil.copyfile(source, partial)
    return True


def publish_study(
    study_directory: str | os.PathLike[str], destination: str | os.PathLike[str]
) -> RunSummary:
    """Copy the finished study at `study_directory` into `destination`: per task its published
    outputs, every record, and `run.json`/`run.md`. A missing output stops before anything is
    copied, naming it (run the study to its end first)."""
    paths = StudyPaths.at(study_directory)
    records = read_records(paths.trials_directory)
    if not records:
        raise ValueError(f"{paths.trials_directory}: no finished trial records to publish")
    tasks = sorted({record["task"] for record in records})
    outputs = {
        (task, role): Path(paths.task_output(role, task))
        for task in tasks
        for role in PUBLISHED_OUTPUTS
    }
    missing = [str(path) for path in outputs.values() if not path.is_file()]
    if missing:
        raise ValueError(
            "the study is not finished, these outputs are missing: " + ", ".join(missing)
        )
    destination = Path(destination)
    for (task, role), source in outputs.items():
        _copy_if_changed(source, destination / task / TASK_OUTPUTS[role])
    export_records(paths.directory, destination / RECORDS_FOLDER)
    summary = summarise_records(records)
    atomic_write_json(destination / RUN_SUMMARY_FILE, summary.as_dict())
    findings = {task: destination / task / TASK_OUTPUTS["findings"] for task in tasks}
    atomic_write_text(destination / RUN_REPORT_FILE, run_report(paths.name, summary, findings))
    return summary
