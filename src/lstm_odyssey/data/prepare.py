"""One entry point from a task's `data:` config section to its prepared HDF5 file."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lstm_odyssey.data.corpora import corpus_location
from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.jsb import prepare_jsb

Preparer = Callable[[Mapping[str, Any], str | os.PathLike, int, Path | None], Any]


def _prepare_jsb(
    data: Mapping[str, Any], out_path: str | os.PathLike, workers: int, stand_in: Path | None
) -> Any:
    options = {k: v for k, v in data.items() if k != "source"}
    return prepare_jsb(data["source"], out_path, **options)


def _corpus(task: str, data: Mapping[str, Any], stand_in: Path | None) -> Path:
    location = corpus_location(task, data, stand_in)
    if location is None:
        raise CorpusError(
            f"tasks.{task}.data.path", "no corpus given (set path, or source: synthetic)"
        )
    return location


def _prepare_timit(
    data: Mapping[str, Any], out_path: str | os.PathLike, workers: int, stand_in: Path | None
) -> Any:
    from lstm_odyssey.data.timit import prepare_timit

    return prepare_timit(_corpus("timit", data, stand_in), out_path, workers=workers)


def _prepare_iam_ondb(
    data: Mapping[str, Any], out_path: str | os.PathLike, workers: int, stand_in: Path | None
) -> Any:
    from lstm_odyssey.data.iamondb import prepare_iam_ondb

    return prepare_iam_ondb(
        _corpus("iam_ondb", data, stand_in),
        out_path,
        offsets=bool(data["offsets"]),
        workers=workers,
    )


PREPARERS: dict[str, Preparer] = {
    "jsb": _prepare_jsb,
    "timit": _prepare_timit,
    "iam_ondb": _prepare_iam_ondb,
}


def last_good_path(out_path: str | os.PathLike) -> Path:
    """Where the last successfully prepared file of `out_path` is kept (a hard link)."""
    return Path(str(out_path) + ".last-good")


def prepare_task(
    task: str,
    data: Mapping[str, Any],
    out_path: str | os.PathLike,
    workers: int = 1,
    stand_in: str | os.PathLike | None = None,
) -> Any:
    """Read the task's corpus as its config says and write the prepared data to `out_path`.

    `stand_in` is where the task's generated stand-in corpus is, for `source: synthetic`.

    Snakemake removes a job's old output before the job runs, so the last good prepared file is
    kept beside it as `<out>.last-good` (a hard link, no copy): a corpus edit that fails to
    prepare never loses the data the finished trials were trained on.
    """
    if task not in PREPARERS:
        raise ValueError(f"no data preparation for task {task!r}; known: {sorted(PREPARERS)}")
    try:
        prepared = PREPARERS[task](
            data, out_path, workers, None if stand_in is None else Path(stand_in)
        )
    except CorpusError as error:
        kept = last_good_path(out_path)
        if kept.exists():
            raise CorpusError(
                error.source, f"{error.problem} (the last good prepared data is kept at {kept})"
            ) from error
        raise
    kept = last_good_path(out_path)
    temporary = kept.with_name(kept.name + ".tmp")
    temporary.unlink(missing_ok=True)
    os.link(out_path, temporary)
    temporary.replace(kept)
    return prepared
