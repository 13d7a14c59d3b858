"""Where a study's files are: every result path stated once.

Each study writes under its own folder, `results/<study_name>/`, so a second study (another seed,
another config) never replaces the first one's records, tables or report, and `status` counts
only its own trials. One thing is shared between studies on purpose: the record cache
(`results/cache/records`), whose entries are keyed by a trial's whole content (address, study
seed, hyperparameters, settings, data), so a trial two studies share is trained once.

Every path is a template with Snakemake's wildcards by default (`{task}`, `{variant}`, `{index}`,
`{corpus}`); pass values to get one file. Torch-free and light: the Snakefile reads it on every
parse, and so does `lstm-odyssey status`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS_ROOT = "results"
LOGS_ROOT = "logs"
RECORD_CACHE = f"{RESULTS_ROOT}/cache/records"
"""Finished trial records by content key, shared by every study (see `run_trial`)."""

STUDY_IDENTITY_FILE = "study.json"
CHECKPOINT_SUFFIX = ".ckpt"


def checkpoint_path_for(record_path: str | os.PathLike[str]) -> Path:
    """Where the trial whose record goes to `record_path` keeps its checkpoint while it runs:
    beside the record, outside the workflow's declared outputs (a killed job's progress
    survives for the rerun)."""
    record_path = Path(record_path)
    return record_path.with_name(record_path.name + CHECKPOINT_SUFFIX)


TASK_OUTPUTS = {
    "trials": "trials.tsv",
    "epochs": "epochs.tsv",
    "welch": "welch.tsv",
    "boxplot": "variant_boxplot.png",
    "learning_curves": "learning_curves.png",
    "fanova_importance": "fanova_importance.tsv",
    "fanova_marginals": "fanova_marginals.png",
    "fanova_pies": "fanova_pies.png",
    "fanova_pairs": "fanova_pairs.png",
    "findings": "findings.tsv",
}
"""The per-task tables and figures, by role: file name under `results/<study>/<task>/`."""


@dataclass(frozen=True)
class StudyPaths:
    """The files of one study, relative to the working directory (or `results_root`)."""

    name: str
    results_root: str = RESULTS_ROOT
    logs_root: str = LOGS_ROOT

    @classmethod
    def at(cls, directory: str | os.PathLike[str]) -> StudyPaths:
        """The paths of the study whose results folder is `directory`; its logs in the `logs/`
        beside the results root (`results/<study>` -> `logs/<study>`, as the workflow runs)."""
        directory = Path(directory)
        logs_root = directory.parent.parent / LOGS_ROOT
        return cls(directory.name, results_root=str(directory.parent), logs_root=str(logs_root))

    @property
    def directory(self) -> str:
        return f"{self.results_root}/{self.name}"

    @property
    def identity_file(self) -> str:
        """Which study seed this folder's trials belong to (see `check_study_directory`)."""
        return f"{self.directory}/{STUDY_IDENTITY_FILE}"

    @property
    def trials_directory(self) -> str:
        return f"{self.directory}/trials"

    @property
    def study_table(self) -> str:
        return f"{self.directory}/trials.tsv"

    @property
    def report(self) -> str:
        return f"{self.directory}/report.html"

    def corpus(self, corpus: str = "{corpus}") -> str:
        """A generated stand-in corpus (`synthetic-timit`, ...)."""
        return f"{self.directory}/corpora/{corpus}"

    def prepared_data(self, task: str = "{task}") -> str:
        return f"{self.directory}/data/{task}.h5"

    def trial_record(
        self, task: str = "{task}", variant: str = "{variant}", index: int | str = "{index}"
    ) -> str:
        return f"{self.trials_directory}/{task}/{variant}/{index}.json"

    def task_output(self, role: str, task: str = "{task}") -> str:
        """A per-task table or figure by its role in `TASK_OUTPUTS`."""
        return f"{self.directory}/{task}/{TASK_OUTPUTS[role]}"

    def log(self, step: str, name: str) -> str:
        """One job's log: `logs/<study>/<step>/<name>.log`."""
        return f"{self.logs_root}/{self.name}/{step}/{name}.log"

    def trial_log(
        self, task: str = "{task}", variant: str = "{variant}", index: int | str = "{index}"
    ) -> str:
        """A training job's log: a line per epoch, its start and its end (`status` reads it)."""
        return self.log("train", f"{task}/{variant}/{index}")

    # Results before the end (`snakemake interim`): the same tables, figures and a report from
    # the trials finished so far, in a folder of their own; the final outputs are never touched.

    @property
    def interim_directory(self) -> str:
        return f"{self.directory}/interim"

    @property
    def interim_study_table(self) -> str:
        return f"{self.interim_directory}/trials.tsv"

    @property
    def interim_report(self) -> str:
        """The interim report (Markdown: it reads as text and links the figures beside it)."""
        return f"{self.interim_directory}/report.md"

    def interim_task_output(self, role: str, task: str = "{task}") -> str:
        """An interim per-task table or figure by its role in `TASK_OUTPUTS`."""
        return f"{self.interim_directory}/{task}/{TASK_OUTPUTS[role]}"


def study_paths(
    config: Mapping[str, Any], results_root: str | os.PathLike[str] | None = None
) -> StudyPaths:
    """The paths of the study a (validated) config describes."""
    root = RESULTS_ROOT if results_root is None else os.fspath(results_root)
    return StudyPaths(str(config["study_name"]), results_root=root)


def read_study_identity(paths: StudyPaths) -> dict[str, Any] | None:
    """What the folder's identity file says, or None where there is none (or it is unreadable)."""
    import json

    try:
        return json.loads(Path(paths.identity_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
