"""What a configured `sequences` folder must hold, checked before any job runs (no reading).

The folder at `path:` holds `train.npz`, `valid.npz` and `test.npz`, each a zip archive (what
`numpy.savez` writes). Only names and each file's first bytes are looked at here; the fields
are checked when the data is prepared (`npz`), with the file and the field named.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lstm_odyssey.data.corpus_problems import CorpusProblem, WhatElse, configured_folder
from lstm_odyssey.data.sequences import SPLIT_FILES

ZIP_MAGIC = b"PK"
FIX = (
    'point `path:` at the folder holding train.npz, valid.npz and test.npz (README, "Your own '
    'data"); `python scripts/make_example_sequences.py FOLDER --kind KIND` writes an example'
)


def recognise(folder: Path) -> str | None:
    """'it holds sequence files' where every split file is there."""
    if all((folder / name).is_file() for name in SPLIT_FILES.values()):
        return "it holds sequence files (train.npz, valid.npz, test.npz)"
    return None


def corpus_problems(task: str, data: Mapping[str, Any], what_else: WhatElse) -> list[CorpusProblem]:
    """A folder with the three split files, each a zip archive."""
    path, problems = configured_folder(task, data, "the sequence files", FIX)
    if path is None:
        return problems
    missing = [name for name in SPLIT_FILES.values() if not (path / name).is_file()]
    if missing:
        present = [name for name in SPLIT_FILES.values() if name not in missing]
        if present:
            problem = f"{path} has {', '.join(present)} but no {' or '.join(missing)}"
        else:
            problem = f"{path} has no {' or '.join(missing)}: {what_else(path)}"
        return [CorpusProblem(task, "path", problem, FIX)]
    for name in SPLIT_FILES.values():
        with (path / name).open("rb") as handle:
            start = handle.read(len(ZIP_MAGIC))
        if start != ZIP_MAGIC:
            problem = f"{path / name} is not an NPZ file (numpy.savez writes one, a zip archive)"
            problems.append(CorpusProblem(task, "path", problem, FIX))
    return problems
