"""Turn a prepared split (flat arrays + offsets) into per-sequence tensors and padded batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lstm_odyssey.tasks import TaskKind
from lstm_odyssey.training.objectives import Batch


@dataclass
class SequenceExample:
    """One sequence: inputs (T, I) float32 and its targets in the task kind's form."""

    inputs: torch.Tensor
    targets: torch.Tensor


def split_examples(split, kind: TaskKind) -> list[SequenceExample]:
    """Slice a split's flat `inputs`/`targets` by its offsets into per-sequence tensors.

    Reads each array once; per-sequence tensors are views into it.
    """
    inputs = torch.from_numpy(np.ascontiguousarray(split.inputs, dtype=np.float32))
    offsets = np.asarray(split.offsets, dtype=np.int64)
    targets = torch.from_numpy(np.ascontiguousarray(split.targets, dtype=kind.target_dtype))
    target_offsets = (
        np.asarray(split.target_offsets, dtype=np.int64) if kind.label_sequences else offsets
    )
    return [
        SequenceExample(
            inputs[offsets[i] : offsets[i + 1]],
            targets[target_offsets[i] : target_offsets[i + 1]],
        )
        for i in range(len(offsets) - 1)
    ]


def make_batch(examples: Sequence[SequenceExample], kind: TaskKind) -> Batch:
    """Pad `examples` to the longest one, time-major; label sequences stay a list (CTC)."""
    lengths = torch.tensor([len(e.inputs) for e in examples], dtype=torch.long)
    longest, batch_size = int(lengths.max()), len(examples)
    inputs = examples[0].inputs.new_zeros((longest, batch_size, examples[0].inputs.shape[1]))
    for b, example in enumerate(examples):
        inputs[: len(example.inputs), b] = example.inputs
    if kind.label_sequences:
        return Batch(inputs, lengths, [e.targets for e in examples])
    shape = (longest, batch_size, *examples[0].targets.shape[1:])
    targets = examples[0].targets.new_zeros(shape)
    for b, example in enumerate(examples):
        targets[: len(example.targets), b] = example.targets
    return Batch(inputs, lengths, targets)


def evaluation_batches(
    examples: Sequence[SequenceExample], kind: TaskKind, batch_size: int
) -> list[Batch]:
    """Batches for evaluation, sequences sorted by length so padding stays small."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].inputs))
    return [
        make_batch([examples[i] for i in order[start : start + batch_size]], kind)
        for start in range(0, len(order), batch_size)
    ]
