"""Every corpus of a study checked before any job runs: cheaply, at DAG build, all at once.

A paper-scale study names three licensed corpora by path. Without this check the first missing
one surfaces as a bare `MissingInputException` (or, for a folder, only inside the preparation
job), one corpus per run, and a path that points at the wrong corpus passes the dry run. Here
each task's `data:` section is looked at without reading the corpus: does the path exist, is it
the kind of thing the source reads (a file for JSB, a folder for TIMIT and IAM-OnDB), and does the
folder look like this corpus rather than another one or nothing. Every problem comes with its
fix, and `check_study_corpora` reports them all in one message.

Light on purpose (a few `stat`s and directory listings, no corpus reader imported): the Snakefile
runs it on every parse. The thorough checks stay with the readers, which name the file at fault.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstm_odyssey.data.corpora import is_synthetic
from lstm_odyssey.data.errors import CorpusError

# What each corpus looks like from its top folders (the readers state the full layouts).
_TIMIT_SPLIT_FOLDER = re.compile(r"^(train|test)$", re.IGNORECASE)
_TIMIT_DIALECT_FOLDER = re.compile(r"^dr[1-8]$", re.IGNORECASE)
_IAM_ONDB_PARTS = {
    "lineStrokes": ("lineStrokes", "lineStrokes-all.tar.gz"),
    "ascii": ("ascii", "ascii-all.tar.gz"),
    "task1": ("task1", "task1.tar.gz"),
}
_TIMIT_SEARCH_DEPTH = 3
"""Folders below `path` searched for TRAIN/ and TEST/ (copies nest them, e.g. timit/TIMIT/)."""


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


def looks_like_timit(folder: Path) -> bool:
    """A TRAIN or TEST folder holding DR1..DR8, at most `_TIMIT_SEARCH_DEPTH` levels down."""
    level = [folder]
    for _ in range(_TIMIT_SEARCH_DEPTH):
        below = []
        for parent in level:
            for child in _subfolders(parent):
                if _TIMIT_SPLIT_FOLDER.match(child.name) and any(
                    _TIMIT_DIALECT_FOLDER.match(grandchild.name)
                    for grandchild in _subfolders(child)
                ):
                    return True
                below.append(child)
        level = below
    return False


def iam_ondb_parts_present(folder: Path) -> list[str]:
    """Which of IAM-OnDB's three parts (folder or archive) are directly in `folder`."""
    return [
        part
        for part, (name, archive) in _IAM_ONDB_PARTS.items()
        if (folder / name).is_dir() or (folder / archive).is_file()
    ]


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(entry for entry in folder.iterdir() if entry.is_dir())
    except OSError:
        return []


def _what_else(folder: Path) -> str:
    """What a folder holds instead, in words (for a path that points at the wrong corpus)."""
    if iam_ondb_parts_present(folder):
        return "it holds IAM-OnDB (lineStrokes/, ascii/, task1/)"
    if looks_like_timit(folder):
        return "it holds TIMIT (TRAIN/, TEST/)"
    try:
        entries = sorted(entry.name for entry in folder.iterdir())
    except OSError as error:
        return f"it cannot be listed ({error.strerror})"
    if not entries:
        return "it is empty"
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    return f"nothing in it is recognisable (it holds {shown})"


def _path_problem(task: str, data: Mapping[str, Any], fix: str) -> tuple[Path | None, list]:
    """The configured path, or the problem of its absence."""
    if not data.get("path"):
        return None, [
            CorpusProblem(task, "path", f"source {data['source']!r} needs a path; none is set", fix)
        ]
    path = Path(data["path"])
    if not path.exists():
        where = "" if path.is_absolute() else f" (looked for in {Path.cwd()})"
        return None, [CorpusProblem(task, "path", f"{path} does not exist{where}", fix)]
    return path, []


def jsb_problems(task: str, data: Mapping[str, Any]) -> list[CorpusProblem]:
    """JSB Chorales: music21 needs nothing; the Boulanger file is a local file or a download."""
    if data["source"] != "boulanger":
        return []
    fix = (
        "put the Boulanger-Lewandowski pickle (or its JSON) at `path:`, or set `url:` with its "
        "`sha256:` to download it, or use `source: music21` (offline, bundled with music21)"
    )
    if data.get("url"):
        problems = []
        if not data.get("sha256"):
            problems.append(
                CorpusProblem(
                    task, "sha256", f"a download from {data['url']} needs its sha256", fix
                )
            )
        if not (data.get("path") or data.get("cache_dir")):
            problems.append(
                CorpusProblem(task, "path", "a download needs `path:` or `cache_dir:`", fix)
            )
        return problems
    path, problems = _path_problem(task, data, fix)
    if path is None:
        return problems
    if path.is_dir():
        return [
            CorpusProblem(
                task, "path", f"{path} is a folder ({_what_else(path)}); expected one file", fix
            )
        ]
    with path.open("rb") as handle:
        start = handle.read(64).lstrip()[:1]
    if start not in (b"{", b"\x80", b"(", b"}", b"]"):  # JSON, or a pickle's first opcode
        return [CorpusProblem(task, "path", f"{path} is neither a pickle nor JSON", fix)]
    return []


def _corpus_folder(
    task: str, data: Mapping[str, Any], corpus: str, fix: str
) -> tuple[Path | None, list[CorpusProblem]]:
    """The configured path if it is a folder, or the problem with it."""
    path, problems = _path_problem(task, data, fix)
    if path is not None and not path.is_dir():
        return None, [
            CorpusProblem(task, "path", f"{path} is a file; expected {corpus}'s folder", fix)
        ]
    return path, problems


def timit_problems(task: str, data: Mapping[str, Any]) -> list[CorpusProblem]:
    """TIMIT as LDC ships it: a folder with TRAIN/ and TEST/ (any case) somewhere below."""
    fix = (
        "point `path:` at your TIMIT (LDC93S1), the folder holding TRAIN/ and TEST/, or use "
        "`source: synthetic` (the generated stand-in)"
    )
    path, problems = _corpus_folder(task, data, "TIMIT", fix)
    if path is None or looks_like_timit(path):
        return problems
    what = f"no TRAIN/ or TEST/ folder with DR1..DR8 in it; {_what_else(path)}"
    return [CorpusProblem(task, "path", f"{path} is not TIMIT: {what}", fix)]


def iam_ondb_problems(task: str, data: Mapping[str, Any]) -> list[CorpusProblem]:
    """IAM-OnDB as the FKI distributes it: lineStrokes, ascii and task1, folders or archives."""
    fix = (
        "point `path:` at your IAM-OnDB, the folder holding lineStrokes/, ascii/ and task1/ "
        "(or lineStrokes-all.tar.gz, ascii-all.tar.gz, task1.tar.gz), or use "
        "`source: synthetic` (the generated stand-in)"
    )
    path, problems = _corpus_folder(task, data, "IAM-OnDB", fix)
    if path is None:
        return problems
    present = iam_ondb_parts_present(path)
    if not present:
        return [CorpusProblem(task, "path", f"{path} is not IAM-OnDB; {_what_else(path)}", fix)]
    missing = [part for part in _IAM_ONDB_PARTS if part not in present]
    if missing:
        names = " and ".join(f"{part}/ (or {_IAM_ONDB_PARTS[part][1]})" for part in missing)
        return [CorpusProblem(task, "path", f"{path} lacks {names}", fix)]
    return []


CORPUS_CHECKS: dict[str, Callable[[str, Mapping[str, Any]], list[CorpusProblem]]] = {
    "jsb": jsb_problems,
    "timit": timit_problems,
    "iam_ondb": iam_ondb_problems,
}


def corpus_problems(config: Mapping[str, Any]) -> list[CorpusProblem]:
    """The problems of every corpus the (validated) study config names, in task order."""
    problems = []
    for task, settings in config["tasks"].items():
        data = settings["data"]
        if not is_synthetic(task, data):
            problems += CORPUS_CHECKS[task](task, data)
    return problems


def check_study_corpora(config: Mapping[str, Any], source: str | os.PathLike[str]) -> None:
    """Raise one `StudyCorporaError` listing every corpus problem of the study (if any)."""
    problems = corpus_problems(config)
    if problems:
        raise StudyCorporaError(os.fspath(source), problems)
