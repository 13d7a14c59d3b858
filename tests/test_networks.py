"""Stacked (bi)directional variant-LSTM networks with a linear read-out."""

from __future__ import annotations

import pytest
import torch

from lstm_odyssey.models.layer import VariantLSTM
from lstm_odyssey.models.networks import SequenceNetwork, network_parameter_count
from lstm_odyssey.models.variants import parameter_count

torch.set_num_threads(1)


def test_unidirectional_jsb_shape_and_parameter_count():
    net = SequenceNetwork("V", 88, 20, 88)
    logits = net(torch.randn(7, 3, 88))
    assert logits.shape == (7, 3, 88)
    expected = parameter_count("V", 88, 20) + 88 * (20 + 1)
    assert net.parameter_count == expected == sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("name", ["V", "NFG", "FGR"])
def test_bidirectional_stack_shape_and_parameter_count(name: str):
    net = SequenceNetwork(name, 5, 4, 6, bidirectional=True, layers=2)
    logits = net(torch.randn(7, 3, 5), torch.tensor([7, 4, 2]))
    assert logits.shape == (7, 3, 6)
    expected = 2 * parameter_count(name, 5, 4) + 2 * parameter_count(name, 8, 4) + 6 * (8 + 1)
    assert network_parameter_count(name, 5, 4, 6, bidirectional=True, layers=2) == expected
    assert net.parameter_count == expected == sum(p.numel() for p in net.parameters())
    assert [layer.reverse for layer in net.levels[0]] == [False, True]
    assert net.levels[1][0].input_size == 8


def test_bidirectional_padded_batch_equals_sequences_run_alone():
    torch.manual_seed(0)
    net = SequenceNetwork("V", 3, 4, 2, bidirectional=True, layers=2, init_std=0.5).double()
    lengths = torch.tensor([6, 4, 1])
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    logits = net(x, lengths)
    for column, length in enumerate(lengths.tolist()):
        alone = net(x[:length, column : column + 1])
        torch.testing.assert_close(logits[:length, column : column + 1], alone)


def test_reverse_layer_sees_the_future_only():
    torch.manual_seed(1)
    layer = VariantLSTM("V", 3, 4, reverse=True)
    x = torch.randn(5, 1, 3)
    changed = x.clone()
    changed[0] += 1.0  # the first step is the reverse layer's last input
    difference = (layer(x) - layer(changed)).abs().sum(dim=(1, 2))
    assert difference[0] > 0
    assert torch.all(difference[1:] == 0)


def test_gradients_reach_every_parameter():
    net = SequenceNetwork("CIFG", 3, 4, 2, bidirectional=True)
    net(torch.randn(5, 2, 3)).sum().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_rejects_zero_layers():
    with pytest.raises(ValueError):
        SequenceNetwork("V", 3, 4, 2, layers=0)
