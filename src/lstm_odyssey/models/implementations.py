"""Which implementation runs a variant layer, decided in one place.

Three names can be asked for (`IMPLEMENTATION_NAMES`): `reference` (the readable per-step loop in
`variants`), `fast` (the fused CPU kernel in `fast_lstm`) and `auto` (the kernel where it can
run). `resolve_implementation` turns a request into what really runs on a given device and dtype;
the layer's forward pass (through `run_forward_in_time`) and the trial record both ask it, so the
record names what ran.

The kernel runs on CPU float32/float64 only. Elsewhere (CUDA, bfloat16) `fast` warns once and runs
the reference; `auto` does so silently. The CPU kernel is never called with a tensor on another
device. When the kernel cannot be built, `fast_lstm` warns once with the reason (the compiler's
message for a build error) and the reference runs; `fast_lstm.kernel_build_error()` keeps it.

Imports point down only: this module uses `variants` and `fast_lstm`, and the layer
(`models.layer`) uses this one.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from lstm_odyssey.models.fast_lstm import fast_available, run_fused
from lstm_odyssey.models.variants import VariantParameters, run_reference

IMPLEMENTATION_NAMES: tuple[str, ...] = ("reference", "fast", "auto")
KERNEL_DTYPES = (torch.float32, torch.float64)

_WARNED: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def check_implementation(requested: str) -> None:
    """Refuse a name that is not an implementation."""
    if requested not in IMPLEMENTATION_NAMES:
        raise ValueError(
            f"unknown implementation {requested!r}; expected one of {list(IMPLEMENTATION_NAMES)}"
        )


def resolve_implementation(requested: str, device: torch.device, dtype: torch.dtype) -> str:
    """What runs when `requested` is asked for on `device` with `dtype`: "fast" or "reference".

    Builds the kernel on first use (cached on disk), so calling this before training keeps a
    first build out of the measured epoch time.
    """
    check_implementation(requested)
    if requested == "reference":
        return "reference"
    if device.type != "cpu" or dtype not in KERNEL_DTYPES:
        if requested == "fast":
            _warn_once(
                f"{device.type}-{dtype}",
                "lstm_odyssey: the fused LSTM kernel runs on CPU float32/float64 only; using "
                f"the reference implementation for {device.type} {dtype}",
            )
        return "reference"
    return "fast" if fast_available() else "reference"


def run_forward_in_time(layer: VariantParameters, requested: str, x: Tensor) -> Tensor:
    """`layer`'s recurrence over (T, B, I), forward in time, by what `requested` resolves to for
    `x`; the caller handles reversal, lengths and masking."""
    if resolve_implementation(requested, x.device, x.dtype) == "fast":
        return run_fused(layer, x)
    return run_reference(layer, x)
