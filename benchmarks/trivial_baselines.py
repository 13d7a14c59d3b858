"""The test metric a network must beat to have learnt anything, from a study's prepared data.

Each task's trivial predictor ignores the inputs and is fitted on the training split only:

- next step (JSB): every key on with its training-set frequency, independent of the past; NLL
  per time step summed over the 88 keys, as the study reports it.
- framewise (TIMIT): always the most frequent training phone; frame error in %.
- CTC (IAM-OnDB): emitting only blanks decodes to the empty string, 100 % CER by definition;
  printed with the share of the most frequent test character, for scale.

    python benchmarks/trivial_baselines.py results/default/data/*.h5
"""

from __future__ import annotations

import argparse

import numpy as np

from lstm_odyssey.data.store import read_prepared
from lstm_odyssey.tasks import CTC, FRAMEWISE, NEXT_STEP

# A key never on in training would make the NLL infinite: frequencies stay this far from 0 and 1.
FREQUENCY_FLOOR = 1e-6


def key_frequency_nll(train_targets: np.ndarray, test_targets: np.ndarray) -> float:
    """NLL per step (nats, summed over keys) of predicting each key's training frequency."""
    p = np.clip(train_targets.mean(axis=0), FREQUENCY_FLOOR, 1 - FREQUENCY_FLOOR)
    per_step = -(test_targets * np.log(p) + (1 - test_targets) * np.log1p(-p)).sum(axis=1)
    return float(per_step.mean())


def majority_class_error(train_targets: np.ndarray, test_targets: np.ndarray) -> float:
    """Frame error in % of always predicting the most frequent training class."""
    majority = np.bincount(train_targets).argmax()
    return 100.0 * float(np.mean(test_targets != majority))


def baseline_line(path: str) -> str:
    """The file, its task kind and split sizes, and the trivial test (and valid) metric."""
    prepared = read_prepared(path)
    kind = prepared.metadata["task_kind"]
    train, valid, test = (prepared.splits[s] for s in ("train", "valid", "test"))
    if kind == NEXT_STEP.name:
        test_nll = key_frequency_nll(train.targets, test.targets)
        valid_nll = key_frequency_nll(train.targets, valid.targets)
        result = f"NLL per step {test_nll:.2f} nats (valid {valid_nll:.2f})"
    elif kind == FRAMEWISE.name:
        test_error = majority_class_error(train.targets, test.targets)
        valid_error = majority_class_error(train.targets, valid.targets)
        result = f"frame error {test_error:.1f} % (valid {valid_error:.1f})"
    elif kind == CTC.name:
        counts = np.bincount(test.targets)
        result = (
            "CER 100 % (blanks only; the most frequent character is "
            f"{100 * counts.max() / counts.sum():.1f} % of the test characters)"
        )
    else:
        result = f"no trivial baseline for task kind {kind!r}"
    sizes = "/".join(str(split.n_sequences) for split in (train, valid, test))
    return f"{path}: {kind}, {sizes} sequences (train/valid/test): {result}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prepared", nargs="+", help="prepared task files (data/<task>.h5)")
    for path in parser.parse_args().prepared:
        print(baseline_line(path))


if __name__ == "__main__":
    main()
