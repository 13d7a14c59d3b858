"""The nine LSTM configurations of Greff et al. (2017) as data, stated once and torch-free.

The results tables (paper order), the command line (`choices=`), the figures and the config check
(the schema's `$defs/variant`) read the names from here; `models.variants` steps a
:class:`VariantSpec` (the equations) and `models.layer` holds its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Activation = Literal["tanh", "identity"]
ACTIVATIONS: tuple[str, ...] = get_args(Activation)


@dataclass(frozen=True)
class VariantSpec:
    """One LSTM configuration: which parts of the vanilla LSTM it keeps.

    ``coupled_input_forget`` (CIFG) means the forget gate has no weights of its
    own (``forget_gate`` is False) and is computed as 1 - i.
    """

    name: str
    input_gate: bool = True
    forget_gate: bool = True
    output_gate: bool = True
    coupled_input_forget: bool = False
    block_input_activation: Activation = "tanh"
    output_activation: Activation = "tanh"
    peepholes: bool = True
    gate_recurrence: bool = False

    def __post_init__(self) -> None:
        for field_name in ("block_input_activation", "output_activation"):
            value = getattr(self, field_name)
            if value not in ACTIVATIONS:
                raise ValueError(
                    f"VariantSpec {self.name!r}: {field_name} must be one of "
                    f"{sorted(ACTIVATIONS)}, got {value!r}"
                )
        if self.coupled_input_forget and (self.forget_gate or not self.input_gate):
            raise ValueError(
                f"VariantSpec {self.name!r}: coupled_input_forget needs an input gate "
                "and no separate forget gate"
            )
        if self.gate_recurrence and self.gate_names != ("i", "f", "o"):
            raise ValueError(f"VariantSpec {self.name!r}: gate_recurrence needs all three gates")

    @property
    def gate_names(self) -> tuple[str, ...]:
        """The gates with their own weights, in layout order (subset of i, f, o)."""
        present = {"i": self.input_gate, "f": self.forget_gate, "o": self.output_gate}
        return tuple(gate for gate, keep in present.items() if keep)

    @property
    def gate_blocks(self) -> tuple[str, ...]:
        """Row blocks of ``W``, ``R`` and ``b``: z, then the present gates."""
        return ("z", *self.gate_names)

    @property
    def peephole_gates(self) -> tuple[str, ...]:
        """Rows of ``p``: the present gates when the variant has peepholes."""
        return self.gate_names if self.peepholes else ()


VARIANTS: dict[str, VariantSpec] = {
    spec.name: spec
    for spec in (
        VariantSpec("V"),
        VariantSpec("NIG", input_gate=False),
        VariantSpec("NFG", forget_gate=False),
        VariantSpec("NOG", output_gate=False),
        VariantSpec("NIAF", block_input_activation="identity"),
        VariantSpec("NOAF", output_activation="identity"),
        VariantSpec("NP", peepholes=False),
        VariantSpec("CIFG", forget_gate=False, coupled_input_forget=True),
        VariantSpec("FGR", gate_recurrence=True),
    )
}


def get_variant(variant: str | VariantSpec) -> VariantSpec:
    """Look a configuration up by its paper abbreviation (a spec passes through)."""
    if isinstance(variant, VariantSpec):
        return variant
    if variant not in VARIANTS:
        raise ValueError(f"unknown LSTM variant {variant!r}; expected one of {list(VARIANTS)}")
    return VARIANTS[variant]


VARIANT_NAMES: tuple[str, ...] = tuple(VARIANTS)
"""The paper's abbreviations in the paper's order (vanilla first): rows and figure axes."""

VANILLA = "V"
"""The vanilla LSTM, every other configuration's reference (default baseline, primary curve)."""
