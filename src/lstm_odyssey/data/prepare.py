"""One entry point from a task's `data:` config section to its prepared HDF5 file."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from lstm_odyssey.data.jsb import prepare_jsb


def _prepare_jsb(data: Mapping[str, Any], out_path: str | os.PathLike) -> Any:
    options = {k: v for k, v in data.items() if k != "source"}
    return prepare_jsb(data["source"], out_path, **options)


PREPARERS: dict[str, Callable[[Mapping[str, Any], str | os.PathLike], Any]] = {
    "jsb": _prepare_jsb,
}


def prepare_task(task: str, data: Mapping[str, Any], out_path: str | os.PathLike) -> Any:
    """Read the task's corpus as its config says and write the prepared data to `out_path`."""
    if task not in PREPARERS:
        raise ValueError(f"no data preparation for task {task!r}; known: {sorted(PREPARERS)}")
    return PREPARERS[task](data, out_path)
