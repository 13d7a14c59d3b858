"""IAM-OnDB's parts as the FKI distributes them, and the check of a configured path (no reading).

Each part is an unpacked folder or its original archive: `lineStrokes/` or
`lineStrokes-all.tar.gz` (one XML file per text line), `ascii/` or `ascii-all.tar.gz` (one
transcription per form), `task1/` or `task1.tar.gz` (the split lists).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lstm_odyssey.data.corpus_problems import CorpusProblem, WhatElse, configured_folder

STROKES_PART = ("lineStrokes", "lineStrokes-all.tar.gz")
TRANSCRIPTIONS_PART = ("ascii", "ascii-all.tar.gz")
SPLIT_LISTS_PART = ("task1", "task1.tar.gz")
PARTS = (STROKES_PART, TRANSCRIPTIONS_PART, SPLIT_LISTS_PART)

FIX = (
    "point `path:` at your IAM-OnDB, the folder holding lineStrokes/, ascii/ and task1/ "
    "(or lineStrokes-all.tar.gz, ascii-all.tar.gz, task1.tar.gz), or use "
    "`source: synthetic` (the generated stand-in)"
)


def parts_present(folder: Path) -> list[tuple[str, str]]:
    """Which of the three parts (folder or archive) are directly in `folder`."""
    return [
        (name, archive)
        for name, archive in PARTS
        if (folder / name).is_dir() or (folder / archive).is_file()
    ]


def recognise(folder: Path) -> str | None:
    """'it holds IAM-OnDB' where any of its parts is in `folder`."""
    return "it holds IAM-OnDB (lineStrokes/, ascii/, task1/)" if parts_present(folder) else None


def corpus_problems(task: str, data: Mapping[str, Any], what_else: WhatElse) -> list[CorpusProblem]:
    """All three parts, folders or archives, directly in the configured folder."""
    path, problems = configured_folder(task, data, "IAM-OnDB", FIX)
    if path is None:
        return problems
    present = parts_present(path)
    if not present:
        return [CorpusProblem(task, "path", f"{path} is not IAM-OnDB; {what_else(path)}", FIX)]
    missing = [part for part in PARTS if part not in present]
    if missing:
        names = " and ".join(f"{name}/ (or {archive})" for name, archive in missing)
        return [CorpusProblem(task, "path", f"{path} lacks {names}", FIX)]
    return []
