"""Seconds per training epoch for each task, reference vs fast, and the study's CPU cost.

Times full SGD steps (forward, loss, backward, momentum SGD update; one sequence
per step, one thread) of the vanilla LSTM network on synthetic sequences shaped
like each task's training set, scales the median step to an epoch, plots the
result and estimates the CPU-hours of the paper's protocol (200 trials x 9
variants x 3 tasks). Synthetic data is enough: the cost depends on shapes only.

    python benchmarks/epoch_times.py                  # ~1-2 minutes
    python benchmarks/epoch_times.py --output fig.png --epochs 75
    python benchmarks/epoch_times.py --isa avx2   # both sides forced down to AVX2
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from machine import TORCH_ISA_ENVIRONMENT, force_instruction_set, machine_line
from torch import Tensor, nn

from lstm_odyssey.models import fast_lstm
from lstm_odyssey.models.networks import SequenceNetwork


@dataclass(frozen=True)
class TaskShape:
    """What one training epoch of a task looks like (paper, Sec. IV)."""

    name: str
    sequences: int  # training sequences per epoch
    steps: int  # typical sequence length
    inputs: int
    outputs: int
    bidirectional: bool
    loss: str  # "sigmoid" (multi-label), "softmax" (frame labels), "ctc"


TASKS = (
    TaskShape("JSB Chorales", 229, 60, 88, 88, False, "sigmoid"),
    TaskShape("TIMIT", 3696, 300, 39, 61, True, "softmax"),
    TaskShape("IAM-OnDB", 5364, 700, 4, 81, True, "ctc"),  # 80 characters + blank
)
HIDDEN_SIZES = (20, 100, 200)
IMPLEMENTATIONS = ("reference", "fast")
STUDY_TRIALS = 200 * 9  # trials x variants, per task


def make_loss(task: TaskShape, steps: int) -> tuple[nn.Module, Tensor]:
    """The task's loss and a random target for one sequence of ``steps`` frames."""
    if task.loss == "sigmoid":
        return nn.BCEWithLogitsLoss(), (torch.rand(steps, 1, task.outputs) < 0.1).float()
    if task.loss == "softmax":
        return nn.CrossEntropyLoss(), torch.randint(task.outputs, (steps,))
    return nn.CTCLoss(blank=0), torch.randint(1, task.outputs, (1, steps // 20))


def step_seconds(
    task: TaskShape,
    hidden: int,
    implementation: str,
    repeats: int,
    seed: int = 0,
    variant: str = "V",
) -> float:
    """Median wall time of one full SGD step on one sequence."""
    torch.manual_seed(seed)
    network = SequenceNetwork(
        variant,
        task.inputs,
        hidden,
        task.outputs,
        bidirectional=task.bidirectional,
        implementation=implementation,
    )
    optimizer = torch.optim.SGD(network.parameters(), lr=1e-4, momentum=0.9)
    x = torch.randn(task.steps, 1, task.inputs)
    loss_function, target = make_loss(task, task.steps)

    def one_step() -> float:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        logits = network(x + 0.1 * torch.randn_like(x))  # input noise, as in the search
        if task.loss == "softmax":
            loss = loss_function(logits.view(-1, task.outputs), target)
        elif task.loss == "ctc":
            log_probs = logits.log_softmax(-1)
            loss = loss_function(
                log_probs, target, torch.tensor([task.steps]), torch.tensor([target.shape[1]])
            )
        else:
            loss = loss_function(logits, target)
        loss.backward()
        optimizer.step()
        return time.perf_counter() - start

    one_step()  # warm-up
    return statistics.median(one_step() for _ in range(repeats))


def expected_under_log_uniform(
    sizes: tuple[int, ...], values: list[float], low: int = 20, high: int = 200
) -> float:
    """Mean of a cost measured at ``sizes``, interpolated, over H ~ log-uniform[low, high]."""
    grid = np.exp(np.linspace(math.log(low), math.log(high), 1001))  # equal mass per point
    coefficients = np.polyfit(sizes, values, deg=min(2, len(sizes) - 1))
    return float(np.mean(np.clip(np.polyval(coefficients, grid), min(values) * 0.5, None)))


def plot(epoch_seconds: dict[tuple[str, int, str], float], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(TASKS), figsize=(4 * len(TASKS), 3.6))
    width = 0.38
    positions = np.arange(len(HIDDEN_SIZES))
    for axis, task in zip(axes, TASKS, strict=True):
        for offset, implementation in zip((-width / 2, width / 2), IMPLEMENTATIONS, strict=True):
            seconds = [epoch_seconds[task.name, h, implementation] for h in HIDDEN_SIZES]
            bars = axis.bar(positions + offset, seconds, width, label=implementation)
            labels = [f"{v:,.0f}" if v >= 100 else f"{v:.3g}" for v in seconds]
            axis.bar_label(bars, labels=labels, fontsize=7)
        axis.set_xticks(positions, [f"H={h}" for h in HIDDEN_SIZES])
        axis.set_yscale("log")
        direction = "bidirectional" if task.bidirectional else "unidirectional"
        axis.set_title(f"{task.name}\n{task.sequences} seqs x ~{task.steps} steps, {direction}")
        axis.set_ylabel("seconds per training epoch (1 thread)")
        axis.margins(y=0.15)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper right", fontsize=8)
    figure.suptitle("Vanilla LSTM, one sequence per SGD step: reference loop vs fused kernel")
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("results/benchmarks/epoch_times.png"))
    parser.add_argument("--repeats", type=int, default=11, help="timed steps per fast config")
    parser.add_argument("--reference-repeats", type=int, default=3)
    parser.add_argument(
        "--epochs",
        type=float,
        default=75.0,
        help="assumed mean epochs per trial (max 150, early stopping after 15 stale epochs)",
    )
    parser.add_argument(
        "--isa", choices=list(TORCH_ISA_ENVIRONMENT), help="force both sides down to this ISA"
    )
    args = parser.parse_args()
    force_instruction_set(args.isa)

    torch.set_num_threads(1)
    if not fast_lstm.fast_available():
        raise SystemExit("the fused kernel did not build; see the warning above")

    epoch_seconds: dict[tuple[str, int, str], float] = {}
    print(machine_line())
    print(f"{'task':<13} {'H':>4} {'reference s/epoch':>18} {'fast s/epoch':>13} {'speed-up':>9}")
    for task in TASKS:
        for hidden in HIDDEN_SIZES:
            for implementation in IMPLEMENTATIONS:
                repeats = args.repeats if implementation == "fast" else args.reference_repeats
                seconds = step_seconds(task, hidden, implementation, repeats)
                epoch_seconds[task.name, hidden, implementation] = seconds * task.sequences
            reference = epoch_seconds[task.name, hidden, "reference"]
            fast = epoch_seconds[task.name, hidden, "fast"]
            print(
                f"{task.name:<13} {hidden:>4} {reference:18.1f} {fast:13.1f} "
                f"{reference / fast:8.1f}x",
                flush=True,
            )
    plot(epoch_seconds, args.output)
    print(f"figure: {args.output}")

    mean_hidden = (200 - 20) / math.log(200 / 20)
    print(
        f"\nCPU-hour estimate for the paper's protocol: {STUDY_TRIALS} trials per task "
        f"(200 x 9 variants), {args.epochs:g} epochs per trial (assumed; max 150), hidden "
        f"size log-uniform in [20, 200] (mean {mean_hidden:.0f}; cost averaged over the "
        "distribution), every variant costed as vanilla, one thread per trial, training "
        "steps only (validation passes add roughly 10-20%)."
    )
    totals = dict.fromkeys(IMPLEMENTATIONS, 0.0)
    for task in TASKS:
        row = []
        for implementation in IMPLEMENTATIONS:
            values = [epoch_seconds[task.name, h, implementation] for h in HIDDEN_SIZES]
            per_epoch = expected_under_log_uniform(HIDDEN_SIZES, values)
            hours = STUDY_TRIALS * args.epochs * per_epoch / 3600
            totals[implementation] += hours
            row.append(f"{implementation} {hours:>12,.0f} CPU-h")
        print(f"  {task.name:<13} " + "   ".join(row))
    print(
        f"  {'total':<13} "
        + "   ".join(f"{name} {hours:>12,.0f} CPU-h" for name, hours in totals.items())
    )


if __name__ == "__main__":
    main()
