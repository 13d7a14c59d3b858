"""Packed trials against solo trials: updates per second, trials per hour, a per-step cost model.

One update = forward + backward + momentum step over one TIMIT-sized sequence per trial
(random inputs: I = 39, T = 300, 61 classes, framewise cross-entropy, a bidirectional layer as
the paper's TIMIT network). The solo side is what a training job runs today: one
`SequenceNetwork` with the fused kernel (`implementation="fast"`) and `MomentumSGD`. The packed
side is `models.packed.PackedNetwork` + `training.packed.PackedMomentumSGD` for K members of
the same H (packed "by similar size"), and for K members of mixed H (log-uniform in [20, 200],
zero-padded to the largest: packed "by index").

The cost model fits the seconds of one packed time step (both directions, forward and
backward) as  t = latency + work * K * H * (H + I)  by least squares over the measured
points: `latency` is the per-step cost that does not grow with the pack (operator dispatch:
it is what a GPU pays per step whatever K is), `work` the cost per member-unit (throughput).
`--ops` also counts the operators one update dispatches (torch profiler), which is what a GPU
projection multiplies by a launch latency (docs/packed-trials.md).

    python benchmarks/packed_trials.py            # K = 1, 8, 32, 128 at H = 20, 100, 200
    python benchmarks/packed_trials.py --quick    # K = 1, 8, 32 at H = 20, 100; one update each
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from machine import machine_line

from lstm_odyssey.models.networks import SequenceNetwork
from lstm_odyssey.models.packed import PackedNetwork
from lstm_odyssey.training.optim import make_optimizer
from lstm_odyssey.training.packed import PackedMomentumSGD

INPUTS, STEPS, CLASSES = 39, 300, 61
UPDATES_PER_TRIAL = 3696 * 20
"""A TIMIT trial: 3696 training sequences x 20 epochs (an assumption for the trials/hour
column; the ratios do not depend on it)."""


def solo_update_seconds(hidden: int, repeats: int, variant: str) -> float:
    """One solo update with the fused kernel (median of `repeats` after a warm-up)."""
    network = SequenceNetwork(
        variant, INPUTS, hidden, CLASSES, bidirectional=True, implementation="fast"
    )
    optimizer = make_optimizer(network.parameters(), 1e-3, 0.9)
    x = torch.randn(STEPS, 1, INPUTS)
    targets = torch.randint(0, CLASSES, (STEPS,))

    def update() -> None:
        loss = F.cross_entropy(network(x).squeeze(1), targets, reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return timed(update, repeats)


def packed_update_seconds(hiddens: list[int], repeats: int, variant: str) -> float:
    """One update of a pack whose members have hidden sizes `hiddens` (median)."""
    networks = [SequenceNetwork(variant, INPUTS, h, CLASSES, bidirectional=True) for h in hiddens]
    pack = PackedNetwork(networks, torch.float32, torch.device("cpu"))
    k = len(hiddens)
    optimizer = PackedMomentumSGD(
        pack.parameters,
        {name: torch.zeros_like(t) for name, t in pack.parameters.items()},
        [1e-4] * k,
        [0.9] * k,
        [True] * k,
        [False] * k,
    )
    x = torch.randn(STEPS, k, INPUTS)
    lengths = torch.full((k,), STEPS)
    targets = torch.randint(0, CLASSES, (STEPS * k,))

    def update() -> None:
        logits = pack(x, lengths)
        losses = F.cross_entropy(logits.reshape(-1, CLASSES), targets, reduction="none")
        pack.zero_grad()
        losses.view(STEPS, k).sum(0).sum().backward()
        pack.mask_gradients()
        optimizer.step()

    return timed(update, repeats)


def operators_per_update(k: int, hidden: int, variant: str) -> int:
    """How many operators one packed update dispatches (each a kernel launch on a GPU)."""
    from torch.profiler import ProfilerActivity, profile

    networks = [SequenceNetwork(variant, INPUTS, hidden, CLASSES, bidirectional=True)] * k
    pack = PackedNetwork(networks, torch.float32, torch.device("cpu"))
    x = torch.randn(STEPS, k, INPUTS)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        pack(x, torch.full((k,), STEPS)).sum().backward()
    # top-level aten calls only (a composite op counts once, as one launch or a few)
    return sum(1 for event in profiler.events() if event.name.startswith("aten::"))


def timed(update, repeats: int) -> float:
    update()  # warm-up (allocations, the kernel's first call)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        update()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def fit_cost_model(points: list[tuple[int, int, float]]) -> tuple[float, float]:
    """t_step = latency + work * K * H * (H + I) over (K, H, seconds/step), fitted to relative
    error (each point weighted by 1 / its time: the small packs' latency and the large packs'
    arithmetic both count; plain least squares lets the largest pack decide and can return a
    negative latency), with both terms kept non-negative."""
    design = np.array([[1.0, k * h * (h + INPUTS)] for k, h, _ in points])
    seconds = np.array([t for _, _, t in points])
    weighted = design / seconds[:, None]
    (latency, work), *_ = np.linalg.lstsq(weighted, np.ones_like(seconds), rcond=None)
    if latency < 0 or work < 0:  # one term alone explains the points better: fit it alone
        column = 0 if work < 0 else 1
        alone = float(
            np.linalg.lstsq(weighted[:, [column]], np.ones_like(seconds), rcond=None)[0][0]
        )
        latency, work = (alone, 0.0) if column == 0 else (0.0, alone)
    return float(latency), float(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="K 1/8/32, H 20/100, 1 update")
    parser.add_argument("--packs", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--hidden", type=int, nargs="+", default=[20, 100, 200])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--variant", default="V")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ops", action="store_true", help="count operators per update")
    args = parser.parse_args()
    if args.quick:
        args.packs, args.hidden, args.repeats = [1, 8, 32], [20, 100], 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(machine_line())
    print(
        f"variant {args.variant}, bidirectional, I={INPUTS}, T={STEPS}, {CLASSES} classes, "
        f"{args.threads} thread(s); trials/hour at {UPDATES_PER_TRIAL} updates per trial"
    )
    header = f"{'H':>4} {'K':>4} {'s/update':>9} {'updates/s':>10} {'trials/h':>9} {'vs solo':>8}"
    print(header)
    points = []
    for hidden in args.hidden:
        solo = solo_update_seconds(hidden, args.repeats, args.variant)
        print(
            f"{hidden:>4} {'solo':>4} {solo:>9.3f} {1 / solo:>10.2f} "
            f"{3600 / solo / UPDATES_PER_TRIAL:>9.4f} {'1.00':>8}  (fused kernel)"
        )
        for k in args.packs:
            seconds = packed_update_seconds([hidden] * k, args.repeats, args.variant)
            points.append((k, hidden, seconds / STEPS))
            print(
                f"{hidden:>4} {k:>4} {seconds:>9.3f} {k / seconds:>10.2f} "
                f"{3600 * k / seconds / UPDATES_PER_TRIAL:>9.4f} {solo * k / seconds:>8.2f}"
            )
    rng = np.random.default_rng(0)
    print("mixed hidden sizes (log-uniform 20-200): one padded pack vs sorted packs of 8")
    for k in [k for k in args.packs if k > 1][:2]:
        hiddens = [int(round(math.exp(v))) for v in rng.uniform(math.log(20), math.log(200), k)]
        mixed = packed_update_seconds(hiddens, args.repeats, args.variant)
        by_size = sum(
            packed_update_seconds([int(h) for h in group], args.repeats, args.variant)
            for group in np.array_split(sorted(hiddens), max(1, k // 8))
        )
        print(
            f"  K={k}: one padded pack {mixed:.3f} s/update; the same trials sorted into packs "
            f"of 8 by size {by_size:.3f} s (padded/sorted {mixed / by_size:.2f})"
        )
    latency, work = fit_cost_model(points)
    print(
        f"cost model per time step (fwd+bwd, both directions): {latency * 1e6:.0f} us latency + "
        f"{work * 1e9:.3f} ns x K x H x (H + I)"
    )
    for k, hidden, seconds in points:
        model = latency + work * k * hidden * (hidden + INPUTS)
        print(
            f"  K={k:>3} H={hidden:>3}: measured {seconds * 1e3:.2f} ms, model {model * 1e3:.2f} ms"
        )
    if args.ops:
        for k in (1, 32):
            print(
                f"operators per update (K={k}, H=100): {operators_per_update(k, 100, args.variant)}"
            )


if __name__ == "__main__":
    main()
