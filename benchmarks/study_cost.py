"""What the paper's full study costs on one core: per task, variant and size, and in total.

Measures one full SGD step (forward, loss, backward, update; one sequence; one thread; the fused
kernel) of every variant at H = 20, 100 and 200 on each task's shape (`epoch_times.TASKS`: JSB
229 x ~60 steps, TIMIT 3696 x ~300 bidirectional, IAM-OnDB 5364 x ~700 bidirectional), scales it
to a training epoch, averages it over the search's log-uniform hidden size, and multiplies by the
epochs a trial runs: the mean of `epochs` over real trial records (`--records`, e.g. a sample of
JSB trials under the paper's protocol: 150 epochs, patience 15) -- or, without records, the
assumption `--epochs`. 200 trials per variant and task, as in the paper, whose study took about
15 CPU-years. Evaluation passes are not counted (a forward pass over the validation set per
epoch: roughly a tenth of an epoch's cost on these shapes).

    python benchmarks/study_cost.py --records 'results/trials/jsb/*/*.json'
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics

import numpy as np
import torch
from epoch_times import HIDDEN_SIZES, TASKS, expected_under_log_uniform, step_seconds
from machine import TORCH_ISA_ENVIRONMENT, force_instruction_set, machine_line

from lstm_odyssey.variant_specs import VARIANT_NAMES

TRIALS_PER_VARIANT = 200
PAPER_CPU_HOURS = 15 * 365.25 * 24  # "about 15 CPU-years"


def epochs_per_trial(pattern: str | None, fallback: float) -> tuple[float, str]:
    if not pattern:
        return fallback, f"assumed {fallback:g} (no --records)"
    counts = []
    for path in glob.glob(pattern):
        record = json.loads(open(path, encoding="utf-8").read())
        counts.append(len(record.get("epochs") or []))
    if not counts:
        raise SystemExit(f"no trial records match {pattern!r}")
    quartiles = np.percentile(counts, [25, 50, 75])
    description = (
        f"measured on {len(counts)} trials: mean {statistics.mean(counts):.1f}, quartiles "
        f"{quartiles[0]:.0f} / {quartiles[1]:.0f} / {quartiles[2]:.0f}, min {min(counts)}, "
        f"max {max(counts)}"
    )
    return statistics.mean(counts), description


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", help="glob of trial JSON records for epochs per trial")
    parser.add_argument("--epochs", type=float, default=75.0, help="without --records")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per measurement")
    parser.add_argument("--variants", nargs="+", default=list(VARIANT_NAMES))
    parser.add_argument("--cores", type=int, default=2, help="for the JSB-arm wall time")
    parser.add_argument("--isa", choices=list(TORCH_ISA_ENVIRONMENT))
    args = parser.parse_args()
    force_instruction_set(args.isa)
    torch.set_num_threads(1)

    epochs, epochs_text = epochs_per_trial(args.records, args.epochs)
    print(machine_line())
    print(f"epochs per trial: {epochs_text}")
    header = f"{'task':<13} {'variant':<7}" + "".join(f" {'H=' + str(h):>9}" for h in HIDDEN_SIZES)
    print(header + f" {'mean s/epoch':>13} {'CPU-h (200 trials)':>19}")
    totals: dict[str, float] = {}
    for task in TASKS:
        totals[task.name] = 0.0
        for variant in args.variants:
            seconds = [
                step_seconds(task, h, "fast", args.repeats, variant=variant) * task.sequences
                for h in HIDDEN_SIZES
            ]
            mean_epoch = expected_under_log_uniform(HIDDEN_SIZES, seconds)
            hours = TRIALS_PER_VARIANT * epochs * mean_epoch / 3600
            totals[task.name] += hours
            cells = "".join(f" {s:9.1f}" for s in seconds)
            print(
                f"{task.name:<13} {variant:<7}{cells} {mean_epoch:13.1f} {hours:19,.0f}", flush=True
            )
    total = sum(totals.values())
    print()
    for name, hours in totals.items():
        print(f"{name:<13} {hours:10,.0f} CPU-hours ({hours / 24 / 365.25:.2f} CPU-years)")
    print(
        f"{'all three':<13} {total:10,.0f} CPU-hours ({total / 24 / 365.25:.2f} CPU-years); "
        f"the paper: ~{PAPER_CPU_HOURS:,.0f} (15 CPU-years)"
    )
    jsb = totals[TASKS[0].name]
    print(
        f"the JSB arm alone on {args.cores} cores: {jsb / args.cores:.1f} hours of wall time "
        f"({len(args.variants) * TRIALS_PER_VARIANT} trials, one per core at a time)"
    )


if __name__ == "__main__":
    main()
