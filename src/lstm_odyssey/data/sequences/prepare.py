"""Your own sequences to the prepared HDF5: the split files, checked, as the store's contract.

- `next_step`: sequence x becomes inputs x[0..T-2] and targets x[1..T-1] (as JSB's chorales); the
  inputs are not standardised (they are the targets of the step before).
- `framewise`, `ctc`: inputs standardised with the training split's mean and std per column
  (`data/standardise.py`, as TIMIT and IAM-OnDB), targets as given (CTC: 0 is the blank).

The prepared file's `source` is the format (`npz`), not the folder: a dataset moved or renamed
prepares to the same content, so its finished trials are restored, not retrained. Its attributes
keep the files' sha256, the class names (`labels`, when given) and the statistics.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lstm_odyssey.data.download import file_sha256
from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.sequences import FORMAT_VERSION, SOURCES, kind_of
from lstm_odyssey.data.sequences.npz import SplitFile, read_splits
from lstm_odyssey.data.standardise import standardise, training_statistics
from lstm_odyssey.data.store import SPLIT_NAMES, PreparedData, SplitData, write_prepared
from lstm_odyssey.tasks import TaskKind

logger = logging.getLogger(__name__)

STANDARDISED = "standardised with training-split mean and std"


def next_step_split(split: SplitFile) -> SplitData:
    """Predict step t + 1 from the steps up to t, in every sequence."""
    sequences = split.input_sequences()
    return SplitData.from_sequences(
        [sequence[:-1] for sequence in sequences],
        [sequence[1:].astype("float32") for sequence in sequences],
    )


def prepare_sequences(
    folder: str | os.PathLike[str], kind: TaskKind, out_path: str | os.PathLike[str]
) -> PreparedData:
    """Read and check the split files in `folder` as a `kind` task; write the prepared HDF5."""
    folder = Path(folder)
    files = read_splits(folder, kind)
    train = files["train"]
    metadata: dict[str, Any] = {
        "task_kind": kind.name,
        "source": SOURCES[0],
        "input_size": train.n_features,
        "n_classes": train.n_classes,
        "format_version": FORMAT_VERSION,
        "source_sha256": json.dumps(
            {name: file_sha256(files[name].path) for name in SPLIT_NAMES}, sort_keys=True
        ),
    }
    if train.labels is not None:
        metadata["labels"] = json.dumps(list(train.labels))
    if kind.name == "next_step":
        splits = {name: next_step_split(files[name]) for name in SPLIT_NAMES}
        metadata["normalisation"] = "none"
    else:
        mean, std = training_statistics(train.input_sequences())
        splits = {
            name: SplitData.from_sequences(
                [standardise(x, mean, std) for x in files[name].input_sequences()],
                files[name].target_sequences(),
                label_sequences=kind.label_sequences,
            )
            for name in SPLIT_NAMES
        }
        metadata["normalisation"] = STANDARDISED
        metadata["input_mean"] = [float(value) for value in mean]
        metadata["input_std"] = [float(value) for value in std]
    if kind.label_sequences:
        metadata["blank_index"] = 0
    prepared = PreparedData(splits=splits, metadata=metadata)
    logger.info(
        "%s: %s task, %s sequences (train/valid/test), %d input features, %d classes",
        folder,
        kind.name,
        "/".join(str(splits[name].n_sequences) for name in SPLIT_NAMES),
        train.n_features,
        train.n_classes,
    )
    return write_prepared(out_path, prepared)


def prepare_task_data(
    data: Mapping[str, Any], corpus: Path | None, out_path: str | os.PathLike[str], workers: int
) -> PreparedData:
    """The registry's preparer: the folder at `data.path` (`corpus`) -> `out_path`."""
    if corpus is None:
        raise CorpusError("tasks.sequences.data.path", "no folder of split files is configured")
    return prepare_sequences(corpus, kind_of(data), out_path)
