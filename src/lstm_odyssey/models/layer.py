"""One recurrent layer as a PyTorch module: an LSTM in any configuration, or the GRU.

:class:`VariantLSTM` holds the parameters of a configuration in the layout stated in
``models.variants`` (where its reference step, equation (1), lives); :class:`GRULayer` holds
the GRU's in the layout of ``models.gru``. Both draw them as the paper does and run a
(T, B, I) batch in either direction with per-sequence lengths, alike (`_run_directed`).
The time loop itself is done by the implementation asked for by name
(``models.implementations``: the reference loop, our fused kernels, torch's fused GRU).
:func:`recurrent_layer` builds the one a spec names.

Imports point down: this module uses ``implementations``, ``variants`` and ``gru``;
``networks`` stacks its layers.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lstm_odyssey.models import gru
from lstm_odyssey.models.implementations import check_implementation, run_forward_in_time
from lstm_odyssey.models.variants import (
    LSTMState,
    VariantSpec,
    get_variant,
    initial_state,
    parameter_count,
    reference_step,
)
from lstm_odyssey.variant_specs import GRU, CellSpec, GRUSpec, cell_spec


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
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight, bias and peephole from N(0, init_std) as in the paper."""
        for parameter in self.parameters():
            nn.init.normal_(parameter, mean=0.0, std=self.init_std)

    def initial_state(
        self, batch_size: int, dtype: torch.dtype | None = None, device: torch.device | None = None
    ) -> LSTMState:
        """Zero y and c (and zero previous gate activations for FGR)."""
        return initial_state(self, batch_size, dtype=dtype, device=device)

    def step(self, input_projection: Tensor, state: LSTMState) -> LSTMState:
        """Equation (1) for one time step (``variants.reference_step``); ``input_projection``
        is W x_t + b, (B, G*H)."""
        return reference_step(self, input_projection, state)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """(T, B, I) -> (T, B, H); ``lengths`` (B,) marks each sequence's valid steps."""
        return _run_directed(self, x, lengths)

    def extra_repr(self) -> str:
        return (
            f"variant={self.spec.name}, input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, reverse={self.reverse}, "
            f"implementation={self.implementation!r}"
        )


def _run_directed(
    layer: VariantLSTM | GRULayer, x: Tensor, lengths: Tensor | None = None
) -> Tensor:
    """A layer's (T, B, I) -> (T, B, H) in its direction; outputs at padded steps are zero."""
    if lengths is not None:
        _check_lengths(lengths, x)
    if layer.reverse:
        x = reverse_padded(x, lengths)
    # Forward in time over every step; reversal, lengths and masking are handled here.
    y = run_forward_in_time(layer, layer.implementation, x)
    if layer.reverse:
        y = reverse_padded(y, lengths)
    if lengths is not None:
        mask = padding_mask(lengths.to(device=y.device), y.shape[0])
        y = y * mask.unsqueeze(-1).to(y.dtype)
    return y


class GRULayer(nn.Module):
    """One GRU layer (``models.gru``: torch's formulation, reset gate after the recurrent
    product); (T, B, I) -> (T, B, H), directions and lengths as :class:`VariantLSTM`."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        reverse: bool = False,
        init_std: float = 0.1,
        implementation: str = "reference",
    ) -> None:
        super().__init__()
        check_implementation(implementation)
        self.spec = GRU
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.reverse = reverse
        self.init_std = init_std
        self.implementation = implementation

        blocks = len(gru.BLOCKS)
        self.W = nn.Parameter(torch.empty(blocks * hidden_size, input_size))
        self.R = nn.Parameter(torch.empty(blocks * hidden_size, hidden_size))
        self.b = nn.Parameter(torch.empty(blocks * hidden_size))
        self.b_Rn = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from N(0, init_std), as for the LSTMs."""
        for parameter in self.parameters():
            nn.init.normal_(parameter, mean=0.0, std=self.init_std)

    def step(self, input_projection: Tensor, h_prev: Tensor) -> Tensor:
        """One time step (``gru.reference_step``); ``input_projection`` is W x_t + b, (B, 3H)."""
        return gru.reference_step(self, input_projection, h_prev)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """(T, B, I) -> (T, B, H); ``lengths`` (B,) marks each sequence's valid steps."""
        return _run_directed(self, x, lengths)

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"reverse={self.reverse}, implementation={self.implementation!r}"
        )


def recurrent_layer(
    variant: str | CellSpec,
    input_size: int,
    hidden_size: int,
    reverse: bool = False,
    init_std: float = 0.1,
    implementation: str = "reference",
) -> VariantLSTM | GRULayer:
    """The layer `variant` names: a :class:`GRULayer` for the GRU, else a :class:`VariantLSTM`."""
    spec = cell_spec(variant)
    if isinstance(spec, GRUSpec):
        return GRULayer(input_size, hidden_size, reverse, init_std, implementation)
    return VariantLSTM(spec, input_size, hidden_size, reverse, init_std, implementation)


def layer_parameter_count(variant: str | CellSpec, input_size: int, hidden_size: int) -> int:
    """Closed-form number of parameters of the layer `variant` names."""
    spec = cell_spec(variant)
    if isinstance(spec, GRUSpec):
        return gru.parameter_count(input_size, hidden_size)
    return parameter_count(spec, input_size, hidden_size)


__all__ = [
    "GRULayer",
    "VariantLSTM",
    "layer_parameter_count",
    "padding_mask",
    "recurrent_layer",
    "reverse_padded",
]
