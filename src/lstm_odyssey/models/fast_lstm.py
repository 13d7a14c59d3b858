"""Fused CPU implementation of the variant LSTM layer (``models.layer.VariantLSTM``).

The paper trains on one sequence per update, so every time step is a
matrix-vector product and a handful of element-wise operations; a Python loop
over time (the reference) spends nearly all its time in dispatch overhead. Here
the loop over time runs in C++ (``csrc/fused_lstm.cpp``) for both the forward
and the backward pass, wrapped in one :class:`torch.autograd.Function`:

* ``W x + b`` for all steps is one GEMM;
* the recurrence (``R y'``, ``R_gates [i', f', o']``, gates, cell, output) is one
  call forward and one call backward, the latter returning d(pre-activations);
* ``dW`` and ``dR`` are then one GEMM over all steps, ``dR_gates`` another, ``dx``
  a third; ``db`` and ``dp`` are reductions.

The same extension holds the GRU's fused kernel (``csrc/fused_gru.cpp``, wrapped by
``models.fast_gru``); both include ``csrc/kernel_common.h`` (squashing functions, the packed
matrix-vector product, the instruction-set dispatch), so a compile error in any of them fails the
one build, for both cells.

The extension is compiled on first use (about 15 s, needs a C++ compiler and
``ninja``) with :func:`torch.utils.cpp_extension.load` into torch's extension
cache (``$TORCH_EXTENSIONS_DIR``, default ``~/.cache/torch_extensions``), then
loaded from there in a fraction of a second. The build's name carries a hash of
the sources, flags and versions, so an edited kernel is rebuilt; concurrent first
uses (parallel Snakemake jobs) wait on torch's file lock for the one build.

A failed build is remembered with its reason (for a compile error, the compiler's
output): :func:`fast_available` says False and the layer warns once and runs the
reference, while :func:`require_kernel` raises :class:`KernelBuildError` with that
reason and :func:`kernel_build_error` returns it, so tests and records can show it.

When the kernel runs (``implementation`` "fast"/"auto", CPU float32/float64, a
successful build) is decided by ``models.implementations.resolve_implementation``.
This module reads the layer through ``variants.VariantParameters`` only.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from lstm_odyssey.io import atomic_path
from lstm_odyssey.models.variants import VariantParameters, VariantSpec

SOURCE_DIR = Path(__file__).parent / "csrc"
# -O3 for auto-vectorisation; no -march=native (the kernel picks AVX2 or AVX-512 itself),
# -fno-trapping-math lets the compiler vectorise the branch-free exp/tanh.
COMPILE_FLAGS = ("-O3", "-fno-trapping-math", "-fno-math-errno")
KERNEL_ISA_VARIABLE = "LSTM_ODYSSEY_KERNEL_ISA"
KERNEL_ISA_CAPS = ("baseline", "avx2", "avx512")
"""Values of $LSTM_ODYSSEY_KERNEL_ISA: the highest x86 path the kernel may take (unset: the best
this CPU supports). Tests and benchmarks use it to run every lower path on one machine."""
# a first build takes ~15 s; a lock this old belongs to a build that was killed
STALE_LOCK_SECONDS = 600

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


def build_directory(name: str) -> Path:
    """Where the kernel is built and cached: ``$TORCH_EXTENSIONS_DIR`` as torch does."""
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or Path.home() / ".cache" / "torch_extensions"
    return Path(root) / name


def _remove_stale_lock(directory: Path) -> None:
    """Drop a build lock left by a killed process; torch would wait for it forever."""
    lock = directory / "lock"
    try:
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return
    if age > STALE_LOCK_SECONDS:
        warnings.warn(
            f"lstm_odyssey: removing a {age / 60:.0f}-minute-old build lock {lock} "
            "(a build was interrupted)",
            RuntimeWarning,
            stacklevel=3,
        )
        lock.unlink(missing_ok=True)


def _sources_in_cache(sources: list[Path], directory: Path) -> list[Path]:
    """Copies of `sources` inside the (content-named) build directory, to build from.

    torch's build file records the sources' absolute paths; building from the checkout would
    make every checkout's build differ from the cached one and evict it (a 30-60 s rebuild,
    sometimes inside a training job). The copies are the same for every checkout.
    """
    copies = []
    for source in sources:
        copy = directory / "sources" / source.name
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            with atomic_path(copy) as temporary:
                shutil.copyfile(source, temporary)
        copies.append(copy)
    return copies


def compiler_on_path() -> str | None:
    """The C++ compiler torch builds with ($CXX, else ``c++``) as found on PATH, or None."""
    command = os.environ.get("CXX") or "c++"
    words = shlex.split(command)
    return shutil.which(words[0]) if words else None


def compile_extension(source_dir: Path | None = None) -> Any:
    """Build (or reuse the cached build of) the kernel from the ``*.cpp`` files in `source_dir`
    (default: :data:`SOURCE_DIR`: the LSTM's and the GRU's kernels, one extension, one op
    namespace; ``*.h`` there are shared headers) and return its op namespace.

    Raises what the build raises; for a compile error a RuntimeError whose message carries the
    compiler's output. The extension's name (and so its build directory) comes from a hash of
    the sources, so a different source tree never touches the cached build of this one.
    """
    from torch.utils import cpp_extension

    source_dir = SOURCE_DIR if source_dir is None else source_dir
    sources = sorted(source_dir.glob("*.cpp"))
    if not sources:
        raise FileNotFoundError(f"no C++ sources under {source_dir}")
    headers = sorted(source_dir.glob("*.h"))
    # the name pins the sources and headers, flags, torch and Python versions, so a cached
    # build is reused only when it is exactly this one
    digest = hashlib.sha256()
    for source in [*sources, *headers]:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    digest.update(" ".join((torch.__version__, python, *COMPILE_FLAGS)).encode())
    name = f"lstm_odyssey_fused_{digest.hexdigest()[:16]}"
    directory = build_directory(name)
    directory.mkdir(parents=True, exist_ok=True)
    # The `ninja` wheel puts its binary beside this interpreter, which need not be on PATH
    # (e.g. `.venv/bin/snakemake` run without activating the venv).
    interpreter_bin = str(Path(sys.executable).parent)
    if interpreter_bin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = interpreter_bin + os.pathsep + os.environ.get("PATH", "")
    _remove_stale_lock(directory)
    _sources_in_cache(headers, directory)  # beside the copied sources, where #include finds them
    cpp_extension.load(
        name=name,
        sources=[str(source) for source in _sources_in_cache(sources, directory)],
        extra_cflags=list(COMPILE_FLAGS),
        build_directory=str(directory),
        is_python_module=False,
        verbose=False,
    )
    return torch.ops.lstm_odyssey_fused


class KernelBuildError(RuntimeError):
    """The fused kernel could not be built; the message says why (the compiler's output)."""


class _Extension:
    """Compiles the kernel at most once per process and remembers a failure and its reason."""

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

    def error(self) -> BaseException | None:
        """Why the build failed (after :meth:`ops` tried), or None."""
        return self._error

    def require(self) -> Any:
        """The op namespace; a failed build raises :class:`KernelBuildError` with its reason."""
        ops = self.ops()
        if ops is None:
            error = self._error
            raise KernelBuildError(
                f"the fused LSTM kernel could not be built: {type(error).__name__}: {error}"
            ) from error
        return ops


_EXTENSION = _Extension()


def fast_available() -> bool:
    """True when the fused kernel builds/loads on this machine (compiles on first call)."""
    return _EXTENSION.ops() is not None


def require_kernel() -> Any:
    """The kernel's op namespace, built on first call; raises :class:`KernelBuildError` with the
    build's error (the compiler's message for a compile error) instead of falling back."""
    return _EXTENSION.require()


def kernel_build_error() -> str | None:
    """Why the kernel could not be built, once a build was tried and failed; otherwise None.
    Builds nothing: ask after :func:`fast_available` or a forward pass."""
    error = _EXTENSION.error()
    return None if error is None else f"{type(error).__name__}: {error}"


class FusedLSTMFunction(torch.autograd.Function):
    """x (T, B, I) and a layer's parameters -> outputs y (T, B, H), forward in time."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        x: Tensor,
        W: Tensor,
        b: Tensor,
        R: Tensor,
        p: Tensor | None,
        R_gates: Tensor | None,
        spec: VariantSpec,
        ops: Any,
    ) -> Tensor:
        steps, batch, features = x.shape
        flags = variant_flags(spec)
        projection = torch.addmm(b, x.reshape(steps * batch, features), W.t())
        y, cell, hcell, acts = ops.forward(projection.view(steps, batch, -1), R, p, R_gates, flags)
        ctx.save_for_backward(x, W, R, p, R_gates, y, cell, hcell, acts)
        ctx.spec = spec
        ctx.flags = flags
        ctx.ops = ops
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Tensor) -> tuple[Tensor | None, ...]:
        x, W, R, p, R_gates, y, cell, hcell, acts = ctx.saved_tensors
        spec: VariantSpec = ctx.spec
        needs = ctx.needs_input_grad
        dpre = ctx.ops.backward(grad_y, R, p, R_gates, cell, hcell, acts, ctx.flags)
        steps, batch, width = dpre.shape
        features, hidden = x.shape[2], R.shape[1]
        d_rows = dpre.view(steps * batch, width)

        grad_x = (d_rows @ W).view(steps, batch, features) if needs[0] else None
        grad_b = d_rows.sum(0) if needs[2] else None
        grad_W = grad_R = None
        if needs[1] or needs[3]:
            # dW and dR in one GEMM over all steps: [x_t, y_{t-1}]^T d_t
            inputs = torch.cat([x, _shift_in_time(y)], dim=2).view(steps * batch, -1)
            grad_WR = (inputs.t() @ d_rows).t()
            grad_W, grad_R = grad_WR[:, :features], grad_WR[:, features:]

        grad_p = None
        if p is not None and needs[4]:
            # input/forget peepholes see c_{t-1}, the output peephole sees c_t
            c_prev = _shift_in_time(cell)
            rows = []
            for gate in spec.peephole_gates:
                block = spec.gate_blocks.index(gate)
                delta = dpre[..., block * hidden : (block + 1) * hidden]
                rows.append((delta * (cell if gate == "o" else c_prev)).sum((0, 1)))
            grad_p = torch.stack(rows)

        grad_R_gates = None
        if R_gates is not None and needs[5]:
            # blocks are z, i, f, o, so [i, f, o] is everything after the first H columns
            gates_prev = _shift_in_time(acts)[..., hidden:].reshape(steps * batch, 3 * hidden)
            grad_R_gates = (gates_prev.t() @ d_rows[:, hidden:]).t()

        return grad_x, grad_W, grad_b, grad_R, grad_p, grad_R_gates, None, None


def _shift_in_time(sequence: Tensor) -> Tensor:
    """(T, B, ...) -> the same one step later in time, zero at t = 0 (the ' values)."""
    return torch.cat([torch.zeros_like(sequence[:1]), sequence[:-1]])


def isa_cap() -> str | None:
    """$LSTM_ODYSSEY_KERNEL_ISA, checked here: the kernel ignores values it does not know."""
    cap = os.environ.get(KERNEL_ISA_VARIABLE) or None
    if cap is not None and cap not in KERNEL_ISA_CAPS:
        raise ValueError(f"${KERNEL_ISA_VARIABLE}={cap!r}; expected one of {KERNEL_ISA_CAPS}")
    return cap


def kernel_ops() -> Any:
    """The extension's op namespace (the LSTM's ops and the GRU's ``gru_forward``,
    ``gru_backward``), built on first call; None when the build failed (warned about once)."""
    return _EXTENSION.ops()


def kernel_isa() -> str | None:
    """The instruction-set path the fused kernel's loops take now: `avx512`, `avx2`, `baseline`
    (x86-64 without AVX2 and FMA, or capped there) or `portable` (not x86); None without the
    kernel. Benchmarks print it and trial records carry it: speed differs 5-20x between them."""
    isa_cap()
    ops = _EXTENSION.ops()
    return None if ops is None else str(ops.kernel_isa())


def run_fused(layer: VariantParameters, x: Tensor) -> Tensor:
    """Forward-in-time recurrence over (T, B, I) with the fused kernel (CPU float32/64 only;
    `implementations.resolve_implementation` decides when it runs)."""
    isa_cap()
    ops = _EXTENSION.ops()
    return FusedLSTMFunction.apply(
        x, layer.W, layer.b, layer.R, layer.p, layer.R_gates, layer.spec, ops
    )


__all__ = [
    "KERNEL_ISA_VARIABLE",
    "FusedLSTMFunction",
    "KernelBuildError",
    "compile_extension",
    "compiler_on_path",
    "fast_available",
    "isa_cap",
    "kernel_build_error",
    "kernel_isa",
    "kernel_ops",
    "require_kernel",
    "run_fused",
]
