"""The paper's optimiser: online SGD with Nesterov momentum, learning rate rescaled by (1 - m).

Rescaling keeps the effective step size comparable across momenta, which is what makes learning
rate and momentum separable in the paper's hyperparameter analysis.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def make_optimizer(
    parameters: Iterable[torch.nn.Parameter],
    learning_rate: float,
    momentum: float,
    nesterov: bool = True,
) -> torch.optim.SGD:
    """SGD with momentum `momentum` (Nesterov's, or classical with `nesterov=False`, which the
    paper searched over on TIMIT) and step size `learning_rate * (1 - momentum)`."""
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
    if learning_rate <= 0.0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    return torch.optim.SGD(
        parameters,
        lr=learning_rate * (1.0 - momentum),
        momentum=momentum,
        # torch refuses Nesterov without momentum; with m = 0 both are plain SGD anyway.
        nesterov=nesterov and momentum > 0.0,
    )


GRADIENT_CLIP_VALUE = 1.0
"""Gradient clipping, when searched (paper, TIMIT): every gradient element clipped to [-1, 1]."""


def clip_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Clip every gradient element to [-GRADIENT_CLIP_VALUE, GRADIENT_CLIP_VALUE] in place."""
    torch.nn.utils.clip_grad_value_(parameters, GRADIENT_CLIP_VALUE)
