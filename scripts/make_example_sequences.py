"""Write a small example dataset in the `sequences` task's format (README, "Your own data").

    python scripts/make_example_sequences.py resources/example-sequences --kind framewise

writes train.npz, valid.npz and test.npz (60 / 15 / 15 sequences by default) into the folder: a
learnable task of the kind asked for (`lstm_odyssey.data.sequences.example`), the same files
for the same seed. Point `tasks.sequences.data.path` at the folder, with the same `kind`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # a checkout, uninstalled

from lstm_odyssey.data.sequences.example import write_example  # noqa: E402
from lstm_odyssey.data.sequences.npz import read_splits  # noqa: E402
from lstm_odyssey.tasks import TASK_KINDS, task_kind  # noqa: E402


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_directory", type=Path, help="the folder to write the files into")
    parser.add_argument("--kind", choices=sorted(TASK_KINDS), default="framewise")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sequences",
        type=int,
        default=60,
        help="training sequences (validation and test: a quarter each, at least 1)",
    )
    options = parser.parse_args(arguments)
    if options.sequences < 1:
        parser.error("--sequences must be at least 1")
    held_out = max(1, options.sequences // 4)
    sequences = {"train": options.sequences, "valid": held_out, "test": held_out}
    folder = write_example(
        options.out_directory, options.kind, seed=options.seed, sequences=sequences
    )
    files = read_splits(folder, task_kind(options.kind))  # the files pass every check
    counts = "/".join(str(len(files[split].lengths)) for split in ("train", "valid", "test"))
    print(f"{folder}: a {options.kind} example, {counts} sequences (train/valid/test)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
