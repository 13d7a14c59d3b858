"""The GRU under the study's protocol: its equations, its two implementations, its parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_odyssey.models import gru
from lstm_odyssey.models.implementations import kernel_isa_of, resolve_implementation
from lstm_odyssey.models.layer import GRULayer, layer_parameter_count, recurrent_layer
from lstm_odyssey.models.networks import SequenceNetwork, network_parameter_count
from lstm_odyssey.training.trial import run_trial
from lstm_odyssey.trial_spec import TrialAddress, TrialSettings
from lstm_odyssey.variant_specs import GRU, cell_spec
from tests.helpers import HYPERPARAMETERS, tiny_next_step_data

torch.set_num_threads(1)


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def numpy_gru(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The equations written out by hand, reading parameters by the documented layout: W, R, b
    in blocks r, z, n; b_Rn inside the reset gate's product."""
    steps, batch, _ = x.shape
    hidden = params["R"].shape[1]
    W = {k: params["W"][n * hidden : (n + 1) * hidden] for n, k in enumerate("rzn")}
    R = {k: params["R"][n * hidden : (n + 1) * hidden] for n, k in enumerate("rzn")}
    b = {k: params["b"][n * hidden : (n + 1) * hidden] for n, k in enumerate("rzn")}
    h = np.zeros((batch, hidden))
    out = np.zeros((steps, batch, hidden))
    for t in range(steps):
        r = sigmoid(x[t] @ W["r"].T + b["r"] + h @ R["r"].T)
        z = sigmoid(x[t] @ W["z"].T + b["z"] + h @ R["z"].T)
        n = np.tanh(x[t] @ W["n"].T + b["n"] + r * (h @ R["n"].T + params["b_Rn"]))
        h = (1.0 - z) * n + z * h
        out[t] = h
    return out


def layer_params(layer: GRULayer) -> dict[str, np.ndarray]:
    return {n: p.detach().numpy() for n, p in layer.named_parameters()}


@pytest.mark.parametrize("implementation", ["reference", "fast"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_matches_numpy_equations(reverse: bool, implementation: str):
    torch.manual_seed(0)
    layer = GRULayer(3, 4, reverse=reverse, init_std=0.5, implementation=implementation).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    got = layer(x).detach().numpy()
    expected = numpy_gru(layer_params(layer), x.numpy()[::-1] if reverse else x.numpy())
    np.testing.assert_allclose(got, expected[::-1] if reverse else expected, rtol=1e-10, atol=1e-12)


def test_the_layout_is_torchs_with_b_hr_and_b_hz_zero():
    """nn.GRU given our W, R, b and [0, 0, b_Rn] computes what the layer computes."""
    torch.manual_seed(1)
    layer = GRULayer(3, 4, init_std=0.5).double()
    reference = torch.nn.GRU(3, 4).double()
    with torch.no_grad():
        reference.weight_ih_l0.copy_(layer.W)
        reference.weight_hh_l0.copy_(layer.R)
        reference.bias_ih_l0.copy_(layer.b)
        reference.bias_hh_l0.copy_(torch.cat([torch.zeros(8, dtype=torch.float64), layer.b_Rn]))
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(layer(x), reference(x)[0], rtol=1e-12, atol=1e-12)


def outputs_and_gradients(layer, x, lengths, implementation: str) -> dict[str, torch.Tensor]:
    """y, dL/dx and dL/d(every parameter) for a fixed random L = sum(y * weights)."""
    layer.implementation = implementation
    layer.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    y = layer(x, lengths)
    weights = torch.randn(y.shape, generator=torch.Generator().manual_seed(7), dtype=y.dtype)
    (y * weights).sum().backward()
    result = {"y": y.detach(), "x.grad": x.grad}
    result.update({f"{name}.grad": p.grad for name, p in layer.named_parameters()})
    return result


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_fast_matches_reference_outputs_and_gradients_with_lengths(reverse: bool):
    torch.manual_seed(2)
    layer = GRULayer(3, 5, reverse=reverse, init_std=0.5).double()
    x = torch.randn(7, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 4, 1])
    expected = outputs_and_gradients(layer, x, lengths, "reference")
    actual = outputs_and_gradients(layer, x, lengths, "fast")
    assert set(actual) == {"y", "x.grad", "W.grad", "R.grad", "b.grad", "b_Rn.grad"}
    for name, value in expected.items():
        torch.testing.assert_close(actual[name], value, rtol=1e-10, atol=1e-12, msg=name)
        assert value.abs().max() > 0, name


def test_reference_gradients_match_finite_differences():
    torch.manual_seed(3)
    layer = GRULayer(2, 2, init_std=0.5).double()
    names = [n for n, _ in layer.named_parameters()]
    x = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_(True) for p in layer.parameters()]

    def run(x: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(layer, dict(zip(names, values, strict=True)), (x,))

    assert torch.autograd.gradcheck(run, (x, *params))


@pytest.mark.parametrize("implementation", ["reference", "fast"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_padded_batch_equals_sequences_run_alone(reverse: bool, implementation: str):
    torch.manual_seed(4)
    layer = GRULayer(3, 4, reverse=reverse, init_std=0.5, implementation=implementation).double()
    lengths = torch.tensor([5, 3, 1])
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    out = layer(x, lengths)
    for column, length in enumerate(lengths.tolist()):
        alone = layer(x[:length, column : column + 1])
        torch.testing.assert_close(out[:length, column : column + 1], alone)
        assert torch.all(out[length:, column] == 0)


def test_parameter_count_is_the_closed_form_and_the_sum_of_numel():
    inputs, hidden = 7, 5
    layer = GRULayer(inputs, hidden)
    expected = 3 * hidden * (inputs + hidden + 1) + hidden
    assert gru.parameter_count(inputs, hidden) == layer_parameter_count("GRU", inputs, hidden)
    assert layer_parameter_count(GRU, inputs, hidden) == expected
    assert sum(p.numel() for p in layer.parameters()) == expected
    assert (layer.W.shape, layer.R.shape, layer.b.shape, layer.b_Rn.shape) == (
        (15, 7),
        (15, 5),
        (15,),
        (5,),
    )
    network = SequenceNetwork("GRU", 5, 4, 6, bidirectional=True, layers=2)
    count = network_parameter_count("GRU", 5, 4, 6, bidirectional=True, layers=2)
    assert network.parameter_count == count == sum(p.numel() for p in network.parameters())
    assert count == 2 * gru.parameter_count(5, 4) + 2 * gru.parameter_count(8, 4) + 6 * 9


def test_initialisation_is_normal_with_requested_std():
    torch.manual_seed(5)
    layer = GRULayer(100, 100, init_std=0.1)
    values = torch.cat([p.detach().flatten() for p in layer.parameters()])
    assert abs(values.mean().item()) < 0.005
    assert abs(values.std().item() - 0.1) < 0.005


def test_gru_is_selected_by_name_like_a_variant():
    assert cell_spec("GRU") is GRU
    assert isinstance(recurrent_layer("GRU", 3, 4), GRULayer)
    assert isinstance(SequenceNetwork("GRU", 3, 4, 2).levels[0][0], GRULayer)


def test_implementations_resolve_for_the_gru():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_implementation("reference", cpu, torch.float32, GRU) == "reference"
    for requested in ("fast", "auto"):
        assert resolve_implementation(requested, cpu, torch.float64, GRU) == "fast"
        assert resolve_implementation(requested, cuda, torch.float32, GRU) == "fast"
    assert kernel_isa_of("fast", GRU) is None  # torch's GRU, not our kernel


def test_a_gru_trial_trains(tmp_path):
    data = tiny_next_step_data(tmp_path / "data.h5")
    address = TrialAddress("jsb", "GRU", 0, 1, 1234)
    settings = TrialSettings(max_epochs=2, patience=2, implementation="auto")
    record = run_trial(data, tmp_path / "r.json", address, HYPERPARAMETERS, settings)
    assert record["status"] == "ok" and len(record["epochs"]) == 2
    assert record["parameter_count"] == network_parameter_count("GRU", 6, 5, 6)
    assert record["provenance"]["implementation"] == "fast"
    assert record["provenance"]["kernel_isa"] is None
    assert record["variant_spec"] == {"cell": "gru", "formulation": "reset_after_product"}
    assert np.isfinite(record["test_metric"])
