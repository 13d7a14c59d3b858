"""The nine LSTM configurations of Greff et al. (2017) as one PyTorch layer.

A configuration is data (:class:`VariantSpec`): which gates exist, which squashing
functions are used, whether there are peepholes and gate-to-gate recurrence. One
layer class, :class:`VariantLSTM`, reads that data; its :meth:`VariantLSTM.step`
is the paper's equation (1) for one time step (``'`` = previous step)::

    z = g(W_z x + R_z y' + b_z)                      block input
    i = sigmoid(W_i x + R_i y' + p_i * c' + b_i)     input gate
    f = sigmoid(W_f x + R_f y' + p_f * c' + b_f)     forget gate
    c = z * i + c' * f                               cell state
    o = sigmoid(W_o x + R_o y' + p_o * c + b_o)      output gate (peeks at the NEW c)
    y = h(c) * o                                     block output

with g = h = tanh and y, c starting at zero. The variants change it as follows:
NIG i = 1; NFG f = 1; NOG o = 1; NIAF g = identity; NOAF h = identity; NP no
peepholes; CIFG f = 1 - i; FGR every gate also sees the previous i', f', o'.

Parameter layout (stable: the fused kernel in ``fast_lstm`` reads it):

* ``W`` (G*H x I), ``R`` (G*H x H), ``b`` (G*H): H-row blocks in the order
  z, i, f, o, leaving out the gates a variant lacks (``spec.gate_blocks``);
  G = number of blocks.
* ``p`` (P x H): one peephole row per present gate, in the order i, f, o
  (``spec.peephole_gates``); ``None`` (no parameter at all) for NP.
* ``R_gates`` (3H x 3H), FGR only: previous [i, f, o] activations to current
  [i, f, o] pre-activations; ``None`` for the others.

A variant holds exactly the parameters it uses, so the parameter count is the
closed form in :func:`parameter_count`.

Inputs are time-major (T, B, I) as in ``torch.nn.LSTM``. The time loop is done by
an implementation chosen by name (``models.implementations``); only ``"reference"``
(a Python loop over :meth:`VariantLSTM.step`) lives here. The fused kernel
(``models.fast_lstm``) computes the same function and is tested against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn

# The configurations themselves are torch-free data (tables, the CLI and the config check read
# them without torch); this module is the layer that runs them.
from lstm_odyssey.models.implementations import check_implementation, run_forward_in_time
from lstm_odyssey.variant_specs import VARIANTS, Activation, VariantSpec, get_variant

__all__ = ["VARIANTS", "VariantLSTM", "VariantSpec", "get_variant", "parameter_count"]

_ACTIVATIONS: dict[Activation, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "identity": lambda v: v,
}


def parameter_count(variant: str | VariantSpec, input_size: int, hidden_size: int) -> int:
    """Closed-form number of parameters of one :class:`VariantLSTM` layer."""
    spec = get_variant(variant)
    blocks = len(spec.gate_blocks)
    count = blocks * hidden_size * (input_size + hidden_size + 1)
    count += len(spec.peephole_gates) * hidden_size
    if spec.gate_recurrence:
        count += (3 * hidden_size) ** 2
    return count


class LSTMState(NamedTuple):
    """What one step hands to the next: output y, cell c, gate activations (FGR)."""

    y: Tensor
    c: Tensor
    gates: Tensor | None  # (B, 3H) previous [i, f, o], only for gate recurrence


def reverse_padded(x: Tensor, lengths: Tensor | None = None) -> Tensor:
    """Reverse each sequence of a (T, B, ...) batch within its own length.

    Padded positions (t >= length) stay where they are. Applying it twice is the
    identity, so it turns a reverse-direction layer into a forward one and back.
    """
    if lengths is None:
        return x.flip(0)
    steps = x.shape[0]
    lengths = lengths.to(device=x.device, dtype=torch.long)
    time = torch.arange(steps, device=x.device).unsqueeze(1)  # (T, 1)
    source = torch.where(time < lengths, lengths - 1 - time, time)  # (T, B)
    source = source.view(steps, -1, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, source)


def padding_mask(lengths: Tensor, steps: int) -> Tensor:
    """Boolean (T, B) mask, True at valid steps (t < length)."""
    time = torch.arange(steps, device=lengths.device).unsqueeze(1)
    return time < lengths.unsqueeze(0)


def _check_lengths(lengths: Tensor, x: Tensor) -> None:
    """Lengths must be one per sequence, each between 1 and T."""
    if lengths.shape != (x.shape[1],):
        raise ValueError(f"lengths must have shape ({x.shape[1]},), got {tuple(lengths.shape)}")
    if lengths.min() < 1 or lengths.max() > x.shape[0]:
        raise ValueError(f"lengths must lie in [1, {x.shape[0]}], got {lengths.tolist()}")


def run_reference(layer: VariantLSTM, x: Tensor) -> Tensor:
    """Forward-in-time recurrence over (T, B, I): one matmul for all W x, then a loop."""
    input_projection = torch.addmm(layer.b, x.reshape(-1, x.shape[-1]), layer.W.t())
    input_projection = input_projection.view(x.shape[0], x.shape[1], -1)
    state = layer.initial_state(x.shape[1], dtype=x.dtype, device=x.device)
    outputs = []
    for projection_t in input_projection:
        state = layer.step(projection_t, state)
        outputs.append(state.y)
    return torch.stack(outputs)


class VariantLSTM(nn.Module):
    """One LSTM layer in any of the nine configurations; (T, B, I) -> (T, B, H).

    ``reverse=True`` runs backwards in time; with ``lengths`` each sequence starts
    from its own last valid step. Outputs at padded positions are zero.
    """

    def __init__(
        self,
        variant: str | VariantSpec,
        input_size: int,
        hidden_size: int,
        reverse: bool = False,
        init_std: float = 0.1,
        implementation: str = "reference",
    ) -> None:
        super().__init__()
        check_implementation(implementation)
        self.spec = get_variant(variant)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.reverse = reverse
        self.init_std = init_std
        self.implementation = implementation

        blocks = len(self.spec.gate_blocks)
        self.W = nn.Parameter(torch.empty(blocks * hidden_size, input_size))
        self.R = nn.Parameter(torch.empty(blocks * hidden_size, hidden_size))
        self.b = nn.Parameter(torch.empty(blocks * hidden_size))
        if self.spec.peepholes:
            self.p = nn.Parameter(torch.empty(len(self.spec.peephole_gates), hidden_size))
        else:
            self.register_parameter("p", None)
        if self.spec.gate_recurrence:
            self.R_gates = nn.Parameter(torch.empty(3 * hidden_size, 3 * hidden_size))
        else:
            self.register_parameter("R_gates", None)
        self._peephole_row = {gate: row for row, gate in enumerate(self.spec.peephole_gates)}
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight, bias and peephole from N(0, init_std) as in the paper."""
        for parameter in self.parameters():
            nn.init.normal_(parameter, mean=0.0, std=self.init_std)

    def initial_state(
        self, batch_size: int, dtype: torch.dtype | None = None, device: torch.device | None = None
    ) -> LSTMState:
        """Zero y and c (and zero previous gate activations for FGR)."""
        zeros = torch.zeros(batch_size, self.hidden_size, dtype=dtype, device=device)
        gates = None
        if self.spec.gate_recurrence:
            gates = torch.zeros(batch_size, 3 * self.hidden_size, dtype=dtype, device=device)
        return LSTMState(zeros, zeros, gates)

    def peephole(self, gate: str) -> Tensor | float:
        """p_gate, or 0 when the variant has no peepholes."""
        if gate not in self._peephole_row:
            return 0.0
        return self.p[self._peephole_row[gate]]

    def step(self, input_projection: Tensor, state: LSTMState) -> LSTMState:
        """Equation (1) for one time step; ``input_projection`` is W x_t + b, (B, G*H)."""
        spec = self.spec
        g = _ACTIVATIONS[spec.block_input_activation]
        h = _ACTIVATIONS[spec.output_activation]
        y_prev, c_prev = state.y, state.c

        # W x + R y' + b for every block z, i, f, o present (W x + b precomputed)
        pre_activations = input_projection + y_prev @ self.R.t()
        pre = dict(zip(spec.gate_blocks, pre_activations.split(self.hidden_size, 1), strict=True))
        if spec.gate_recurrence:  # FGR: i', f', o' feed every gate
            from_gates = (state.gates @ self.R_gates.t()).split(self.hidden_size, 1)
            for gate, extra in zip(spec.gate_names, from_gates, strict=True):
                pre[gate] = pre[gate] + extra

        z = g(pre["z"])
        i = torch.sigmoid(pre["i"] + self.peephole("i") * c_prev) if spec.input_gate else 1.0
        if spec.coupled_input_forget:
            f = 1.0 - i
        elif spec.forget_gate:
            f = torch.sigmoid(pre["f"] + self.peephole("f") * c_prev)
        else:
            f = 1.0
        c = z * i + c_prev * f
        o = torch.sigmoid(pre["o"] + self.peephole("o") * c) if spec.output_gate else 1.0
        y = h(c) * o

        gates = torch.cat([i, f, o], dim=1) if spec.gate_recurrence else None
        return LSTMState(y, c, gates)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """(T, B, I) -> (T, B, H); ``lengths`` (B,) marks each sequence's valid steps."""
        if lengths is not None:
            _check_lengths(lengths, x)
        if self.reverse:
            x = reverse_padded(x, lengths)
        # Forward in time over every step; reversal, lengths and masking are handled here.
        y = run_forward_in_time(self, x)
        if self.reverse:
            y = reverse_padded(y, lengths)
        if lengths is not None:
            mask = padding_mask(lengths.to(device=y.device), y.shape[0])
            y = y * mask.unsqueeze(-1).to(y.dtype)
        return y

    def extra_repr(self) -> str:
        return (
            f"variant={self.spec.name}, input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, reverse={self.reverse}, "
            f"implementation={self.implementation!r}"
        )


__all__ = [
    "LSTMState",
    "VARIANTS",
    "VariantLSTM",
    "VariantSpec",
    "get_variant",
    "padding_mask",
    "parameter_count",
    "reverse_padded",
    "run_reference",
]
