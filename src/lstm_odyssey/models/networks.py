"""Networks used in the experiments: stacked (bi)directional recurrent layers + a linear read-out.

Every task in the paper uses the same shape of network: one or more levels of
:class:`~lstm_odyssey.models.layer.VariantLSTM` layers (bidirectional: a forward
and a reverse layer per level, outputs concatenated and fed to the next level),
then a linear layer giving per-step logits. A GRU network is the same shape with
:class:`~lstm_odyssey.models.layer.GRULayer` layers. Losses (softmax, sigmoid) live in
training, so ``forward`` returns raw logits.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lstm_odyssey.models.layer import layer_parameter_count, recurrent_layer
from lstm_odyssey.variant_specs import CellSpec, cell_spec


def network_parameter_count(
    variant: str | CellSpec,
    input_size: int,
    hidden_size: int,
    output_size: int,
    bidirectional: bool = False,
    layers: int = 1,
) -> int:
    """Closed-form number of parameters of a :class:`SequenceNetwork`."""
    directions = 2 if bidirectional else 1
    count = 0
    level_input = input_size
    for _ in range(layers):
        count += directions * layer_parameter_count(variant, level_input, hidden_size)
        level_input = directions * hidden_size
    return count + output_size * (level_input + 1)


class SequenceNetwork(nn.Module):
    """Stacked recurrent levels (an LSTM variant or the GRU) then a linear layer;
    (T, B, I) -> logits (T, B, O)."""

    def __init__(
        self,
        variant: str | CellSpec,
        input_size: int,
        hidden_size: int,
        output_size: int,
        bidirectional: bool = False,
        layers: int = 1,
        init_std: float = 0.1,
        implementation: str = "reference",
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.spec = cell_spec(variant)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.bidirectional = bidirectional
        self.layers = layers
        self.init_std = init_std

        directions = (False, True) if bidirectional else (False,)
        self.levels = nn.ModuleList()
        level_input = input_size
        for _ in range(layers):
            self.levels.append(
                nn.ModuleList(
                    recurrent_layer(
                        self.spec,
                        level_input,
                        hidden_size,
                        reverse=reverse,
                        init_std=init_std,
                        implementation=implementation,
                    )
                    for reverse in directions
                )
            )
            level_input = len(directions) * hidden_size
        self.output = nn.Linear(level_input, output_size)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """LSTM layers reset themselves; the read-out also draws from N(0, init_std)."""
        for level in self.levels:
            for layer in level:
                layer.reset_parameters()
        nn.init.normal_(self.output.weight, mean=0.0, std=self.init_std)
        nn.init.normal_(self.output.bias, mean=0.0, std=self.init_std)

    @property
    def parameter_count(self) -> int:
        """Number of trainable parameters (closed form; equals the sum of numel)."""
        return network_parameter_count(
            self.spec,
            self.input_size,
            self.hidden_size,
            self.output_size,
            self.bidirectional,
            self.layers,
        )

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """(T, B, I) -> logits (T, B, output_size); ``lengths`` (B,) for padded batches."""
        hidden = x
        for level in self.levels:
            outputs = [layer(hidden, lengths) for layer in level]
            hidden = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
        return self.output(hidden)

    def extra_repr(self) -> str:
        return f"variant={self.spec.name}, bidirectional={self.bidirectional}, layers={self.layers}"


__all__ = ["SequenceNetwork", "network_parameter_count"]
