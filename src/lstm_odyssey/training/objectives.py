"""Losses and evaluation metrics per task kind (lower is better for every metric).

Training losses follow the convention of the paper's framework (IDSIA's Brainstorm, whose loss
layer sums over all time steps and divides by the batch size): a sequence's loss is the *sum* of
its per-step losses, and a batch's loss is the mean over its sequences. The paper's learning-rate
range (log-uniform in [1e-6, 1e-2]) is calibrated for that scale; a per-frame mean would shift the
whole learning-rate axis by the sequence length. Evaluation metrics are normalised per step /
frame / character for reporting only. The convention's name (`LOSS_CONVENTION`) is recorded
in every trial's settings.

- `next_step` (JSB Chorales): independent sigmoid per key; the metric is the negative
  log-likelihood per time step, summed over the 88 keys and averaged over all time steps.
- `framewise` (TIMIT): softmax over classes; the metric is the frame error in % (frames
  classified wrongly, over all frames of the split).
- `ctc` (IAM-OnDB): connectionist temporal classification with the blank at index 0; the metric
  is the character error rate in % of best-path decoding (total edit distance over total
  reference characters of the split; edit distances from rapidfuzz).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from rapidfuzz.distance import Levenshtein

from lstm_odyssey.conventions import LOSS_CONVENTION
from lstm_odyssey.tasks import CTC, FRAMEWISE, NEXT_STEP, TaskKind

__all__ = ["LOSS_CONVENTION", "Batch", "Objective", "objective_of"]


@dataclass
class Batch:
    """Padded sequences, time-major: inputs (T, B, I), lengths (B,), targets by task kind.

    For `next_step` targets are (T, B, K) floats, for `framewise` (T, B) class ids, for `ctc`
    a list of B label tensors.
    """

    inputs: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor | list[torch.Tensor]

    @property
    def frame_mask(self) -> torch.Tensor:
        """(T, B) boolean mask of the valid (non-padded) frames."""
        steps = torch.arange(self.inputs.shape[0], device=self.inputs.device)
        return steps[:, None] < self.lengths.to(self.inputs.device)[None, :]

    def to(self, device: torch.device | str) -> Batch:
        targets = (
            [t.to(device) for t in self.targets]
            if isinstance(self.targets, list)
            else self.targets.to(device)
        )
        return Batch(self.inputs.to(device), self.lengths, targets)


class Objective:
    """Training loss and evaluation metric of one task kind (its name: `TaskKind.metric_name`)."""

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The loss minimised by SGD: summed over each sequence's steps, averaged over sequences."""
        raise NotImplementedError

    def metric_terms(self, logits: torch.Tensor, batch: Batch) -> tuple[float, float]:
        """(numerator, denominator) of the metric over this batch; summed over a split."""
        raise NotImplementedError


class NextStepObjective(Objective):
    def _nll_per_step(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        assert isinstance(batch.targets, torch.Tensor)
        per_key = F.binary_cross_entropy_with_logits(logits, batch.targets, reduction="none")
        return per_key.sum(dim=-1) * batch.frame_mask

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        return self._nll_per_step(logits, batch).sum() / len(batch.lengths)

    def metric_terms(self, logits: torch.Tensor, batch: Batch) -> tuple[float, float]:
        return float(self._nll_per_step(logits, batch).sum()), float(batch.lengths.sum())


class FramewiseObjective(Objective):
    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        assert isinstance(batch.targets, torch.Tensor)
        mask = batch.frame_mask
        summed = F.cross_entropy(logits[mask], batch.targets[mask], reduction="sum")
        return summed / len(batch.lengths)

    def metric_terms(self, logits: torch.Tensor, batch: Batch) -> tuple[float, float]:
        assert isinstance(batch.targets, torch.Tensor)
        mask = batch.frame_mask
        wrong = (logits.argmax(dim=-1) != batch.targets) & mask
        return 100.0 * float(wrong.sum()), float(mask.sum())


def edit_distance(hypothesis: list[int], reference: list[int]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1), by rapidfuzz."""
    return int(Levenshtein.distance(hypothesis, reference))


def best_path_decode(logits: torch.Tensor, length: int, blank: int = 0) -> list[int]:
    """Greedy CTC decoding of one sequence's (T, K) logits: collapse repeats, drop blanks."""
    best = logits[:length].argmax(dim=-1).tolist()
    decoded, last = [], None
    for label in best:
        if label != last and label != blank:
            decoded.append(label)
        last = label
    return decoded


class CtcObjective(Objective):
    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        assert isinstance(batch.targets, list)
        log_probs = F.log_softmax(logits, dim=-1)
        target_lengths = torch.tensor([len(t) for t in batch.targets])
        targets = torch.cat(batch.targets) if batch.targets else torch.zeros(0, dtype=torch.long)
        return F.ctc_loss(
            log_probs,
            targets,
            batch.lengths,
            target_lengths,
            blank=0,
            reduction="sum",
            zero_infinity=False,
        ) / len(batch.targets)

    def metric_terms(self, logits: torch.Tensor, batch: Batch) -> tuple[float, float]:
        assert isinstance(batch.targets, list)
        errors, total = 0, 0
        for b, reference in enumerate(batch.targets):
            hypothesis = best_path_decode(logits[:, b], int(batch.lengths[b]))
            errors += edit_distance(hypothesis, reference.tolist())
            total += len(reference)
        return 100.0 * float(errors), float(total)


OBJECTIVES: dict[TaskKind, type[Objective]] = {
    NEXT_STEP: NextStepObjective,
    FRAMEWISE: FramewiseObjective,
    CTC: CtcObjective,
}


def objective_of(kind: TaskKind) -> Objective:
    """The training loss and evaluation metric of a task kind."""
    return OBJECTIVES[kind]()
