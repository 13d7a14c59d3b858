"""What every benchmark says about the machine, and how it forces a lower instruction set.

Timings differ 5-20x between CPUs and instruction-set paths, so every benchmark prints the CPU
model and the path of both sides (`machine_line`). `force_instruction_set("avx2")` re-executes
the running script with our kernel capped by $LSTM_ODYSSEY_KERNEL_ISA and torch's libraries by
MKL_ENABLE_INSTRUCTIONS, ONEDNN_MAX_CPU_ISA and ATEN_CPU_CAPABILITY (MKL reads them when it
loads, hence the re-execution), so an AVX-512 machine measures an AVX2 machine's ratio fairly.
"""

from __future__ import annotations

import os
import sys

import torch

from lstm_odyssey.models import fast_lstm
from lstm_odyssey.provenance import cpu_model

TORCH_ISA_ENVIRONMENT = {
    "avx512": {},
    "avx2": {
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "ATEN_CPU_CAPABILITY": "avx2",
    },
    "baseline": {
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "ATEN_CPU_CAPABILITY": "default",
    },
}
"""What forces torch's libraries down to each of our kernel's paths."""
_FORCED = ("MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


def force_instruction_set(isa: str | None) -> None:
    """Re-execute this script with both sides capped at `isa` (no-op for None or once done)."""
    if isa is None or os.environ.get(fast_lstm.KERNEL_ISA_VARIABLE) == isa:
        return
    environment = {**os.environ, fast_lstm.KERNEL_ISA_VARIABLE: isa, **TORCH_ISA_ENVIRONMENT[isa]}
    os.execve(sys.executable, [sys.executable, *sys.argv], environment)


def machine_line() -> str:
    """The CPU and the instruction-set path of both sides."""
    forced = ", ".join(f"{name}={os.environ[name]}" for name in _FORCED if name in os.environ)
    return (
        f"CPU: {cpu_model()}; our kernel's ISA path: {fast_lstm.kernel_isa()}; torch "
        f"{torch.__version__} CPU capability {torch.backends.cpu.get_cpu_capability()}"
        + (f" ({forced})" if forced else "")
    )
