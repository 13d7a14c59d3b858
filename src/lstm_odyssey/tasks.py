"""What a task kind is, stated once: every layer asks the kind instead of comparing strings.

The paper's three tasks are of three kinds (ARCHITECTURE.md, "Task kinds"):

- `next_step` (JSB): targets (frames, K) float32 0/1 per key; sigmoid cross-entropy; NLL per
  time step in nats (`nats/step`).
- `framewise` (TIMIT): one int64 class id per frame; softmax cross-entropy; frame error in %.
- `ctc` (IAM-OnDB): int64 labels with their own lengths (0 is the blank); CTC; character error
  rate in %.

Losses are summed over a sequence's steps (see `lstm_odyssey.conventions`). Torch-free, so the
prepared-data store and the config validation (run at DAG-build time) can use it; the training
layer asks `training.objectives.objective_of(kind)` for a kind's loss and metric.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TaskKind:
    """Everything the data store, batching, training and the config check need to know."""

    name: str
    # Targets: "multi_label" (frames, K) float32; "class_per_frame" (frames,) int64;
    # "label_sequence" (labels,) int64 with offsets of their own (CTC).
    target_layout: str
    metric_name: str
    # A next-step predictor that also read the sequence backwards would see what it predicts.
    bidirectional_allowed: bool
    # What one unit of the metric is, as a person reads it beside the number ("nats/step", "%").
    metric_unit: str

    @property
    def label_sequences(self) -> bool:
        """Whether a sequence's targets have their own length (CTC) instead of one per frame."""
        return self.target_layout == "label_sequence"

    @property
    def target_dtype(self) -> np.dtype:
        return np.dtype(np.float32 if self.target_layout == "multi_label" else np.int64)


NEXT_STEP = TaskKind(
    "next_step", "multi_label", "nll", bidirectional_allowed=False, metric_unit="nats/step"
)
FRAMEWISE = TaskKind(
    "framewise", "class_per_frame", "frame_error", bidirectional_allowed=True, metric_unit="%"
)
CTC = TaskKind(
    "ctc", "label_sequence", "character_error_rate", bidirectional_allowed=True, metric_unit="%"
)

TASK_KINDS: dict[str, TaskKind] = {kind.name: kind for kind in (NEXT_STEP, FRAMEWISE, CTC)}


def metric_unit(metric_name: str) -> str:
    """The unit of a metric by its name (a record's `metric`), "" for a name no kind reports."""
    units = {kind.metric_name: kind.metric_unit for kind in TASK_KINDS.values()}
    return units.get(metric_name, "")


def task_kind(name: str) -> TaskKind:
    """The kind called `name` (a prepared file's `task_kind` attribute)."""
    try:
        return TASK_KINDS[name]
    except KeyError:
        raise ValueError(
            f"unknown task kind {name!r}; expected one of {sorted(TASK_KINDS)}"
        ) from None
