"""How fast a vanilla trial learns IAM-OnDB from each input representation, on the real corpus.

The corpus is prepared once per representation with the project's own preparation
(`prepare_iam_ondb`), then one vanilla trial per representation is trained with the project's
own trainer (`initial_state`, `train_one_epoch`, `evaluate`: online SGD, one line per update,
Nesterov momentum), epoch by epoch and interleaved, so a run stopped early still compares equal
epochs. Every epoch prints the validation character error rate (%) of both side by side; the
summary gives each one's test CER at its best validation epoch (the paper's protocol).

Representations (`tasks.iam_ondb.data.offsets`):
  offsets    dx, dy from the previous point, time since the stroke began, pen-up (the paper's)
  positions  x, y and time from the line's origin, pen-up

Fixed trial (the one the issue measured): vanilla, H = 100, bidirectional, learning rate 3e-3,
momentum 0.9, no input noise, weights from N(0, 0.1), one seed for both. Subsets (the same lines
for both representations, drawn with the seed) keep it to minutes on a laptop core; the whole
splits take about 90 s per epoch and representation (training and validation) on one AVX-512
core, so `--minutes 36` fits 13 epochs of both.

    python benchmarks/iamondb_learning.py /path/to/iam-ondb
    python benchmarks/iamondb_learning.py PATH --epochs 6 --train-lines 1000 --valid-lines 400
    python benchmarks/iamondb_learning.py PATH --epochs 15 --train-lines 0 --valid-lines 0 \
        --test-lines 0 --minutes 36        # the whole splits, as many epochs as fit
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from machine import machine_line

from lstm_odyssey.data.iam_ondb.prepare import prepare_iam_ondb
from lstm_odyssey.data.store import read_prepared
from lstm_odyssey.tasks import task_kind
from lstm_odyssey.training.batching import evaluation_batches, split_examples
from lstm_odyssey.training.objectives import objective_of
from lstm_odyssey.training.trial import (
    TrainingState,
    TrialAddress,
    TrialData,
    TrialSettings,
    evaluate,
    initial_state,
    train_one_epoch,
)

REPRESENTATIONS = {"offsets": True, "positions": False}
"""Name -> the `offsets` switch of the preparation."""
CPU = torch.device("cpu")


@dataclass
class Run:
    """One representation's trial: its data, training state and per-epoch validation CER."""

    name: str
    data: TrialData
    state: TrainingState
    curve: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    diverged_in: int | None = None
    best_state: dict[str, torch.Tensor] | None = None

    @property
    def best_epoch(self) -> int | None:
        finite = [e for e in range(len(self.curve)) if math.isfinite(self.curve[e])]
        return min(finite, key=lambda e: self.curve[e]) + 1 if finite else None


def chosen(count: int, wanted: int | None, generator: np.random.Generator) -> list[int]:
    """`wanted` of `count` sequence indices (all for None), in file order."""
    if wanted is None or wanted >= count:
        return list(range(count))
    return sorted(generator.choice(count, size=wanted, replace=False).tolist())


def subset_data(
    path: Path, lines: dict[str, int | None], seed: int, eval_batch_size: int
) -> tuple[TrialData, dict[str, list[int]]]:
    """The prepared file as a trial reads it, each split cut to `lines[split]` lines."""
    prepared = read_prepared(path)
    kind = task_kind(prepared.metadata["task_kind"])
    generator = np.random.default_rng(seed)
    examples, picked = {}, {}
    for split in ("train", "valid", "test"):
        every = split_examples(prepared.splits[split], kind)
        picked[split] = chosen(len(every), lines[split], generator)
        examples[split] = [every[i] for i in picked[split]]
    valid, test = (
        evaluation_batches(examples[split], kind, eval_batch_size) for split in ("valid", "test")
    )
    data = TrialData(kind, objective_of(kind), prepared.metadata, examples["train"], valid, test)
    return data, picked


def same_lines(first: TrialData, second: TrialData) -> bool:
    """Whether two preparations hold the same lines (same targets, same lengths, same order)."""
    return len(first.train) == len(second.train) and all(
        torch.equal(a.targets, b.targets) and len(a.inputs) == len(b.inputs)
        for a, b in zip(first.train, second.train, strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="IAM-OnDB: lineStrokes, ascii, task1")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-lines", type=int, default=1000, help="0: the whole split")
    parser.add_argument("--valid-lines", type=int, default=500, help="0: the whole split")
    parser.add_argument("--test-lines", type=int, default=500, help="0: the whole split")
    parser.add_argument("--representations", nargs="+", default=list(REPRESENTATIONS))
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--implementation", default="auto", choices=["auto", "fast", "reference"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="processes parsing stroke files")
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="start no epoch that would end past this many minutes of training (then test)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.representations) - set(REPRESENTATIONS))
    if unknown:
        parser.error(f"unknown representations {unknown}; known: {list(REPRESENTATIONS)}")
    torch.set_num_threads(args.threads)
    lines = {
        "train": args.train_lines or None,
        "valid": args.valid_lines or None,
        "test": args.test_lines or None,
    }
    settings = TrialSettings(
        max_epochs=args.epochs,
        patience=args.epochs,
        bidirectional=True,
        implementation=args.implementation,
    )
    hyperparameters = {
        "hidden_size": args.hidden,
        "learning_rate": args.learning_rate,
        "momentum": args.momentum,
        "input_noise": 0.0,
    }
    address = TrialAddress("iam_ondb", "V", 0, study_seed=0, seed=args.seed)
    print(machine_line())

    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.representations:
            started = time.perf_counter()
            prepared_path = Path(scratch) / f"{name}.h5"
            prepare_iam_ondb(
                args.corpus, prepared_path, offsets=REPRESENTATIONS[name], workers=args.workers
            )
            data, picked = subset_data(prepared_path, lines, args.seed, settings.eval_batch_size)
            print(
                f"{name}: inputs {data.metadata['input_names']}; prepared in "
                f"{time.perf_counter() - started:.0f} s; lines train/valid/test "
                + "/".join(str(len(picked[s])) for s in ("train", "valid", "test"))
            )
            state = initial_state(address, hyperparameters, settings, data, CPU)
            runs.append(Run(name, data, state))
    if len(runs) > 1 and not all(same_lines(runs[0].data, run.data) for run in runs[1:]):
        print("the representations' preparations hold different lines", file=sys.stderr)
        return 1

    print(
        f"vanilla, H={args.hidden}, bidirectional, lr={args.learning_rate}, "
        f"momentum={args.momentum} (Nesterov), no input noise, init N(0, {settings.init_std}), "
        f"seed {args.seed}, {args.threads} torch thread(s); validation CER % (s per epoch)"
    )
    print(f"{'epoch':>5} | " + " | ".join(f"{run.name:>18}" for run in runs), flush=True)
    training_started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        last_epoch = sum(run.seconds[-1] for run in runs if run.seconds and not run.diverged_in)
        if (
            args.minutes is not None
            and time.perf_counter() - training_started + last_epoch > 60 * args.minutes
        ):
            print(f"stopped before epoch {epoch}: --minutes {args.minutes:g} reached")
            break
        cells = []
        for run in runs:
            if run.diverged_in is not None:
                cells.append(f"{'diverged':>18}")
                continue
            started = time.perf_counter()
            finite, _ = train_one_epoch(run.state, run.data, hyperparameters, CPU)
            metric = evaluate(run.state.model, run.data.valid_batches, run.data.objective, CPU)
            seconds = time.perf_counter() - started
            if not finite or not math.isfinite(metric):
                run.diverged_in = epoch
                cells.append(f"{'diverged':>18}")
                continue
            run.curve.append(metric)
            run.seconds.append(seconds)
            if run.best_epoch == epoch:
                run.best_state = copy.deepcopy(run.state.model.state_dict())
            cells.append(f"{metric:>9.1f} ({seconds:>5.0f} s)")
        print(f"{epoch:>5} | " + " | ".join(cells), flush=True)

    print()
    for run in runs:
        if run.best_state is None:
            print(f"{run.name:>10}: diverged in epoch {run.diverged_in}, no test CER")
            continue
        run.state.model.load_state_dict(run.best_state)
        test = evaluate(run.state.model, run.data.test_batches, run.data.objective, CPU)
        ending = f"; diverged in epoch {run.diverged_in}" if run.diverged_in else ""
        print(
            f"{run.name:>10}: best validation epoch {run.best_epoch}, valid CER "
            f"{run.curve[run.best_epoch - 1]:.1f} %, test CER {test:.1f} %, median "
            f"{float(np.median(run.seconds)):.0f} s per epoch{ending}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
