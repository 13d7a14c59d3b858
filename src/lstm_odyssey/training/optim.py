"""The paper's optimiser: online SGD with Nesterov momentum, learning rate rescaled by (1 - m).

Rescaling keeps the effective step size comparable across momenta, which is what makes learning
rate and momentum separable in the paper's hyperparameter analysis.

`MomentumSGD` is `torch.optim.SGD`'s update (no dampening, no weight decay) written out, because
constructing any `torch.optim.Optimizer` imports `torch._dynamo`: about 1 s of every training
job, a third of a short trial's overhead. Its steps equal torch's bit for bit and its state dict
has torch's layout, so checkpoints written with `torch.optim.SGD` still resume
(tests/test_training.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


class MomentumSGD:
    """SGD with (Nesterov or classical) momentum, as `torch.optim.SGD` computes it:

    v <- m v + g  (v = g at the first step);  w <- w - lr (g + m v)  (Nesterov)
                                              w <- w - lr v          (classical)
    """

    def __init__(
        self,
        parameters: Iterable[torch.nn.Parameter],
        lr: float,
        momentum: float,
        nesterov: bool,
    ) -> None:
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError("the optimiser got no parameters")
        self.lr, self.momentum, self.nesterov = float(lr), float(momentum), bool(nesterov)
        self.velocities: list[torch.Tensor | None] = [None] * len(self.parameters)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for parameter in self.parameters:
            if parameter.grad is None:
                continue
            if set_to_none:
                parameter.grad = None
            else:
                parameter.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        for k, parameter in enumerate(self.parameters):
            gradient = parameter.grad
            if gradient is None:
                continue
            if self.momentum != 0.0:
                velocity = self.velocities[k]
                if velocity is None:
                    velocity = self.velocities[k] = gradient.clone().detach()
                else:
                    velocity.mul_(self.momentum).add_(gradient)
                gradient = (
                    gradient.add(velocity, alpha=self.momentum) if self.nesterov else velocity
                )
            parameter.add_(gradient, alpha=-self.lr)

    def state_dict(self) -> dict[str, Any]:
        """torch.optim.SGD's layout: per-parameter momentum buffers and one parameter group."""
        return {
            "state": {
                k: {"momentum_buffer": velocity}
                for k, velocity in enumerate(self.velocities)
                if velocity is not None
            },
            "param_groups": [
                {
                    "lr": self.lr,
                    "momentum": self.momentum,
                    "dampening": 0,
                    "weight_decay": 0,
                    "nesterov": self.nesterov,
                    "params": list(range(len(self.parameters))),
                }
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the momentum buffers (the learning rate and momentum are the trial's own)."""
        buffers = state["state"]
        self.velocities = [
            None
            if buffers.get(k, {}).get("momentum_buffer") is None
            else buffers[k]["momentum_buffer"].to(parameter).clone()
            for k, parameter in enumerate(self.parameters)
        ]


def make_optimizer(
    parameters: Iterable[torch.nn.Parameter],
    learning_rate: float,
    momentum: float,
    nesterov: bool = True,
) -> MomentumSGD:
    """SGD with momentum `momentum` (Nesterov's, or classical with `nesterov=False`, which the
    paper searched over on TIMIT) and step size `learning_rate * (1 - momentum)`."""
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
    if learning_rate <= 0.0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    return MomentumSGD(
        parameters,
        lr=learning_rate * (1.0 - momentum),
        momentum=momentum,
        # With m = 0 Nesterov and classical momentum are both plain SGD.
        nesterov=nesterov and momentum > 0.0,
    )


GRADIENT_CLIP_VALUE = 1.0
"""Gradient clipping, when searched (paper, TIMIT): every gradient element clipped to [-1, 1]."""


def clip_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Clip every gradient element to [-GRADIENT_CLIP_VALUE, GRADIENT_CLIP_VALUE] in place."""
    torch.nn.utils.clip_grad_value_(parameters, GRADIENT_CLIP_VALUE)
