"""Broken intermediates are set aside (never deleted), so the workflow rebuilds them.

Snakemake judges a file by its existence and date, not its content: a truncated prepared-data file
or a trial record with garbage in it counts as finished, and every job that reads it fails. These
helpers rename such a file to `<name>.broken` (an existing one is kept as `.broken.1`, ...), so the
next run sees it missing and rebuilds it while the broken bytes stay on disk for inspection.

Light on purpose: the Snakefile calls `set_aside_unreadable_prepared_data` when it loads (once per
task, on every parse), so h5py is only imported when there is a file to check.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def set_aside(path: str | os.PathLike[str], reason: str) -> Path:
    """Rename `path` to a free `<name>.broken[.N]` beside it and say so; returns the new path."""
    path = Path(path)
    target = path.with_name(path.name + ".broken")
    number = 0
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.broken.{number}")
    path.rename(target)
    log.warning("%s: %s; moved to %s so that it is rebuilt", path, reason, target)
    return target


def prepared_data_problem(path: str | os.PathLike[str]) -> str | None:
    """Why the prepared HDF5 at `path` cannot be used, or None (cheap: header and attributes).

    A truncated HDF5 file fails to open (its end-of-file address lies beyond the data); a file
    without the contract's attributes is not a finished prepared file either.
    """
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            missing = [key for key in ("task_kind", "content_hash") if key not in h5.attrs]
            groups = [name for name in ("train", "valid", "test") if name not in h5]
    except (OSError, ValueError) as error:
        return f"not a readable HDF5 file ({error})"
    if missing or groups:
        return f"incomplete prepared data (missing {', '.join(missing + groups)})"
    return None


def set_aside_unreadable_prepared_data(path: str | os.PathLike[str]) -> Path | None:
    """Set the prepared file at `path` aside if it exists but cannot be used."""
    if not Path(path).exists():
        return None
    problem = prepared_data_problem(path)
    return None if problem is None else set_aside(path, problem)
