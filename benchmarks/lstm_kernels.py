"""Per-sequence training cost of every LSTM variant against torch's fused nn.LSTM.

The bar (issue: fast on the CPUs our users have): forward + backward of one sequence (batch 1,
one thread) within 1.5x of ``nn.LSTM`` of the same size at H=100 and H=200 and within 1.2x at
H=20; NP (nn.LSTM's architecture) within 1.2x everywhere; FGR, which must stream 13H^2 recurrent
weights per step instead of 4H^2, within 13/4 of V's time at the same size. Our layer and
nn.LSTM are timed interleaved in the same run (the machine is shared, so absolute times drift;
ratios hold), and the reference Python loop gives the "before" column.

`--isa avx2` (or `baseline`) runs both sides forced down to that instruction set on a bigger
CPU: our kernel through $LSTM_ODYSSEY_KERNEL_ISA, torch through MKL_ENABLE_INSTRUCTIONS,
ONEDNN_MAX_CPU_ISA and ATEN_CPU_CAPABILITY (the script re-executes itself with them set, since
MKL reads them when it loads), so the ratio stays fair.

    python benchmarks/lstm_kernels.py            # full table (a few minutes)
    python benchmarks/lstm_kernels.py --quick    # V, NP, FGR at H=20/200, fewer repeats
    python benchmarks/lstm_kernels.py --isa avx2 --variants V NP FGR CIFG --hidden 20 100 200
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from machine import TORCH_ISA_ENVIRONMENT, force_instruction_set, machine_line
from torch import Tensor, nn

from lstm_odyssey.models import fast_lstm
from lstm_odyssey.models.layer import VariantLSTM
from lstm_odyssey.models.variants import VARIANTS

BARS = {20: 1.2, 100: 1.5, 200: 1.5}  # ratio to nn.LSTM allowed, by hidden size
NP_BAR = 1.2
FGR_BAR = 13 / 4  # FGR's time over V's at the same size: its weight-streaming floor


class Directions(nn.Module):
    """One (bi)directional level of variant layers, outputs concatenated like nn.LSTM."""

    def __init__(
        self, variant: str, inputs: int, hidden: int, bidirectional: bool, implementation: str
    ) -> None:
        super().__init__()
        directions = (False, True) if bidirectional else (False,)
        self.layers = nn.ModuleList(
            VariantLSTM(variant, inputs, hidden, reverse=reverse, implementation=implementation)
            for reverse in directions
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([layer(x) for layer in self.layers], dim=-1)


def training_step(model: nn.Module, x: Tensor, grad: Tensor) -> Callable[[], float]:
    """A closure timing one forward + backward pass (seconds)."""

    def step() -> float:
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        out = model(x)
        if isinstance(out, tuple):  # nn.LSTM returns (output, (h, c))
            out = out[0]
        out.backward(grad)
        return time.perf_counter() - start

    return step


def measure(
    variant: str,
    hidden: int,
    bidirectional: bool,
    steps: int,
    inputs: int,
    repeats: int,
    reference_repeats: int,
) -> dict[str, float]:
    """Median seconds per sequence for fast, nn.LSTM and (optionally) the reference."""
    torch.manual_seed(0)
    x = torch.randn(steps, 1, inputs)
    directions = 2 if bidirectional else 1
    grad = torch.randn(steps, 1, directions * hidden)
    candidates = {
        "fast": Directions(variant, inputs, hidden, bidirectional, "fast"),
        "torch": nn.LSTM(inputs, hidden, bidirectional=bidirectional),
    }
    timers = {name: training_step(model, x, grad) for name, model in candidates.items()}
    for timer in timers.values():  # warm-up: allocator, kernel load, caches
        timer()
        timer()
    times: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(repeats):
        for name, timer in timers.items():
            times[name].append(timer())
    result = {name: statistics.median(values) for name, values in times.items()}
    if reference_repeats > 0:
        reference = training_step(
            Directions(variant, inputs, hidden, bidirectional, "reference"), x, grad
        )
        reference()
        result["reference"] = statistics.median(reference() for _ in range(reference_repeats))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS))
    parser.add_argument("--hidden", nargs="+", type=int)
    parser.add_argument("--directions", nargs="+", default=["uni", "bi"], choices=["uni", "bi"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--inputs", type=int, default=39)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--reference-repeats", type=int, help="0 skips the (slow) reference column")
    parser.add_argument(
        "--quick", action="store_true", help="defaults V/NP/FGR, H=20/200, fewer repeats"
    )
    parser.add_argument(
        "--isa", choices=list(TORCH_ISA_ENVIRONMENT), help="force both sides down to this ISA"
    )
    args = parser.parse_args()
    force_instruction_set(args.isa)
    # explicit options win; --quick only changes the defaults
    defaults = {
        "variants": ["V", "NP", "FGR"] if args.quick else list(VARIANTS),
        "hidden": [20, 200] if args.quick else [20, 100, 200],
        "repeats": 7 if args.quick else 15,
        "reference_repeats": 1 if args.quick else 3,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)

    torch.set_num_threads(1)
    if not fast_lstm.fast_available():
        raise SystemExit("the fused kernel did not build; see the warning above")

    print(machine_line())
    print(
        f"T={args.steps}, I={args.inputs}, batch 1, 1 thread, forward+backward per sequence, "
        f"median of {args.repeats} (reference: {args.reference_repeats})"
    )
    header = (
        f"{'variant':<7} {'H':>4} {'dir':<4} {'reference ms':>13} {'fast ms':>9} "
        f"{'nn.LSTM ms':>11} {'fast/nn.LSTM':>13} {'bar':>5}  ok"
    )
    print(header)
    print("-" * len(header))
    misses = []
    vanilla: dict[tuple[int, str], float] = {}
    for variant in sorted(args.variants, key=lambda name: name != "V"):  # V first, for FGR
        for hidden in args.hidden:
            for direction in args.directions:
                result = measure(
                    variant,
                    hidden,
                    direction == "bi",
                    args.steps,
                    args.inputs,
                    args.repeats,
                    args.reference_repeats,
                )
                if variant == "V":
                    vanilla[hidden, direction] = result["fast"]
                ratio = result["fast"] / result["torch"]
                if variant == "FGR":  # held to its floor against V, not to nn.LSTM
                    base = vanilla.get((hidden, direction))
                    bar, judged = FGR_BAR, (None if base is None else result["fast"] / base)
                else:
                    bar = NP_BAR if variant == "NP" else BARS.get(hidden)
                    judged = ratio
                ok = "" if bar is None or judged is None else ("yes" if judged <= bar else "NO")
                if ok == "NO":
                    misses.append(f"{variant} H={hidden} {direction}")
                reference = result.get("reference")
                reference_text = f"{1e3 * reference:13.1f}" if reference else f"{'-':>13}"
                bar_text = f"{bar:5.2f}" if bar else f"{'-':>5}"
                against = f" (FGR/V {judged:.2f})" if variant == "FGR" and judged else ""
                print(
                    f"{variant:<7} {hidden:>4} {direction:<4} {reference_text} "
                    f"{1e3 * result['fast']:9.2f} {1e3 * result['torch']:11.2f} "
                    f"{ratio:13.2f} {bar_text}  {ok}{against}",
                    flush=True,
                )
    print("all within their bars" if not misses else f"over the bar: {', '.join(misses)}")


if __name__ == "__main__":
    main()
