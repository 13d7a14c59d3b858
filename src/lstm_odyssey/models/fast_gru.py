"""Fused CPU implementation of the GRU layer (``models.gru``, torch's formulation).

The same design as ``fast_lstm``, in the same extension (``csrc/fused_gru.cpp``, built with the
LSTM's kernel by :func:`fast_lstm.compile_extension`, so one build, one cache, one failure
reason, the same instruction-set paths and ``$LSTM_ODYSSEY_KERNEL_ISA`` cap):

* ``W x + b`` for all steps is one GEMM;
* the recurrence (``R h'``, gates, candidate, output) is one C++ call forward and one backward,
  the latter returning the deltas of ``W x + b`` and of ``R h'``;
* ``dW``, ``dR`` and ``dx`` are then one GEMM each over all steps; ``db`` and ``db_Rn`` are
  reductions.

float32 uses the LSTM kernel's vectorised sigmoid/tanh (about 1 ulp), float64 libm. When it runs
(``implementation`` "fast"/"auto", CPU float32/float64, a successful build; torch's fused GRU
elsewhere) is decided by ``models.implementations``. This module reads the layer through
``gru.GRUParameters`` only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from lstm_odyssey.models.fast_lstm import isa_cap, kernel_ops
from lstm_odyssey.models.gru import GRUParameters


class FusedGRUFunction(torch.autograd.Function):
    """x (T, B, I) and a GRU layer's parameters -> outputs h (T, B, H), forward in time."""

    @staticmethod
    def forward(
        ctx: FunctionCtx, x: Tensor, W: Tensor, b: Tensor, R: Tensor, b_Rn: Tensor, ops: Any
    ) -> Tensor:
        steps, batch, features = x.shape
        projection = torch.addmm(b, x.reshape(steps * batch, features), W.t())
        h, acts = ops.gru_forward(projection.view(steps, batch, -1), R, b_Rn)
        ctx.save_for_backward(x, W, R, b_Rn, h, acts)
        ctx.ops = ops
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_h: Tensor) -> tuple[Tensor | None, ...]:
        x, W, R, b_Rn, h, acts = ctx.saved_tensors
        needs = ctx.needs_input_grad
        d_in, d_rec = ctx.ops.gru_backward(grad_h, R, b_Rn, h, acts)
        steps, batch, width = d_in.shape
        features, hidden = x.shape[2], R.shape[1]
        d_in_rows = d_in.view(steps * batch, width)
        d_rec_rows = d_rec.view(steps * batch, width)

        grad_x = (d_in_rows @ W).view(steps, batch, features) if needs[0] else None
        grad_W = (d_in_rows.t() @ x.reshape(steps * batch, features)) if needs[1] else None
        grad_b = d_in_rows.sum(0) if needs[2] else None
        grad_R = None
        if needs[3]:
            h_prev = torch.cat([torch.zeros_like(h[:1]), h[:-1]]).view(steps * batch, hidden)
            grad_R = d_rec_rows.t() @ h_prev
        grad_b_Rn = d_rec_rows[:, 2 * hidden :].sum(0) if needs[4] else None
        return grad_x, grad_W, grad_b, grad_R, grad_b_Rn, None


def run_fused(layer: GRUParameters, x: Tensor) -> Tensor:
    """Forward-in-time recurrence over (T, B, I) with our fused kernel (CPU float32/64 and a
    successful build only; `implementations.run_forward_in_time` decides when it runs)."""
    isa_cap()
    return FusedGRUFunction.apply(x, layer.W, layer.b, layer.R, layer.b_Rn, kernel_ops())


__all__ = ["FusedGRUFunction", "run_fused"]
