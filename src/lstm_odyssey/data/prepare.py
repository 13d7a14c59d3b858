"""One entry point from a task's `data:` config section to its prepared HDF5 file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lstm_odyssey.data import registry
from lstm_odyssey.data.errors import CorpusError


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
    corpus = registry.corpus_location(task, data, stand_in)
    try:
        prepared = registry.prepare_data(task, data, corpus, out_path, workers)
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
