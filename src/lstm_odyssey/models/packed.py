"""K networks of one variant stepped together: equation (1) over stacked weights.

A pack holds the parameters of K :class:`~lstm_odyssey.models.networks.SequenceNetwork`\\ s of
one variant (same input and output size, same depth and directions) stacked along a leading
member dimension: ``W`` becomes (K, G*Hm, I), ``R`` (K, G*Hm, Hm), ``b`` (K, G*Hm), ``p``
(K, P, Hm), ``R_gates`` (K, 3Hm, 3Hm), the read-out (K, O, D*Hm). Each step is
:func:`~lstm_odyssey.models.variants.reference_step` with the matrix products batched over K
(``(K, 1, Hm) @ (K, Hm, G*Hm)``), so member k computes exactly what its own network would,
up to the order of floating-point sums.

Members of different hidden sizes H_k share Hm = max H_k: member k's units sit at the start of
each H-row block, the rest are zero. Zero-padded units stay zero (their block input, cell and
output are 0 whatever the gates do), so they change no real unit; their gradients are zero
too, and :meth:`PackedNetwork.mask_gradients` makes that exact.

Members of different sequence lengths share T = max T_k: a step past a member's length keeps
its state (``torch.where`` on the mask) and outputs zero, so padded steps change neither the
state nor (with the loss taken over valid steps only) the gradients.

Imports point down: this module uses ``layer`` (the padded reversal), ``networks`` and
``variants``; ``training.packed`` trains packs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from lstm_odyssey.models.layer import VariantLSTM, reverse_padded
from lstm_odyssey.models.networks import SequenceNetwork
from lstm_odyssey.models.variants import _ACTIVATIONS, LSTMState, VariantSpec


def block_positions(blocks: int, size: int, padded_size: int) -> Tensor:
    """Where `blocks` blocks of `size` units sit among blocks of `padded_size` units."""
    return (torch.arange(blocks)[:, None] * padded_size + torch.arange(size)[None, :]).reshape(-1)


@dataclass(frozen=True)
class Placement:
    """Where one member's parameter sits in the padded stacked one: its rows (and columns)."""

    rows: Tensor
    columns: Tensor | None  # None for a vector (a bias)

    def read(self, padded: Tensor) -> Tensor:
        """The member's parameter out of its padded slot (K dimension already taken)."""
        if self.columns is None:
            return padded[self.rows]
        return padded[self.rows[:, None], self.columns[None, :]]

    def write(self, padded: Tensor, value: Tensor | bool) -> None:
        if self.columns is None:
            padded[self.rows] = value
        else:
            padded[self.rows[:, None], self.columns[None, :]] = value


def _placements(
    network: SequenceNetwork, padded_hidden: int
) -> dict[str, tuple[tuple[int, ...], Placement]]:
    """Each parameter's padded shape and the member's placement in it, by parameter name."""
    hidden = network.hidden_size
    directions = 2 if network.bidirectional else 1
    out: dict[str, tuple[tuple[int, ...], Placement]] = {}
    for level_index, level in enumerate(network.levels):
        if level_index == 0:
            input_columns = torch.arange(network.input_size)
            padded_input = network.input_size
        else:
            input_columns = block_positions(directions, hidden, padded_hidden)
            padded_input = directions * padded_hidden
        for direction, layer in enumerate(level):
            prefix = f"levels.{level_index}.{direction}."
            blocks = len(layer.spec.gate_blocks)
            rows = block_positions(blocks, hidden, padded_hidden)
            units = torch.arange(hidden)
            out[prefix + "W"] = (
                (blocks * padded_hidden, padded_input),
                Placement(rows, input_columns),
            )
            out[prefix + "R"] = ((blocks * padded_hidden, padded_hidden), Placement(rows, units))
            out[prefix + "b"] = ((blocks * padded_hidden,), Placement(rows, None))
            if layer.p is not None:
                gates = layer.p.shape[0]
                out[prefix + "p"] = ((gates, padded_hidden), Placement(torch.arange(gates), units))
            if layer.R_gates is not None:
                gate_units = block_positions(3, hidden, padded_hidden)
                out[prefix + "R_gates"] = (
                    (3 * padded_hidden, 3 * padded_hidden),
                    Placement(gate_units, gate_units),
                )
    read_in = block_positions(directions, hidden, padded_hidden)
    outputs = torch.arange(network.output_size)
    out["output.weight"] = (
        (network.output_size, directions * padded_hidden),
        Placement(outputs, read_in),
    )
    out["output.bias"] = ((network.output_size,), Placement(outputs, None))
    return out


def check_packable(networks: Sequence[SequenceNetwork]) -> None:
    """Refuse networks a pack cannot step together, saying why."""
    if not networks:
        raise ValueError("a pack needs at least one network")
    first = networks[0]
    for network in networks:
        if not isinstance(network, SequenceNetwork) or not all(
            isinstance(layer, VariantLSTM) for level in network.levels for layer in level
        ):
            raise ValueError(
                f"packed training steps the LSTM variants only; {type(network).__name__} "
                "(e.g. a GRU) is not supported in a pack: use pack_size 1 for it"
            )
        shape = (network.spec, network.input_size, network.output_size)
        if shape != (first.spec, first.input_size, first.output_size) or (
            network.bidirectional,
            network.layers,
        ) != (first.bidirectional, first.layers):
            raise ValueError(
                "the networks of a pack must share variant, input and output size, depth "
                f"and directions; got {network.spec.name} {network.input_size}->"
                f"{network.output_size} and {first.spec.name} {first.input_size}->"
                f"{first.output_size}"
            )


class PackedNetwork:
    """The stacked parameters of K networks and their forward pass, (T, K, I) -> (T, K, O).

    Every stacked parameter is a leaf tensor with ``requires_grad``; ``parameters`` maps the
    member networks' parameter names (``levels.0.0.W``, ``output.weight``, ...) to them.
    """

    def __init__(
        self, networks: Sequence[SequenceNetwork], dtype: torch.dtype, device: torch.device
    ) -> None:
        check_packable(networks)
        first = networks[0]
        self.spec: VariantSpec = first.spec
        self.size = len(networks)
        self.bidirectional = first.bidirectional
        self.layers = first.layers
        self.hidden_sizes = [network.hidden_size for network in networks]
        self.padded_hidden = max(self.hidden_sizes)
        self.placements = [_placements(network, self.padded_hidden) for network in networks]
        self.parameters: dict[str, Tensor] = {}
        masks: dict[str, Tensor] = {}
        padded = any(h != self.padded_hidden for h in self.hidden_sizes)
        for name, (shape, _) in self.placements[0].items():
            stacked = torch.zeros((self.size, *shape), dtype=dtype, device=device)
            mask = torch.zeros((self.size, *shape), dtype=torch.bool, device=device)
            for k, network in enumerate(networks):
                value = network.get_parameter(name).detach().to(device=device, dtype=dtype)
                placement = self.placements[k][name][1]
                placement.write(stacked[k], value)
                if padded:
                    placement.write(mask[k], True)
            self.parameters[name] = stacked.requires_grad_()
            if padded:
                masks[name] = mask
        # Where some member is smaller than Hm: True at the entries that are real weights.
        self.gradient_masks = masks

    def member_tensors(self, k: int, stacked: dict[str, Tensor]) -> dict[str, Tensor]:
        """Member k's own tensors (its shapes) out of stacked ones laid out like the weights."""
        return {
            name: self.placements[k][name][1].read(tensor[k]) for name, tensor in stacked.items()
        }

    def write_member(self, k: int, network: SequenceNetwork) -> None:
        """Copy member k's current weights into its own network (exact: a copy, no arithmetic)."""
        with torch.no_grad():
            for name, value in self.member_tensors(k, self.parameters).items():
                network.get_parameter(name).copy_(value)

    def zero_grad(self) -> None:
        for tensor in self.parameters.values():
            tensor.grad = None

    def mask_gradients(self) -> None:
        """Zero the gradients of the padding (already zero in exact arithmetic; kept exact)."""
        for name, mask in self.gradient_masks.items():
            gradient = self.parameters[name].grad
            if gradient is not None:
                gradient.masked_fill_(~mask, 0.0)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """(T, K, I) inputs, one sequence per member with its length (K,) -> logits (T, K, O).

        Logits past a member's length are those of a zero hidden state: the loss ignores them.
        """
        steps = x.shape[0]
        valid = torch.arange(steps, device=x.device)[:, None] < lengths.to(x.device)[None, :]
        ragged = bool((lengths != steps).any())
        hidden = x
        for level_index in range(self.layers):
            outputs = []
            for direction in range(2 if self.bidirectional else 1):
                prefix = f"levels.{level_index}.{direction}."
                level_input = reverse_padded(hidden, lengths) if direction else hidden
                y = self._run_layer(prefix, level_input, valid if ragged else None)
                outputs.append(reverse_padded(y, lengths) if direction else y)
            hidden = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
        weight, bias = self.parameters["output.weight"], self.parameters["output.bias"]
        logits = torch.baddbmm(bias.unsqueeze(1), hidden.transpose(0, 1), weight.transpose(1, 2))
        return logits.transpose(0, 1)

    __call__ = forward

    def _run_layer(self, prefix: str, x: Tensor, valid: Tensor | None) -> Tensor:
        """One direction of one level over (T, K, In): the masked time loop."""
        parameters = self.parameters
        W, R, b = (parameters[prefix + name] for name in ("W", "R", "b"))
        projection = torch.baddbmm(b.unsqueeze(1), x.transpose(0, 1), W.transpose(1, 2))
        projection = projection.transpose(0, 1)  # (T, K, G*Hm)
        weights = PackedLayerWeights(
            self.spec,
            self.padded_hidden,
            R.transpose(1, 2),
            parameters.get(prefix + "p"),
            None
            if prefix + "R_gates" not in parameters
            else parameters[prefix + "R_gates"].transpose(1, 2),
        )
        zeros = x.new_zeros((x.shape[1], self.padded_hidden))
        gates = (
            x.new_zeros((x.shape[1], 3 * self.padded_hidden)) if self.spec.gate_recurrence else None
        )
        state = LSTMState(zeros, zeros, gates)
        outputs = []
        for t, projection_t in enumerate(projection):
            new = packed_step(weights, projection_t, state)
            if valid is None:
                state = new
                outputs.append(new.y)
                continue
            keep = valid[t].unsqueeze(1)  # (K, 1)
            state = LSTMState(
                torch.where(keep, new.y, state.y),
                torch.where(keep, new.c, state.c),
                None if new.gates is None else torch.where(keep, new.gates, state.gates),
            )
            outputs.append(torch.where(keep, new.y, 0.0))
        return torch.stack(outputs)


@dataclass(frozen=True)
class PackedLayerWeights:
    """What one packed step reads: the variant, Hm and the stacked recurrent weights,
    transposed for the batched products: R^T (K, Hm, G*Hm), p (K, P, Hm), R_gates^T."""

    spec: VariantSpec
    hidden_size: int
    R_transposed: Tensor
    p: Tensor | None
    R_gates_transposed: Tensor | None

    def peephole(self, gate: str) -> Tensor | float:
        """p_gate per member (K, Hm), or 0 without a peephole on that gate."""
        if gate not in self.spec.peephole_gates:
            return 0.0
        assert self.p is not None
        return self.p[:, self.spec.peephole_gates.index(gate)]


def packed_step(
    weights: PackedLayerWeights, input_projection: Tensor, state: LSTMState
) -> LSTMState:
    """Equation (1) for one time step of K members: ``variants.reference_step`` with its
    products batched over the member dimension; ``input_projection`` is W x_t + b, (K, G*Hm)."""
    spec = weights.spec
    g = _ACTIVATIONS[spec.block_input_activation]
    h = _ACTIVATIONS[spec.output_activation]
    y_prev, c_prev = state.y, state.c

    recurrent = torch.bmm(y_prev.unsqueeze(1), weights.R_transposed).squeeze(1)
    pre_activations = input_projection + recurrent
    pre = dict(zip(spec.gate_blocks, pre_activations.split(weights.hidden_size, 1), strict=True))
    if spec.gate_recurrence:  # FGR: i', f', o' feed every gate
        assert state.gates is not None and weights.R_gates_transposed is not None
        from_gates = torch.bmm(state.gates.unsqueeze(1), weights.R_gates_transposed).squeeze(1)
        for gate, extra in zip(
            spec.gate_names, from_gates.split(weights.hidden_size, 1), strict=True
        ):
            pre[gate] = pre[gate] + extra

    z = g(pre["z"])
    i = torch.sigmoid(pre["i"] + weights.peephole("i") * c_prev) if spec.input_gate else 1.0
    if spec.coupled_input_forget:
        f = 1.0 - i
    elif spec.forget_gate:
        f = torch.sigmoid(pre["f"] + weights.peephole("f") * c_prev)
    else:
        f = 1.0
    c = z * i + c_prev * f
    o = torch.sigmoid(pre["o"] + weights.peephole("o") * c) if spec.output_gate else 1.0
    y = h(c) * o

    gates = torch.cat([i, f, o], dim=1) if spec.gate_recurrence else None
    return LSTMState(y, c, gates)


__all__ = [
    "PackedLayerWeights",
    "PackedNetwork",
    "block_positions",
    "check_packable",
    "packed_step",
]
