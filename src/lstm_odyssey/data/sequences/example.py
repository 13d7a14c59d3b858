"""A small, learnable dataset of each task kind in the `sequences` format, from a seed.

`scripts/make_example_sequences.py` writes one; the tests run a study on it. Each is a task a
recurrent network must remember something for:

- `framewise`: a noisy tone (sin, cos) whose frequency changes every few frames; each frame's
  class is the current frequency (4 classes), which one frame alone does not tell.
- `next_step`: a rising scale on 8 keys (one key per step, the next key up with probability 0.8,
  else a random one) with a second voice a third above on every other step.
- `ctc`: words over a 4-letter alphabet, each letter a burst of frames around its own pattern,
  letters apart by short pauses; the targets are the letters (no alignment given).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lstm_odyssey.data.sequences import SPLIT_FILES

FREQUENCIES = (0.03, 0.08, 0.15, 0.25)  # cycles per frame, one per framewise class
N_KEYS = 8
LETTERS = ("a", "b", "c", "d")
DEFAULT_SEQUENCES = {"train": 60, "valid": 15, "test": 15}


def framewise_sequence(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(frames, 2) noisy tone and one class per frame (the tone's frequency)."""
    classes, phase, frames = [], rng.uniform(0, 2 * np.pi), []
    for _ in range(int(rng.integers(3, 7))):
        label = int(rng.integers(len(FREQUENCIES)))
        for _ in range(int(rng.integers(4, 10))):
            phase += 2 * np.pi * FREQUENCIES[label]
            frames.append((np.sin(phase), np.cos(phase)))
            classes.append(label)
    inputs = np.asarray(frames) + rng.normal(0, 0.1, (len(frames), 2))
    return inputs.astype(np.float32), np.asarray(classes, dtype=np.int64)


def next_step_sequence(rng: np.random.Generator) -> np.ndarray:
    """(steps, 8) 0/1 roll of a mostly rising scale with a second voice on every other step."""
    steps = int(rng.integers(12, 25))
    roll = np.zeros((steps, N_KEYS), dtype=np.uint8)
    key = int(rng.integers(N_KEYS))
    for step in range(steps):
        roll[step, key] = 1
        if step % 2 == 0:
            roll[step, (key + 2) % N_KEYS] = 1
        key = (key + 1) % N_KEYS if rng.random() < 0.8 else int(rng.integers(N_KEYS))
    return roll


def ctc_sequence(rng: np.random.Generator, patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames, 4) letter bursts and pauses, and the word's labels (1..4; 0 is the blank)."""
    labels = rng.integers(1, len(LETTERS) + 1, size=int(rng.integers(2, 6)))
    frames = [np.zeros((int(rng.integers(1, 4)), patterns.shape[1]))]
    for label in labels:
        frames.append(np.repeat(patterns[label - 1][None], int(rng.integers(3, 6)), axis=0))
        frames.append(np.zeros((int(rng.integers(1, 4)), patterns.shape[1])))
    inputs = np.concatenate(frames)
    inputs += rng.normal(0, 0.2, inputs.shape)
    return inputs.astype(np.float32), labels.astype(np.int64)


def example_split(kind: str, n_sequences: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One split's fields, as `numpy.savez` takes them."""
    if kind == "next_step":
        rolls = [next_step_sequence(rng) for _ in range(n_sequences)]
        return {
            "inputs": np.concatenate(rolls),
            "lengths": np.asarray([len(roll) for roll in rolls]),
            "labels": np.asarray([f"key{key}" for key in range(N_KEYS)]),
        }
    if kind == "framewise":
        pairs = [framewise_sequence(rng) for _ in range(n_sequences)]
        names = [f"{frequency} cycles/frame" for frequency in FREQUENCIES]
        n_classes = len(FREQUENCIES)
    elif kind == "ctc":
        patterns = np.random.default_rng(0).normal(0, 1, (len(LETTERS), 4))  # same in every split
        pairs = [ctc_sequence(rng, patterns) for _ in range(n_sequences)]
        names = ["<blank>", *LETTERS]
        n_classes = len(LETTERS) + 1
    else:
        raise ValueError(f"unknown task kind {kind!r}; expected next_step, framewise or ctc")
    fields = {
        "inputs": np.concatenate([inputs for inputs, _ in pairs]),
        "lengths": np.asarray([len(inputs) for inputs, _ in pairs]),
        "targets": np.concatenate([targets for _, targets in pairs]),
        "n_classes": np.asarray(n_classes),
        "labels": np.asarray(names),
    }
    if kind == "ctc":
        fields["target_lengths"] = np.asarray([len(targets) for _, targets in pairs])
    return fields


def write_example(
    out_directory: str | os.PathLike[str],
    kind: str,
    *,
    seed: int = 0,
    sequences: dict[str, int] | None = None,
) -> Path:
    """Write train.npz, valid.npz and test.npz of a `kind` example into `out_directory`."""
    folder = Path(out_directory)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n_sequences in (sequences or DEFAULT_SEQUENCES).items():
        np.savez_compressed(folder / SPLIT_FILES[split], **example_split(kind, n_sequences, rng))
    return folder
