"""Fused CPU implementation of :class:`~lstm_odyssey.models.variants.VariantLSTM`.

The paper trains on one sequence per update, so every time step is a
matrix-vector product and a handful of element-wise operations; a Python loop
over time (the reference) spends nearly all its time in dispatch overhead. Here
the loop over time runs in C++ (``csrc/fused_lstm.cpp``) for both the forward
and the backward pass, wrapped in one :class:`torch.autograd.Function`:

* ``W x + b`` for all steps is one GEMM (plain autograd gives dW, db and dx);
* the recurrence (``R y'``, ``R_gates [i', f', o']``, gates, cell, output) is one
  call forward and one call backward, returning d(pre-activations);
* ``dR``, ``dR_gates`` are then one GEMM each over all steps, ``dp`` a reduction.

The extension is compiled on first use with :func:`torch.utils.cpp_extension.load`
into torch's extension cache (``TORCH_EXTENSIONS_DIR``, default
``~/.cache/torch_extensions``); the name carries a hash of the sources, so an
edited kernel is rebuilt and concurrent first imports share torch's file lock.

Two implementations are registered in ``IMPLEMENTATIONS``: ``"fast"`` (warns once
and uses the reference when the kernel cannot be used: no compiler, CUDA tensors,
other dtypes) and ``"auto"`` (the same, silent about device and dtype).
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from lstm_odyssey.models.variants import (
    IMPLEMENTATIONS,
    VariantLSTM,
    VariantSpec,
    run_reference,
)

SOURCE_DIR = Path(__file__).parent / "csrc"
SUPPORTED_DTYPES = (torch.float32, torch.float64)

# bit flags of the kernel; must match the constants at the top of fused_lstm.cpp
_INPUT_GATE = 1
_FORGET_GATE = 2
_OUTPUT_GATE = 4
_COUPLED = 8
_BLOCK_TANH = 16
_OUTPUT_TANH = 32
_PEEPHOLES = 64
_GATE_RECURRENCE = 128


def variant_flags(spec: VariantSpec) -> int:
    """Encode a configuration as the kernel's bit flags."""
    flags = 0
    flags |= _INPUT_GATE if spec.input_gate else 0
    flags |= _FORGET_GATE if spec.forget_gate else 0
    flags |= _OUTPUT_GATE if spec.output_gate else 0
    flags |= _COUPLED if spec.coupled_input_forget else 0
    flags |= _BLOCK_TANH if spec.block_input_activation == "tanh" else 0
    flags |= _OUTPUT_TANH if spec.output_activation == "tanh" else 0
    flags |= _PEEPHOLES if spec.peepholes else 0
    flags |= _GATE_RECURRENCE if spec.gate_recurrence else 0
    return flags


def compile_extension() -> Any:
    """Build (or reuse the cached build of) the kernel and return its op namespace."""
    from torch.utils import cpp_extension

    sources = sorted(SOURCE_DIR.glob("*.cpp"))
    if not sources:
        raise FileNotFoundError(f"no C++ sources under {SOURCE_DIR}")
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.read_bytes())
    digest.update(torch.__version__.encode())
    cpp_extension.load(
        name=f"lstm_odyssey_fused_{digest.hexdigest()[:16]}",
        sources=[str(source) for source in sources],
        extra_cflags=["-O3"],
        is_python_module=False,
        verbose=False,
    )
    return torch.ops.lstm_odyssey_fused


class _Extension:
    """Compiles the kernel at most once per process and remembers a failure."""

    def __init__(self, loader: Callable[[], Any] = compile_extension) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._ops: Any = None
        self._error: BaseException | None = None

    def ops(self) -> Any:
        """The op namespace, or None when the build failed (warned about once)."""
        with self._lock:
            if self._ops is None and self._error is None:
                try:
                    self._ops = self._loader()
                except Exception as error:  # no compiler, no ninja, build error...
                    self._error = error
                    warnings.warn(
                        "lstm_odyssey: could not build the fused LSTM kernel "
                        f"({type(error).__name__}: {error}); using the reference "
                        "implementation (slow)",
                        RuntimeWarning,
                        stacklevel=4,
                    )
            return self._ops

    @property
    def failed(self) -> bool:
        return self._error is not None


_EXTENSION = _Extension()
_WARNED: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def fast_available() -> bool:
    """True when the fused kernel builds/loads on this machine (compiles on first call)."""
    return _EXTENSION.ops() is not None


class FusedRecurrence(torch.autograd.Function):
    """Projection (T, B, G*H) = W x + b, plus R, p, R_gates -> outputs y (T, B, H)."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        projection: Tensor,
        R: Tensor,
        p: Tensor | None,
        R_gates: Tensor | None,
        spec: VariantSpec,
        ops: Any,
    ) -> Tensor:
        flags = variant_flags(spec)
        y, cell, hcell, acts = ops.forward(projection, R, p, R_gates, flags)
        ctx.save_for_backward(R, p, R_gates, y, cell, hcell, acts)
        ctx.spec = spec
        ctx.flags = flags
        ctx.ops = ops
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Tensor) -> tuple[Tensor | None, ...]:
        R, p, R_gates, y, cell, hcell, acts = ctx.saved_tensors
        spec: VariantSpec = ctx.spec
        dpre = ctx.ops.backward(grad_y, R, p, R_gates, cell, hcell, acts, ctx.flags)
        steps, batch, width = dpre.shape
        hidden = R.shape[1]
        d_rows = dpre.view(steps * batch, width)

        grad_R = None
        if ctx.needs_input_grad[1]:
            y_prev = _shift_in_time(y).view(steps * batch, hidden)
            grad_R = d_rows.t() @ y_prev

        grad_p = None
        if p is not None and ctx.needs_input_grad[2]:
            # input/forget peepholes see c_{t-1}, the output peephole sees c_t
            c_prev = _shift_in_time(cell)
            rows = []
            for gate in spec.peephole_gates:
                block = spec.gate_blocks.index(gate)
                delta = dpre[..., block * hidden : (block + 1) * hidden]
                rows.append((delta * (cell if gate == "o" else c_prev)).sum((0, 1)))
            grad_p = torch.stack(rows)

        grad_R_gates = None
        if R_gates is not None and ctx.needs_input_grad[3]:
            # blocks are z, i, f, o, so [i, f, o] is everything after the first H columns
            gates_prev = _shift_in_time(acts)[..., hidden:].reshape(steps * batch, 3 * hidden)
            grad_R_gates = d_rows[:, hidden:].t() @ gates_prev

        return dpre, grad_R, grad_p, grad_R_gates, None, None


def _shift_in_time(sequence: Tensor) -> Tensor:
    """(T, B, ...) -> the same one step later in time, zero at t = 0 (the ' values)."""
    return torch.cat([torch.zeros_like(sequence[:1]), sequence[:-1]])


def _usable_ops(x: Tensor, announce: bool) -> Any:
    """The kernel's ops if they can run on x, else None (warning once if ``announce``)."""
    if x.device.type != "cpu" or x.dtype not in SUPPORTED_DTYPES:
        if announce:
            _warn_once(
                f"{x.device.type}-{x.dtype}",
                f"lstm_odyssey: the fused LSTM kernel runs on CPU float32/float64 only; "
                f"using the reference implementation for {x.device.type} {x.dtype}",
            )
        return None
    return _EXTENSION.ops()


def _run_fused(layer: VariantLSTM, x: Tensor, ops: Any) -> Tensor:
    steps, batch, features = x.shape
    projection = torch.addmm(layer.b, x.reshape(-1, features), layer.W.t())
    projection = projection.view(steps, batch, -1)
    return FusedRecurrence.apply(projection, layer.R, layer.p, layer.R_gates, layer.spec, ops)


def run_fast(layer: VariantLSTM, x: Tensor) -> Tensor:
    """Forward-in-time recurrence over (T, B, I) with the fused kernel."""
    ops = _usable_ops(x, announce=True)
    if ops is None:
        return run_reference(layer, x)
    return _run_fused(layer, x, ops)


def run_auto(layer: VariantLSTM, x: Tensor) -> Tensor:
    """The fused kernel where it can run, the reference elsewhere (e.g. on CUDA)."""
    ops = _usable_ops(x, announce=False)
    if ops is None:
        return run_reference(layer, x)
    return _run_fused(layer, x, ops)


IMPLEMENTATIONS["fast"] = run_fast
IMPLEMENTATIONS["auto"] = run_auto

__all__ = ["FusedRecurrence", "compile_extension", "fast_available", "run_auto", "run_fast"]
