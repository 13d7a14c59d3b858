"""The recurrent cells a study can train, stated once and torch-free: the nine LSTM
configurations of Greff et al. (2017), a study's own LSTM variants and the GRU.

The results tables (paper order), the command line, the figures and the config check (the
schema's `$defs/variant`) read the names from here; `models.variants` steps a :class:`VariantSpec`
(the equations), `models.gru` a :class:`GRUSpec`, and `models.layer` holds their parameters.

A study's own variants (the config's `custom_variants:`) are vanilla V with some switches changed
(:func:`custom_variant`); every combination of the switches the equations allow runs, and every
other one is refused with the reason (:func:`switch_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Literal, get_args

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
        problems = switch_problems(switches(self))
        if problems:
            raise ValueError(f"VariantSpec {self.name!r}: " + "; ".join(problems))

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


SWITCHES: tuple[str, ...] = tuple(f.name for f in fields(VariantSpec) if f.name != "name")
"""What a configuration can change, in the order of :class:`VariantSpec`'s fields."""

_BOOLEAN_SWITCHES = tuple(name for name in SWITCHES if not name.endswith("_activation"))


def switches(spec: VariantSpec) -> dict[str, Any]:
    """The configuration's switches by name (everything but its name)."""
    values = asdict(spec)
    del values["name"]
    return values


def switch_problems(values: Mapping[str, Any]) -> list[str]:
    """Why a combination of switches is no LSTM the equations can run (empty when it is one).

    The rules: a switch is a boolean or an activation name; coupling the input and forget gates
    (f = 1 - i) needs an input gate and no forget gate of its own; gate recurrence feeds the
    previous i, f, o to every gate, so it needs all three; peepholes need a gate to peep from.
    """
    problems = []
    for name in _BOOLEAN_SWITCHES:
        if not isinstance(values[name], bool):
            problems.append(f"{name} must be true or false, got {values[name]!r}")
    for name in ("block_input_activation", "output_activation"):
        if values[name] not in ACTIVATIONS:
            problems.append(f"{name} must be one of {sorted(ACTIVATIONS)}, got {values[name]!r}")
    if problems:
        return problems
    gates = {name: values[name] for name in ("input_gate", "forget_gate", "output_gate")}
    if values["coupled_input_forget"] and (gates["forget_gate"] or not gates["input_gate"]):
        problems.append(
            "coupled_input_forget: true computes the forget gate as 1 - i, so it needs "
            f"input_gate: true and forget_gate: false (here input_gate: "
            f"{_yaml(gates['input_gate'])}, forget_gate: {_yaml(gates['forget_gate'])})"
        )
    if values["gate_recurrence"] and not all(gates.values()):
        missing = ", ".join(f"{name}: false" for name, kept in gates.items() if not kept)
        problems.append(
            "gate_recurrence: true feeds the previous i, f and o to every gate, so it needs all "
            f"three gates (here {missing})"
        )
    if values["peepholes"] and not any(gates.values()):
        problems.append(
            "peepholes: true needs a gate to peep from, and this variant has none "
            "(set peepholes: false)"
        )
    return problems


def _yaml(value: bool) -> str:
    return "true" if value else "false"


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


@dataclass(frozen=True)
class GRUSpec:
    """The gated recurrent unit (Cho et al. 2014) in torch's nn.GRU / cuDNN formulation, the
    reset gate applied after the recurrent product (`models.gru` states the equations). It has
    no switches: one cell, run under the same protocol as the LSTMs."""

    name: str = "GRU"

    FORMULATION: ClassVar[str] = "reset_after_product"
    """Which of the two common GRU formulations (part of a GRU trial's key)."""


GRU = GRUSpec()
GRU_NAME = GRU.name

CellSpec = VariantSpec | GRUSpec
"""What a study's `variants:` entry names: an LSTM configuration or the GRU."""

BUILT_IN: dict[str, CellSpec] = {**VARIANTS, GRU_NAME: GRU}
"""Every name a config may list without defining it: the paper's nine, then GRU."""


def cell_spec(variant: str | CellSpec) -> CellSpec:
    """A built-in cell by name (the paper's nine, GRU); a spec passes through."""
    if isinstance(variant, VariantSpec | GRUSpec):
        return variant
    if variant not in BUILT_IN:
        raise ValueError(
            f"unknown variant {variant!r}; expected one of {list(BUILT_IN)} or a name the "
            "config's custom_variants defines"
        )
    return BUILT_IN[variant]


def is_paper_variant(spec: CellSpec) -> bool:
    """True for one of the paper's nine under its own name, with the paper's switches."""
    return isinstance(spec, VariantSpec) and VARIANTS.get(spec.name) == spec


CUSTOM_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]{0,63}")
"""A custom variant's name: it becomes a folder (trials/<task>/<name>/) and a Snakemake wildcard
value, so letters, digits and + . _ - only, starting with a letter or digit, at most 64."""


def custom_name_problem(name: Any) -> str | None:
    """Why `name` cannot name a custom variant (None when it can)."""
    if not isinstance(name, str) or not CUSTOM_NAME_PATTERN.fullmatch(name):
        return (
            f"the name {name!r} cannot be a folder and a Snakemake wildcard: use letters, digits "
            "and + . _ - (starting with a letter or digit, at most 64 characters)"
        )
    taken = {built_in.casefold(): built_in for built_in in BUILT_IN}
    if name.casefold() in taken:
        return (
            f"the name {name!r} is taken by the built-in {taken[name.casefold()]} (names are "
            "compared ignoring case: they become folders); choose another"
        )
    return None


def custom_variant(name: str, changes: Mapping[str, Any]) -> VariantSpec:
    """Vanilla V with `changes` (switch -> value) applied, named `name`.

    A ValueError says what is wrong: the name (:func:`custom_name_problem`), a switch that does
    not exist, or a combination the equations cannot run (:func:`switch_problems`).
    """
    problem = custom_name_problem(name)
    if problem:
        raise ValueError(problem)
    unknown = sorted(set(changes) - set(SWITCHES))
    if unknown:
        raise ValueError(f"unknown switches {unknown}; a variant can change {list(SWITCHES)}")
    values = {**switches(VARIANTS[VANILLA]), **changes}
    problems = switch_problems(values)
    if problems:
        raise ValueError("; ".join(problems))
    return VariantSpec(name, **values)
