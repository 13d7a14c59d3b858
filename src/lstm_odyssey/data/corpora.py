"""Where a task's corpus is: a path in the config, or a generated stand-in, and its fingerprint.

Light on purpose (no corpus reader imported at module level): the Snakefile asks it, on every
parse, which corpus files are a task's inputs and what a corpus directory's fingerprint is.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SYNTHETIC_CORPORA: dict[str, str] = {"timit": "synthetic-timit", "iam_ondb": "synthetic-iamondb"}
"""Tasks with a generated stand-in (`data.source: synthetic`) and the stand-in's name."""


def is_synthetic(task: str, data: Mapping[str, Any]) -> bool:
    return task in SYNTHETIC_CORPORA and data.get("source") == "synthetic"


def corpus_location(
    task: str, data: Mapping[str, Any], stand_in: str | os.PathLike[str] | None = None
) -> Path | None:
    """The corpus a task reads: its generated stand-in (at `stand_in`, where the study keeps
    it: `StudyPaths.corpus`), or the configured `path` (if any)."""
    if is_synthetic(task, data):
        if stand_in is None:
            raise ValueError(f"task {task!r} reads a generated stand-in: say where it is")
        return Path(stand_in)
    return Path(data["path"]) if data.get("path") else None


def generate_synthetic_corpus(
    task: str, options: Mapping[str, Any], out_directory: str | os.PathLike
) -> Path:
    """Generate `task`'s stand-in corpus in the real corpus's layout and formats."""
    if task == "timit":
        from lstm_odyssey.data.synthetic_timit import generate_synthetic_timit

        generate_synthetic_timit(out_directory, **options)
    elif task == "iam_ondb":
        from lstm_odyssey.data.synthetic_iamondb import generate_synthetic_iamondb

        generate_synthetic_iamondb(out_directory, **options)
    else:
        raise ValueError(
            f"task {task!r} has no synthetic stand-in; known: {sorted(SYNTHETIC_CORPORA)}"
        )
    return Path(out_directory)


def corpus_fingerprint(directory: str | os.PathLike) -> str:
    """A digest of every file's relative path, size and modification time under `directory`.

    A corpus directory is a Snakemake param through this (its own date says nothing about the
    files inside): the preparation reruns when a file is added, removed, replaced or touched,
    and a parse costs one `stat` per file (about 50 ms for TIMIT's 25,000 files).
    """
    root = Path(directory)
    digest = hashlib.sha256()
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        for name in sorted(files):
            path = Path(folder) / name
            stat = path.stat()
            digest.update(
                f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
            )
    return digest.hexdigest()
