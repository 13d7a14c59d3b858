"""Atomic file writes shared by every stage that produces a result file.

Snakemake treats an output that exists as finished. A job killed half-way through a write must
therefore leave either the old file or no file, never a truncated one. Every writer here writes a
temporary file in the target's own directory (so the final `os.replace` is a rename on one file
system, which POSIX makes atomic) and only then moves it into place.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "atomic_directory",
    "atomic_path",
    "atomic_savefig",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_write_tsv",
]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which would race with threads.
_UMASK = _read_umask()


def _flush_to_disk(path: Path) -> None:
    """fsync a file or directory, so a rename never publishes data still only in memory."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse fsync on directories
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it onto `path` only if the block succeeds.

    The temporary name keeps the target's suffix, so tools that pick a format from the extension
    (matplotlib, pandas) still do. On any exception the temporary file is removed and `path` is
    left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{target.suffix}"
    )
    os.close(descriptor)
    temporary = Path(temporary_name)
    try:
        yield temporary
        # mkstemp creates the file owner-only; a result should get the usual umask permissions.
        os.chmod(temporary, 0o666 & ~_UMASK)
        _flush_to_disk(temporary)
        os.replace(temporary, target)
        _flush_to_disk(target.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty folder beside `path`; it replaces `path` whole only if the block succeeds.

    For generated corpora: a half-written corpus never sits where a reader would take it as
    complete. An old `path` is moved aside first and deleted after the swap.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.building-"))
    try:
        yield building
        os.chmod(building, 0o777 & ~_UMASK)
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
            os.replace(target, old / "previous")
            os.replace(building, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically; return the path."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding=encoding, newline="") as handle:
            handle.write(text)
    return Path(path)


def _json_ready(value: Any) -> Any:
    """Plain JSON values: numpy scalars/arrays as Python ones, non-finite floats as null.

    JSON has no NaN or infinity; our result files use null for "no value" (see `trial_record`),
    so a NaN loss is written as null rather than as the non-standard token `NaN`.
    """
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist"):  # numpy scalar or array, without importing numpy here
        return _json_ready(value.tolist())
    raise TypeError(f"cannot write a value of type {type(value).__name__} as JSON: {value!r}")


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> Path:
    """Write `obj` as strict JSON (non-finite floats become null) atomically; return the path."""
    text = json.dumps(_json_ready(obj), indent=indent, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def atomic_savefig(fig: Figure, path: str | os.PathLike[str], **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure atomically; the format comes from `path`'s extension."""
    target = Path(path)
    options: dict[str, Any] = {"dpi": 150, "bbox_inches": "tight"}
    options.update(savefig_kwargs)
    options.setdefault("format", target.suffix.lstrip(".") or "png")
    with atomic_path(target) as temporary:
        fig.savefig(temporary, **options)
    return target


def atomic_write_tsv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a DataFrame as a tab-separated table (no index column, NaN as empty) atomically."""
    text = df.to_csv(sep="\t", index=False, lineterminator="\n")
    return atomic_write_text(path, text)
