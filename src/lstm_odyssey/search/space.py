"""The random-search space: one `SearchDimension` per hyperparameter, built from a task's config.

Every dimension knows the space it is *sampled* in (log for learning rate and hidden size,
log(1 - m) for momentum, linear for input noise). Sampling and the fANOVA analysis both work in
that space, so that e.g. learning rates 1e-6..1e-5 get as much weight as 1e-3..1e-2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from ConfigSpace import ConfigurationSpace
# ConfigSpace itself is imported where a space is built: config validation (every Snakefile
# parse, every cluster job, `lstm-odyssey status`) needs only the dimensions, and importing
# ConfigSpace costs about half a second.

Distribution = Literal[
    "uniform", "log_uniform", "log_uniform_int", "one_minus_log_uniform", "categorical"
]
DISTRIBUTIONS: tuple[str, ...] = (
    "uniform",
    "log_uniform",
    "log_uniform_int",
    "one_minus_log_uniform",
    "categorical",
)


@dataclass(frozen=True)
class SearchDimension:
    """One hyperparameter of the random search.

    `low`/`high` are in natural units (a momentum of 0.99, a learning rate of 1e-2);
    `search_low`/`search_high` are the bounds of the space it is sampled uniformly in.
    """

    name: str
    distribution: Distribution
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def is_categorical(self) -> bool:
        return self.distribution == "categorical"

    @property
    def search_low(self) -> float:
        """Lower bound of the sampling coordinate (category codes run 0..n-1)."""
        if self.is_categorical:
            return 0.0
        # log(1 - m) decreases as m grows, so its low end comes from the natural high.
        natural = self.high if self.distribution == "one_minus_log_uniform" else self.low
        return float(self.to_search_space([natural])[0])

    @property
    def search_high(self) -> float:
        """Upper bound of the sampling coordinate."""
        if self.is_categorical:
            return float(len(self.choices) - 1)  # type: ignore[arg-type]
        natural = self.low if self.distribution == "one_minus_log_uniform" else self.high
        return float(self.to_search_space([natural])[0])

    def to_search_space(self, values: Any) -> np.ndarray:
        """Map natural values (or categorical choices) to the coordinate they were sampled in."""
        if self.is_categorical:
            index = {choice: i for i, choice in enumerate(self.choices)}  # type: ignore[arg-type]
            # Tables round-trip booleans and numbers as strings; match on the string too.
            by_text = {str(choice): i for i, choice in enumerate(self.choices)}  # type: ignore[arg-type]
            out = []
            for v in np.asarray(values, dtype=object).ravel():
                if v in index:
                    out.append(index[v])
                elif str(v) in by_text:
                    out.append(by_text[str(v)])
                else:
                    raise ValueError(f"{self.name}: {v!r} is not one of {self.choices}")
            return np.asarray(out, dtype=float)
        x = np.asarray(values, dtype=float)
        if self.distribution in ("log_uniform", "log_uniform_int"):
            return np.log(x)
        if self.distribution == "one_minus_log_uniform":
            return np.log1p(-x)
        return x

    def from_search_space(self, coordinates: Any) -> np.ndarray:
        """Inverse of `to_search_space` for numeric dimensions (used for plot axes)."""
        z = np.asarray(coordinates, dtype=float)
        if self.distribution in ("log_uniform", "log_uniform_int"):
            return np.exp(z)
        if self.distribution == "one_minus_log_uniform":
            return -np.expm1(z)
        if self.is_categorical:
            return np.asarray([self.choices[int(round(i))] for i in z.ravel()], dtype=object)  # type: ignore[index]
        return z

    def to_hyperparameter(self) -> Any:
        """The ConfigSpace hyperparameter this dimension samples from."""
        from ConfigSpace import (
            CategoricalHyperparameter,
            UniformFloatHyperparameter,
            UniformIntegerHyperparameter,
        )

        if self.is_categorical:
            return CategoricalHyperparameter(self.name, list(self.choices))  # type: ignore[arg-type]
        if self.distribution == "log_uniform_int":
            return UniformIntegerHyperparameter(
                self.name,
                int(self.low),
                int(self.high),
                log=True,  # type: ignore[arg-type]
            )
        if self.distribution == "log_uniform":
            return UniformFloatHyperparameter(self.name, self.low, self.high, log=True)
        if self.distribution == "one_minus_log_uniform":
            # Sampled as 1 - m, log-uniform; converted back in `natural_value`.
            return UniformFloatHyperparameter(
                f"one_minus_{self.name}",
                1.0 - self.high,
                1.0 - self.low,
                log=True,  # type: ignore[operator]
            )
        return UniformFloatHyperparameter(self.name, self.low, self.high)

    def natural_value(self, configuration: Mapping[str, Any]) -> Any:
        """Read this dimension's value out of a sampled ConfigSpace configuration."""
        if self.distribution == "one_minus_log_uniform":
            return 1.0 - float(configuration[f"one_minus_{self.name}"])
        value = configuration[self.name]
        if self.distribution == "log_uniform_int":
            return int(value)
        if self.is_categorical:
            return value.item() if isinstance(value, np.generic) else value
        return float(value)


# Values a trial can use, per known hyperparameter: (lowest, lowest allowed?, highest, allowed?).
# A range outside them would fail at run time (a negative learning rate) or silently do
# something else (a negative noise σ), so the config is refused when it loads.
NATURAL_RANGES: dict[str, tuple[float, bool, float, bool]] = {
    "hidden_size": (1.0, True, math.inf, False),
    "learning_rate": (0.0, False, math.inf, False),
    "momentum": (0.0, True, 1.0, False),
    "input_noise": (0.0, True, math.inf, False),
}


def _check_natural_range(name: str, low: float, high: float) -> None:
    if name not in NATURAL_RANGES:
        return
    lowest, lowest_allowed, highest, highest_allowed = NATURAL_RANGES[name]
    if low < lowest or (low == lowest and not lowest_allowed):
        bound = ">=" if lowest_allowed else ">"
        raise ValueError(f"search.{name}.low: {name} must be {bound} {lowest:g}, got {low:g}")
    if high > highest or (high == highest and not highest_allowed):
        bound = "<=" if highest_allowed else "<"
        raise ValueError(f"search.{name}.high: {name} must be {bound} {highest:g}, got {high:g}")


def dimension_from_config(name: str, spec: Mapping[str, Any]) -> SearchDimension:
    """Build one dimension from its config entry, e.g. {distribution: log_uniform, low:, high:}."""
    distribution = spec.get("distribution")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(
            f"search.{name}.distribution: expected one of {DISTRIBUTIONS}, got {distribution!r}"
        )
    if distribution == "categorical":
        choices = spec.get("choices")
        if not choices or len(choices) < 2:
            raise ValueError(f"search.{name}.choices: a categorical needs at least two choices")
        return SearchDimension(name, distribution, choices=tuple(choices))
    low, high = spec.get("low"), spec.get("high")
    if low is None or high is None or not float(low) < float(high):
        raise ValueError(f"search.{name}: needs low < high, got low={low!r} high={high!r}")
    low, high = float(low), float(high)
    if distribution in ("log_uniform", "log_uniform_int") and low <= 0:
        raise ValueError(f"search.{name}.low: a log-uniform range must be positive, got {low}")
    if distribution == "one_minus_log_uniform" and not (0 <= low and high < 1):
        raise ValueError(f"search.{name}: one_minus_log_uniform needs 0 <= low < high < 1")
    if distribution == "log_uniform_int":
        if not (math.isclose(low, round(low)) and math.isclose(high, round(high))):
            raise ValueError(f"search.{name}: integer bounds expected, got {low}..{high}")
        low, high = float(round(low)), float(round(high))
    _check_natural_range(name, low, high)
    return SearchDimension(name, distribution, low=low, high=high)


def search_dimensions(search_config: Mapping[str, Mapping[str, Any]]) -> list[SearchDimension]:
    """All dimensions of a task's `search:` config section, in config order."""
    return [dimension_from_config(name, spec) for name, spec in search_config.items()]


def configuration_space(dimensions: Sequence[SearchDimension], seed: int) -> ConfigurationSpace:
    """A ConfigSpace space over `dimensions`, seeded so a sample is reproducible."""
    from ConfigSpace import ConfigurationSpace

    space = ConfigurationSpace(seed=seed)
    space.add([d.to_hyperparameter() for d in dimensions])
    return space
