"""The training loss's scale: a sum over a sequence's steps, divided by the number of sequences.

The reference is computed independently: each step's loss is written out by hand (no torch loss
function), differentiated on its own, and the per-step gradients are added up. If the objective
averaged over frames instead, the gradients would differ by the factor T.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from lstm_odyssey.models.networks import SequenceNetwork
from lstm_odyssey.training.objectives import Batch, FramewiseObjective, NextStepObjective

T, INPUTS, KEYS, CLASSES = 7, 3, 4, 5


def _network(output_size: int) -> SequenceNetwork:
    torch.manual_seed(0)
    return SequenceNetwork("V", INPUTS, 6, output_size, implementation="reference").double()


def _gradients(network: SequenceNetwork) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in network.parameters()]


def _per_step_gradient_sum(network, inputs, step_loss) -> list[torch.Tensor]:
    """Σ_t ∇ loss_t, each step's loss differentiated in a forward/backward pass of its own."""
    total = [torch.zeros_like(p) for p in network.parameters()]
    for t in range(inputs.shape[0]):
        network.zero_grad()
        step_loss(network(inputs)[t, 0], t).backward()
        total = [g + p.grad for g, p in zip(total, network.parameters(), strict=True)]
    return total


def _assert_close(actual: list[torch.Tensor], expected: list[torch.Tensor]) -> None:
    for a, e in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-12)


def test_next_step_loss_gradient_is_the_sum_of_the_per_step_gradients():
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(T, 1, INPUTS, generator=generator, dtype=torch.float64)
    targets = (torch.rand(T, 1, KEYS, generator=generator) > 0.5).double()
    network = _network(KEYS)

    def step_loss(logits, t):  # -Σ_k [y log σ(z) + (1 - y) log(1 - σ(z))], by hand
        probability = 1.0 / (1.0 + torch.exp(-logits))
        y = targets[t, 0]
        return -(y * torch.log(probability) + (1 - y) * torch.log(1 - probability)).sum()

    expected = _per_step_gradient_sum(network, inputs, step_loss)
    network.zero_grad()
    batch = Batch(inputs, torch.tensor([T]), targets)
    NextStepObjective().loss(network(inputs), batch).backward()
    _assert_close(_gradients(network), expected)


def test_framewise_loss_gradient_is_the_sum_of_the_per_frame_gradients():
    generator = torch.Generator().manual_seed(2)
    inputs = torch.randn(T, 1, INPUTS, generator=generator, dtype=torch.float64)
    targets = torch.randint(0, CLASSES, (T, 1), generator=generator)
    network = _network(CLASSES)

    def step_loss(logits, t):  # -log softmax(z)[y], by hand
        return torch.log(torch.exp(logits).sum()) - logits[targets[t, 0]]

    expected = _per_step_gradient_sum(network, inputs, step_loss)
    network.zero_grad()
    batch = Batch(inputs, torch.tensor([T]), targets)
    FramewiseObjective().loss(network(inputs), batch).backward()
    _assert_close(_gradients(network), expected)


@pytest.mark.parametrize(
    ("objective", "targets"),
    [
        (NextStepObjective(), (torch.rand(5, 2, KEYS) > 0.5).double()),
        (FramewiseObjective(), torch.randint(0, KEYS, (5, 2))),
    ],
)
def test_a_batch_loss_is_the_mean_of_its_sequences_summed_losses(objective, targets):
    """Padding adds nothing and longer sequences weigh more: division by sequences, not frames."""
    logits = torch.randn(5, 2, KEYS, dtype=torch.float64)
    lengths = torch.tensor([5, 2])
    together = objective.loss(logits, Batch(torch.zeros(5, 2, 1), lengths, targets))
    alone = [
        objective.loss(
            logits[:n, b : b + 1],
            Batch(torch.zeros(n, 1, 1), lengths[b : b + 1], targets[:n, b : b + 1]),
        )
        for b, n in enumerate(lengths.tolist())
    ]
    assert float(together) == pytest.approx((float(alone[0]) + float(alone[1])) / 2, rel=1e-12)


SHARED_JSB_JSON = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "jsb-chorales-quarter.json"
)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_JSB_JSON.exists(), reason=f"{SHARED_JSB_JSON} not present")
def test_jsb_reference_benchmark_learns_on_the_boulanger_split(capsys, monkeypatch):
    """Two epochs at H = 20: both models print a curve and learn well below the ~60 of chance."""
    spec = importlib.util.spec_from_file_location(
        "jsb_reference", Path(__file__).resolve().parents[1] / "benchmarks" / "jsb_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up
    spec.loader.exec_module(module)
    assert module.main([str(SHARED_JSB_JSON), "--epochs", "2", "--hidden", "20"]) == 0
    output = capsys.readouterr().out
    assert "CPU:" in output and "229/76/77 chorales" in output
    last_epoch = next(line for line in output.splitlines() if line.strip().startswith("2 |"))
    numbers = [float(x) for x in last_epoch.replace("|", " ").split()[1:]]
    ours_test, anchor_test = numbers[1], numbers[4]
    assert ours_test < 12.0 and anchor_test < 12.0
