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

The GRU (`models.gru`) has the same two: `reference` (its readable loop) and `fast`, which
`auto` always gives too. `fast` is our fused kernel (`fast_gru`, in the LSTM kernel's extension)
on CPU float32/float64 when the extension builds, and torch's own fused GRU elsewhere (CUDA, where
it is cuDNN; other dtypes; a failed build, warned about once by `fast_lstm`). `kernel_isa_of` says
whether our fused kernel ran, for the trial record.

Imports point down only: this module uses `variants`, `gru`, `fast_lstm` and `fast_gru`, and the
layers (`models.layer`) use this one.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from lstm_odyssey.models import fast_gru, gru
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

    `variant` None or an LSTM: the fused kernel's rules above. For the GRU, "fast" (our fused
    kernel or torch's fused GRU, see `gru_kernel_runs`) unless the reference is asked for. Builds
    the kernel on first use (cached on disk), so calling this before training keeps a first build
    out of the measured epoch time.
    """
    check_implementation(requested)
    if requested == "reference":
        return "reference"
    if isinstance(variant, GRUSpec):
        gru_kernel_runs(device, dtype)  # builds the kernel now, as for the LSTMs
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


def gru_kernel_runs(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether the GRU's "fast" is our fused kernel (CPU float32/float64, the extension built)
    rather than torch's fused GRU."""
    return device.type == "cpu" and dtype in KERNEL_DTYPES and fast_available()


def kernel_isa_of(
    implementation: str,
    variant: CellSpec | None = None,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> str | None:
    """The fused kernel's instruction-set path when it is what ran (`implementation` as resolved
    for `device`, default the CPU, and `dtype`), else None: the reference ran, or torch's GRU."""
    if implementation != "fast":
        return None
    if isinstance(variant, GRUSpec) and not gru_kernel_runs(
        torch.device("cpu") if device is None else device, dtype
    ):
        return None
    return kernel_isa()


def run_forward_in_time(
    layer: VariantParameters | gru.GRUParameters, requested: str, x: Tensor
) -> Tensor:
    """`layer`'s recurrence over (T, B, I), forward in time, by what `requested` resolves to for
    `x` and the layer's cell; the caller handles reversal, lengths and masking."""
    fast = resolve_implementation(requested, x.device, x.dtype, layer.spec) == "fast"
    if isinstance(layer.spec, GRUSpec):
        if not fast:
            return gru.run_reference(layer, x)
        if gru_kernel_runs(x.device, x.dtype):
            return fast_gru.run_fused(layer, x)
        return gru.run_fused(layer, x)
    return run_fused(layer, x) if fast else run_reference(layer, x)
