"""The nine LSTM configurations of Greff et al. (2017) and their reference step.

A configuration is data (:class:`VariantSpec`): which gates exist, which squashing
functions are used, whether there are peepholes and gate-to-gate recurrence.
:func:`reference_step` is the paper's equation (1) for one time step of any of them
(``'`` = previous step)::

    z = g(W_z x + R_z y' + b_z)                      block input
    i = sigmoid(W_i x + R_i y' + p_i * c' + b_i)     input gate
    f = sigmoid(W_f x + R_f y' + p_f * c' + b_f)     forget gate
    c = z * i + c' * f                               cell state
    o = sigmoid(W_o x + R_o y' + p_o * c + b_o)      output gate (peeks at the NEW c)
    y = h(c) * o                                     block output

with g = h = tanh and y, c starting at zero. The variants change it as follows:
NIG i = 1; NFG f = 1; NOG o = 1; NIAF g = identity; NOAF h = identity; NP no
peepholes; CIFG f = 1 - i; FGR every gate also sees the previous i', f', o'.

Parameter layout (stable: the fused kernel in ``fast_lstm`` reads it too), held by
the layer (``models.layer.VariantLSTM``) and described by :class:`VariantParameters`:

* ``W`` (G*H x I), ``R`` (G*H x H), ``b`` (G*H): H-row blocks in the order
  z, i, f, o, leaving out the gates a variant lacks (``spec.gate_blocks``);
  G = number of blocks.
* ``p`` (P x H): one peephole row per present gate, in the order i, f, o
  (``spec.peephole_gates``); ``None`` (no parameter at all) for NP.
* ``R_gates`` (3H x 3H), FGR only: previous [i, f, o] activations to current
  [i, f, o] pre-activations; ``None`` for the others.

A variant holds exactly the parameters it uses, so the parameter count is the
closed form in :func:`parameter_count`.

Inputs are time-major (T, B, I) as in ``torch.nn.LSTM``. :func:`run_reference` is
the readable implementation of the time loop (a Python loop over
:func:`reference_step`); the fused kernel (``models.fast_lstm``) computes the same
function and is tested against it; ``models.implementations`` picks which one runs.
This module imports neither: every other module of ``models`` builds on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

import torch
from torch import Tensor

# The configurations themselves are torch-free data (tables, the CLI and the config check read
# them without torch); this module adds what running them needs.
from lstm_odyssey.variant_specs import VARIANTS, Activation, VariantSpec, get_variant

_ACTIVATIONS: dict[Activation, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "identity": lambda v: v,
}


def parameter_count(variant: str | VariantSpec, input_size: int, hidden_size: int) -> int:
    """Closed-form number of parameters of one layer of `variant`."""
    spec = get_variant(variant)
    blocks = len(spec.gate_blocks)
    count = blocks * hidden_size * (input_size + hidden_size + 1)
    count += len(spec.peephole_gates) * hidden_size
    if spec.gate_recurrence:
        count += (3 * hidden_size) ** 2
    return count


class VariantParameters(Protocol):
    """What an implementation reads from a layer: its configuration, H and the parameters
    in the layout above (``p`` and ``R_gates`` are None where the variant has none)."""

    spec: VariantSpec
    hidden_size: int
    W: Tensor
    R: Tensor
    b: Tensor
    p: Tensor | None
    R_gates: Tensor | None


class LSTMState(NamedTuple):
    """What one step hands to the next: output y, cell c, gate activations (FGR)."""

    y: Tensor
    c: Tensor
    gates: Tensor | None  # (B, 3H) previous [i, f, o], only for gate recurrence


def initial_state(
    layer: VariantParameters,
    batch_size: int,
    dtype: torch.dtype | None = None,
    device: torch.device | None = None,
) -> LSTMState:
    """Zero y and c (and zero previous gate activations for FGR)."""
    zeros = torch.zeros(batch_size, layer.hidden_size, dtype=dtype, device=device)
    gates = None
    if layer.spec.gate_recurrence:
        gates = torch.zeros(batch_size, 3 * layer.hidden_size, dtype=dtype, device=device)
    return LSTMState(zeros, zeros, gates)


def peephole(layer: VariantParameters, gate: str) -> Tensor | float:
    """p_gate, or 0 when the variant has no peephole on that gate."""
    if gate not in layer.spec.peephole_gates:
        return 0.0
    return layer.p[layer.spec.peephole_gates.index(gate)]


def reference_step(
    layer: VariantParameters, input_projection: Tensor, state: LSTMState
) -> LSTMState:
    """Equation (1) for one time step; ``input_projection`` is W x_t + b, (B, G*H)."""
    spec = layer.spec
    g = _ACTIVATIONS[spec.block_input_activation]
    h = _ACTIVATIONS[spec.output_activation]
    y_prev, c_prev = state.y, state.c

    # W x + R y' + b for every block z, i, f, o present (W x + b precomputed)
    pre_activations = input_projection + y_prev @ layer.R.t()
    pre = dict(zip(spec.gate_blocks, pre_activations.split(layer.hidden_size, 1), strict=True))
    if spec.gate_recurrence:  # FGR: i', f', o' feed every gate
        from_gates = (state.gates @ layer.R_gates.t()).split(layer.hidden_size, 1)
        for gate, extra in zip(spec.gate_names, from_gates, strict=True):
            pre[gate] = pre[gate] + extra

    z = g(pre["z"])
    i = torch.sigmoid(pre["i"] + peephole(layer, "i") * c_prev) if spec.input_gate else 1.0
    if spec.coupled_input_forget:
        f = 1.0 - i
    elif spec.forget_gate:
        f = torch.sigmoid(pre["f"] + peephole(layer, "f") * c_prev)
    else:
        f = 1.0
    c = z * i + c_prev * f
    o = torch.sigmoid(pre["o"] + peephole(layer, "o") * c) if spec.output_gate else 1.0
    y = h(c) * o

    gates = torch.cat([i, f, o], dim=1) if spec.gate_recurrence else None
    return LSTMState(y, c, gates)


def run_reference(layer: VariantParameters, x: Tensor) -> Tensor:
    """Forward-in-time recurrence over (T, B, I): one matmul for all W x, then a loop."""
    input_projection = torch.addmm(layer.b, x.reshape(-1, x.shape[-1]), layer.W.t())
    input_projection = input_projection.view(x.shape[0], x.shape[1], -1)
    state = initial_state(layer, x.shape[1], dtype=x.dtype, device=x.device)
    outputs = []
    for projection_t in input_projection:
        state = reference_step(layer, projection_t, state)
        outputs.append(state.y)
    return torch.stack(outputs)


__all__ = [
    "LSTMState",
    "VARIANTS",
    "VariantParameters",
    "VariantSpec",
    "get_variant",
    "initial_state",
    "parameter_count",
    "peephole",
    "reference_step",
    "run_reference",
]
