"""Your own sequences as a task: one NPZ file per split, the task kind chosen in the config.

- `npz`: the file format (README, "Your own data"): reading one split's file and every check,
  each error naming the file and the field.
- `prepare`: the three split files to the prepared HDF5 (`data/store.py`).
- `layout`: what a configured folder must hold (checked before any job runs, no reading).
- `example`: a small learnable dataset of each kind in the format
  (`scripts/make_example_sequences.py`).

Unlike the paper's corpora the kind is not a fact of the corpus but the config's
(`tasks.sequences.data.kind`), so the registry asks `kind_of(data)`. One dataset per study: a
second dataset is a second study (another `study_name`).

This module states the facts only; it imports nothing heavy (the Snakefile reads it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lstm_odyssey.tasks import TaskKind, task_kind

SOURCES = ("npz",)
SPLIT_FILES = {"train": "train.npz", "valid": "valid.npz", "test": "test.npz"}
"""The split files a configured folder holds, by split."""
FORMAT_VERSION = 1


def kind_of(data: Mapping[str, Any]) -> TaskKind:
    """The task kind a `sequences` task's `data:` section chooses (`kind:`)."""
    return task_kind(str(data["kind"]))


def preparation_recipe() -> dict[str, Any]:
    """What preparation does to the files, as data (a change reruns the preparation)."""
    return {
        "format_version": FORMAT_VERSION,
        "standardised_inputs": {
            "next_step": "none (the inputs are the targets of the step before)",
            "framewise": "training-split mean and std per input column",
            "ctc": "training-split mean and std per input column",
        },
        "next_step_pairs": "inputs steps 0..T-2, targets steps 1..T-1",
    }
