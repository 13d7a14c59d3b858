"""A corpus that cannot be read as configured, said before any job runs, with its fix.

A paper-scale study names three licensed corpora by path. Without a check at DAG build the first
missing one surfaces as a bare `MissingInputException` (or, for a folder, only inside the
preparation job), one corpus per run, and a path that points at the wrong corpus passes the dry
run. Each corpus package's `layout` module looks at its task's `data:` section without reading
the corpus (does the path exist, is it a file or a folder as the source needs, does it look
like this corpus rather than another one or nothing) and returns `CorpusProblem`s; the registry
(`data.registry.check_study_corpora`) reports every task's problems in one message.

Light on purpose (a few `stat`s and directory listings): the Snakefile runs the checks on every
parse. The thorough checks stay with the readers, which name the file at fault.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstm_odyssey.data.errors import CorpusError

WhatElse = Callable[[Path], str]
"""Says in words what a folder holds instead (another corpus, nothing, ...)."""


@dataclass(frozen=True)
class CorpusProblem:
    """One task's corpus that cannot be read as configured, and how to fix it."""

    task: str
    key: str  # the config key at fault, e.g. "path"
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"tasks.{self.task}.data.{self.key}: {self.problem}\n    fix: {self.fix}"


class StudyCorporaError(CorpusError):
    """Every corpus problem of a study, one message (raised before any job runs)."""

    def __init__(self, source: str, problems: list[CorpusProblem]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            source,
            f"{len(problems)} corpus problem{'s' if len(problems) > 1 else ''}; nothing was "
            f"run:\n{listing}",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.source, self.problems))


def configured_path(
    task: str, data: Mapping[str, Any], fix: str
) -> tuple[Path | None, list[CorpusProblem]]:
    """The configured path if it exists, or the problem of its absence."""
    if not data.get("path"):
        return None, [
            CorpusProblem(task, "path", f"source {data['source']!r} needs a path; none is set", fix)
        ]
    path = Path(data["path"])
    if not path.exists():
        where = "" if path.is_absolute() else f" (looked for in {Path.cwd()})"
        return None, [CorpusProblem(task, "path", f"{path} does not exist{where}", fix)]
    return path, []


def configured_folder(
    task: str, data: Mapping[str, Any], corpus: str, fix: str
) -> tuple[Path | None, list[CorpusProblem]]:
    """The configured path if it is a folder, or the problem with it."""
    path, problems = configured_path(task, data, fix)
    if path is not None and not path.is_dir():
        problem = f"{path} is a file; expected {corpus}'s folder"
        return None, [CorpusProblem(task, "path", problem, fix)]
    return path, problems


def subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(entry for entry in folder.iterdir() if entry.is_dir())
    except OSError:
        return []


def describe_entries(folder: Path) -> str:
    """What a folder that holds no known corpus holds, in words."""
    try:
        entries = sorted(entry.name for entry in folder.iterdir())
    except OSError as error:
        return f"it cannot be listed ({error.strerror})"
    if not entries:
        return "it is empty"
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    return f"nothing in it is recognisable (it holds {shown})"


def raise_if_any(problems: list[CorpusProblem], source: str | os.PathLike[str]) -> None:
    if problems:
        raise StudyCorporaError(os.fspath(source), problems)
