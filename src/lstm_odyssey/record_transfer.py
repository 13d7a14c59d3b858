"""Finished trials carried between machines: export a study's records, import them into the cache.

A trial's record names its `trial_key` (address, study seed, hyperparameters, the settings that
make its result, the prepared data's content). Imported records go into the record cache
(`paths.RECORD_CACHE`, keyed by that key), not into a study's folder: the next `snakemake` run
plans the trials as usual, and each one whose key matches a cached record is restored from it in
a second instead of trained (`training.trial.restore_from_cache`). So an import can never
smuggle in a result that does not belong to the study that runs: a record trained on other data
or with other settings has another key and is simply not used. A study moved to another machine,
or a published reproduction continued elsewhere, needs nothing else. Torch-free.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lstm_odyssey.io import atomic_write_json
from lstm_odyssey.paths import RECORD_CACHE, StudyPaths
from lstm_odyssey.trial_record import record_problems


@dataclass
class TransferReport:
    """What an export or import did: counts, and every file refused with the reason."""

    copied: int = 0
    already_there: int = 0
    refused: dict[str, str] = field(default_factory=dict)

    def summary(self, verb: str) -> str:
        lines = [f"{self.copied} records {verb}, {self.already_there} already there"]
        if self.refused:
            lines.append(f"{len(self.refused)} files refused:")
            lines += [f"  {path}: {reason}" for path, reason in sorted(self.refused.items())]
        return "\n".join(lines)


def _valid_record(path: Path) -> tuple[dict | None, str | None]:
    """The record in `path`, or the reason it is not a finished trial's record."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"not readable JSON ({error})"
    problems = record_problems(record)
    if problems:
        return None, "breaks the record contract: " + "; ".join(problems[:3])
    return record, None


def export_records(
    study_directory: str | os.PathLike[str], destination: str | os.PathLike[str]
) -> TransferReport:
    """Copy every finished record of the study at `study_directory` into `destination`, keeping
    the `<task>/<variant>/<index>.json` layout (a record that is already there is kept)."""
    trials = Path(StudyPaths.at(study_directory).trials_directory)
    report = TransferReport()
    for path in sorted(trials.glob("*/*/*.json")):
        record, reason = _valid_record(path)
        if record is None:
            report.refused[str(path)] = reason or ""
            continue
        target = Path(destination) / path.relative_to(trials)
        if target.exists() and target.read_bytes() == path.read_bytes():
            report.already_there += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        report.copied += 1
    return report


def import_records(
    source: str | os.PathLike[str], record_cache: str | os.PathLike[str] = RECORD_CACHE
) -> TransferReport:
    """Put every valid record found under `source` into the record cache under its key."""
    report = TransferReport()
    source = Path(source)
    if not source.exists():
        report.refused[str(source)] = "does not exist"
        return report
    for path in sorted(source.rglob("*.json")):
        record, reason = _valid_record(path)
        if record is None:
            report.refused[str(path)] = reason or ""
            continue
        target = Path(record_cache) / f"{record['trial_key']}.json"
        if target.exists():
            report.already_there += 1
            continue
        atomic_write_json(target, record)
        report.copied += 1
    return report
