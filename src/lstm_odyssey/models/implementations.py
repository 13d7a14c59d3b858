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

The GRU (`models.gru`) has the same two: `reference` (its readable loop) and `fast`, torch's own
fused GRU, which runs wherever torch's GRU does (CPU, CUDA; cuDNN there), so `auto` and `fast`
always give it. `kernel_isa_of` says whether our fused kernel ran, for the trial record.

Imports point down only: this module uses `variants`, `gru` and `fast_lstm`, and the layers
(`models.layer`) use this one.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from lstm_odyssey.models import gru
from lstm_odyssey.models.fast_lstm import fast_available, kernel_isa, run_fused
from lstm_odyssey.models.variants import VariantParameters, run_reference
from lstm_odyssey.variant_specs import CellSpec, GRUSpec

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


def resolve_implementation(
    requested: str, device: torch.device, dtype: torch.dtype, variant: CellSpec | None = None
) -> str:
    """What runs when `requested` is asked for on `device` with `dtype`: "fast" or "reference".

    `variant` None or an LSTM: the fused kernel's rules above. For the GRU, "fast" (torch's
    fused GRU) unless the reference is asked for. Builds the LSTM kernel on first use (cached on
    disk), so calling this before training keeps a first build out of the measured epoch time.
    """
    check_implementation(requested)
    if requested == "reference":
        return "reference"
    if isinstance(variant, GRUSpec):
        return "fast"
    if device.type != "cpu" or dtype not in KERNEL_DTYPES:
        if requested == "fast":
            _warn_once(
                f"{device.type}-{dtype}",
                "lstm_odyssey: the fused LSTM kernel runs on CPU float32/float64 only; using "
                f"the reference implementation for {device.type} {dtype}",
            )
        return "reference"
    return "fast" if fast_available() else "reference"


def kernel_isa_of(implementation: str, variant: CellSpec | None = None) -> str | None:
    """The fused LSTM kernel's instruction-set path when it is what ran (`implementation` as
    resolved), else None: the reference ran, or torch's own GRU."""
    if implementation != "fast" or isinstance(variant, GRUSpec):
        return None
    return kernel_isa()


def run_forward_in_time(
    layer: VariantParameters | gru.GRUParameters, requested: str, x: Tensor
) -> Tensor:
    """`layer`'s recurrence over (T, B, I), forward in time, by what `requested` resolves to for
    `x` and the layer's cell; the caller handles reversal, lengths and masking."""
    fast = resolve_implementation(requested, x.device, x.dtype, layer.spec) == "fast"
    if isinstance(layer.spec, GRUSpec):
        return gru.run_fused(layer, x) if fast else gru.run_reference(layer, x)
    return run_fused(layer, x) if fast else run_reference(layer, x)
