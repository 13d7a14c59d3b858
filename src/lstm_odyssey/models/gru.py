"""The gated recurrent unit (GRU) under the study's protocol: its equations, its parameters and
its two implementations.

Which GRU
---------
Two formulations go by the name. Cho et al. (2014) apply the reset gate to the previous state
*before* the recurrent product, ``n = tanh(W_n x + R_n (r * h') + b_n)``. torch's ``nn.GRU`` and
cuDNN apply it *after* the product. This module uses the second: with r outside the product,
``R h'`` of all three blocks is one matrix product per step, which is what torch's fused GRU
(``torch._VF.gru``, the op ``nn.GRU`` calls: ATen's loop on CPU, cuDNN on CUDA) and our fused CPU
kernel (``models.fast_gru``) compute. Cho's formulation would need R_n applied to ``r * h'``
after r is known, a second product per step in both.

The equations (``'`` = previous step; h starts at zero)::

    r = sigmoid(W_r x + R_r h' + b_r)                 reset gate
    z = sigmoid(W_z x + R_z h' + b_z)                 update gate
    n = tanh(W_n x + b_n + r * (R_n h' + b_Rn))       candidate
    h = (1 - z) * n + z * h'                          output and state

Parameter layout (torch's order, so the fused op takes them as they are), described by
:class:`GRUParameters` and held by ``models.layer.GRULayer``:

* ``W`` (3H x I), ``R`` (3H x H), ``b`` (3H): H-row blocks r, z, n (torch's ``weight_ih_l0``,
  ``weight_hh_l0``, ``bias_ih_l0``);
* ``b_Rn`` (H): the candidate's recurrent bias inside ``r * (...)`` (torch's ``bias_hh_l0[2H:]``).

torch's other two recurrent biases (``bias_hh_l0[:2H]``, b_hr and b_hz) only add to b_r and b_z,
a second bias on the same sum, so they are no parameters here (the fused op is given zeros there)
and the count is the closed form of :func:`parameter_count`, 3H(I + H + 1) + H. Every parameter
is drawn from N(0, init_std), as for the LSTMs.

:func:`run_reference` is the readable time loop over :func:`reference_step`; :func:`run_fused`
is torch's fused GRU; ``models.fast_gru.run_fused`` is our fused CPU kernel (the LSTM kernel's
design and extension). ``models.implementations`` picks which one runs: on CPU float32/float64
``fast``/``auto`` is our kernel, elsewhere (CUDA: cuDNN) torch's. Tests check all three against
each other and against a NumPy transcription of the equations.

Speed at the paper's batch size 1 (``benchmarks/cell_speed.py``, H = 100, T = 300, I = 39, one
thread, forward + backward per sequence, on a shared 2-core AMD EPYC, AVX-512 path): our fused
GRU takes 2.2-2.9 ms, 0.63-0.70x the fused vanilla LSTM's time (it has three blocks to V's four
and no peepholes); torch's CPU GRU took 40-61 ms (11-15x V), the reference loop 85 ms.

This module imports neither the LSTM code nor the layer.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from lstm_odyssey.variant_specs import GRU, GRUSpec

BLOCKS = ("r", "z", "n")
"""Row blocks of ``W``, ``R`` and ``b``, in torch's order."""


def parameter_count(input_size: int, hidden_size: int) -> int:
    """Closed-form number of parameters of one GRU layer."""
    return len(BLOCKS) * hidden_size * (input_size + hidden_size + 1) + hidden_size


class GRUParameters(Protocol):
    """What an implementation reads from a GRU layer: H and the parameters in the layout above."""

    spec: GRUSpec
    hidden_size: int
    W: Tensor
    R: Tensor
    b: Tensor
    b_Rn: Tensor


def reference_step(layer: GRUParameters, input_projection: Tensor, h_prev: Tensor) -> Tensor:
    """The equations for one time step; ``input_projection`` is W x_t + b, (B, 3H)."""
    x_r, x_z, x_n = input_projection.split(layer.hidden_size, 1)
    h_r, h_z, h_n = (h_prev @ layer.R.t()).split(layer.hidden_size, 1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * (h_n + layer.b_Rn))
    return (1.0 - z) * n + z * h_prev


def run_reference(layer: GRUParameters, x: Tensor) -> Tensor:
    """Forward-in-time recurrence over (T, B, I): one matmul for all W x, then a loop."""
    input_projection = torch.addmm(layer.b, x.reshape(-1, x.shape[-1]), layer.W.t())
    input_projection = input_projection.view(x.shape[0], x.shape[1], -1)
    h = x.new_zeros(x.shape[1], layer.hidden_size)
    outputs = []
    for projection_t in input_projection:
        h = reference_step(layer, projection_t, h)
        outputs.append(h)
    return torch.stack(outputs)


def torch_gru_weights(layer: GRUParameters) -> list[Tensor]:
    """The layer's parameters as torch's GRU op takes them: weight_ih, weight_hh, bias_ih and
    bias_hh, the last with zeros for the redundant b_hr, b_hz."""
    recurrent_bias = torch.cat([layer.b_Rn.new_zeros(2 * layer.hidden_size), layer.b_Rn])
    return [layer.W, layer.R, layer.b, recurrent_bias]


def run_fused(layer: GRUParameters, x: Tensor) -> Tensor:
    """Forward-in-time recurrence over (T, B, I) by torch's fused GRU (any device torch's GRU
    runs on); gradients flow to W, R, b and b_Rn through torch's own backward."""
    h0 = x.new_zeros(1, x.shape[1], layer.hidden_size)
    # (input, hx, weights, has_biases, num_layers, dropout, train, bidirectional, batch_first);
    # `train` keeps what cuDNN's backward needs, so it follows whether gradients are recorded.
    y, _ = torch._VF.gru(
        x, h0, torch_gru_weights(layer), True, 1, 0.0, torch.is_grad_enabled(), False, False
    )
    return y


__all__ = [
    "BLOCKS",
    "GRU",
    "GRUParameters",
    "GRUSpec",
    "parameter_count",
    "reference_step",
    "run_fused",
    "run_reference",
    "torch_gru_weights",
]
