"""Per-sequence training cost of vanilla LSTM, a custom variant (NP+CIFG) and the GRU.

Forward + backward of one sequence (batch 1, one thread, the paper's online SGD) through one layer
of each cell, by both of its implementations: our fused kernel (`models.fast_lstm`,
`models.fast_gru`) and the reference Python loop. One more row, "GRU torch", is torch's own fused
GRU (`gru.run_fused`: ATen's loop on CPU, what `fast` runs on CUDA), for comparison. All are timed
interleaved in one run (the machine is shared, so absolute times drift; ratios hold) and every
time is also given as a ratio to V's fused time.

    python benchmarks/cell_speed.py                  # H=100, T=300, I=39 (TIMIT's inputs)
    python benchmarks/cell_speed.py --hidden 20 --repeats 31
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from machine import machine_line
from torch import Tensor, nn

from lstm_odyssey.models import fast_lstm, gru
from lstm_odyssey.models.layer import GRULayer, recurrent_layer
from lstm_odyssey.variant_specs import CellSpec, cell_spec, custom_variant

CELLS: dict[str, CellSpec] = {
    "V": cell_spec("V"),
    "NP+CIFG": custom_variant(
        "NP+CIFG", {"peepholes": False, "forget_gate": False, "coupled_input_forget": True}
    ),
    "GRU": cell_spec("GRU"),
}
TORCH_GRU = "GRU torch"
"""The extra row: the GRU layer's parameters run by torch's fused GRU instead of our kernel."""


class TorchGRU(nn.Module):
    """A GRU layer whose forward pass is torch's fused GRU (forward in time, no lengths)."""

    def __init__(self, layer: GRULayer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor) -> Tensor:
        return gru.run_fused(self.layer, x)


def training_step(model: nn.Module, x: Tensor, grad: Tensor) -> Callable[[], float]:
    """A closure timing one forward + backward pass (seconds)."""

    def step() -> float:
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        model(x).backward(grad)
        return time.perf_counter() - start

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--inputs", type=int, default=39)
    parser.add_argument("--repeats", type=int, default=15, help="fused timings per cell")
    parser.add_argument("--reference-repeats", type=int, default=3)
    args = parser.parse_args()

    torch.set_num_threads(1)
    if not fast_lstm.fast_available():
        raise SystemExit("the fused kernel did not build; see the warning above")
    torch.manual_seed(0)
    x = torch.randn(args.steps, 1, args.inputs)
    grad = torch.randn(args.steps, 1, args.hidden)

    def timer(name: str, implementation: str) -> Callable[[], float]:
        layer = recurrent_layer(
            CELLS[name], args.inputs, args.hidden, implementation=implementation
        )
        return training_step(layer, x, grad)

    rows = [*CELLS, TORCH_GRU]
    fast = {name: timer(name, "fast") for name in CELLS}
    torch_layer = recurrent_layer(CELLS["GRU"], args.inputs, args.hidden)
    assert isinstance(torch_layer, GRULayer)
    fast[TORCH_GRU] = training_step(TorchGRU(torch_layer), x, grad)
    reference = {name: timer(name, "reference") for name in CELLS}
    for step in [*fast.values(), *reference.values()]:  # warm-up: allocator, kernel, caches
        step()
    fast_times: dict[str, list[float]] = {name: [] for name in rows}
    reference_times: dict[str, list[float]] = {name: [] for name in CELLS}
    for repeat in range(args.repeats):
        for name in rows:
            fast_times[name].append(fast[name]())
            if repeat < args.reference_repeats and name in reference:
                reference_times[name].append(reference[name]())
    fast_ms = {name: 1e3 * statistics.median(times) for name, times in fast_times.items()}
    reference_ms = {name: 1e3 * statistics.median(times) for name, times in reference_times.items()}
    reference_ms[TORCH_GRU] = reference_ms["GRU"]  # the same reference loop

    print(machine_line())
    print(
        f"H={args.hidden}, T={args.steps}, I={args.inputs}, batch 1, 1 thread, forward+backward "
        f"per sequence, median of {args.repeats} (reference: {args.reference_repeats}), "
        "interleaved"
    )
    parameters = {
        name: sum(p.numel() for p in recurrent_layer(spec, args.inputs, args.hidden).parameters())
        for name, spec in CELLS.items()
    }
    parameters[TORCH_GRU] = parameters["GRU"]
    header = (
        f"{'cell':<9} {'parameters':>10} {'fused ms':>9} {'reference ms':>13} "
        f"{'fused/V':>8} {'reference/V':>12} {'reference/fused':>16}  fused is"
    )
    print(header)
    print("-" * len(header))
    base = fast_ms["V"]
    for name in rows:
        print(
            f"{name:<9} {parameters[name]:>10,} {fast_ms[name]:9.2f} {reference_ms[name]:13.2f} "
            f"{fast_ms[name] / base:8.2f} {reference_ms[name] / base:12.2f} "
            f"{reference_ms[name] / fast_ms[name]:16.2f}  "
            + ("torch's fused GRU" if name == TORCH_GRU else "our fused kernel")
        )


if __name__ == "__main__":
    main()
