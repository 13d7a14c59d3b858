"""The GRU under the study's protocol: its equations, its two implementations, its parameters."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch

from lstm_odyssey.models import fast_gru, fast_lstm, gru
from lstm_odyssey.models.implementations import (
    kernel_isa_of,
    resolve_implementation,
    run_forward_in_time,
)
from lstm_odyssey.models.layer import GRULayer, layer_parameter_count, recurrent_layer
from lstm_odyssey.models.networks import SequenceNetwork, network_parameter_count
from lstm_odyssey.training.trial import run_trial
from lstm_odyssey.trial_spec import TrialAddress, TrialSettings
from lstm_odyssey.variant_specs import GRU, cell_spec
from tests.helpers import (
    HYPERPARAMETERS,
    layer_outputs_and_gradients,
    outputs_and_gradients,
    relative_error,
    tiny_next_step_data,
)

torch.set_num_threads(1)


def skip_without_a_compiler() -> None:
    """The one reason a kernel test may skip: torch has no C++ compiler to build it with."""
    if fast_lstm.compiler_on_path() is None:
        pytest.skip("no C++ compiler")


@pytest.fixture(scope="module")
def kernel() -> None:
    """Build the fused kernels' extension once. Skips only without a compiler; a build error
    (in the GRU's source or the LSTM's) raises KernelBuildError with the compiler's message."""
    skip_without_a_compiler()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast_lstm.require_kernel()


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


@pytest.mark.parametrize("hidden", [5, 37])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_fast_matches_reference_outputs_and_gradients_with_lengths(reverse: bool, hidden: int):
    torch.manual_seed(2)
    layer = GRULayer(3, hidden, reverse=reverse, init_std=0.5).double()
    x = torch.randn(7, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 4, 1])
    expected = layer_outputs_and_gradients(layer, x, lengths, "reference")
    actual = layer_outputs_and_gradients(layer, x, lengths, "fast")
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


def test_implementations_resolve_for_the_gru(kernel: None):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_implementation("reference", cpu, torch.float32, GRU) == "reference"
    for requested in ("fast", "auto"):
        assert resolve_implementation(requested, cpu, torch.float64, GRU) == "fast"
        assert resolve_implementation(requested, cuda, torch.float32, GRU) == "fast"
    assert kernel_isa_of("fast", GRU, cpu) == fast_lstm.kernel_isa()  # our fused kernel
    assert kernel_isa_of("fast", GRU, cuda) is None  # torch's GRU (cuDNN)
    assert kernel_isa_of("fast", GRU, cpu, torch.bfloat16) is None
    assert kernel_isa_of("reference", GRU, cpu) is None


def test_a_gru_trial_trains(kernel: None, tmp_path):
    data = tiny_next_step_data(tmp_path / "data.h5")
    address = TrialAddress("jsb", "GRU", 0, 1, 1234)
    settings = TrialSettings(max_epochs=2, patience=2, implementation="auto")
    record = run_trial(data, tmp_path / "r.json", address, HYPERPARAMETERS, settings)
    assert record["status"] == "ok" and len(record["epochs"]) == 2
    assert record["parameter_count"] == network_parameter_count("GRU", 6, 5, 6)
    assert record["provenance"]["implementation"] == "fast"
    assert record["provenance"]["kernel_isa"] == fast_lstm.kernel_isa()  # our fused GRU ran
    assert record["variant_spec"] == {"cell": "gru", "formulation": "reset_after_product"}
    assert np.isfinite(record["test_metric"])


# ---- the fused CPU kernel (models.fast_gru) against the reference loop ----------------------


def assert_fused_matches_reference(
    layer: GRULayer, x: torch.Tensor, tolerance: float
) -> dict[str, float]:
    expected = outputs_and_gradients(gru.run_reference, layer, x)
    actual = outputs_and_gradients(fast_gru.run_fused, layer, x)
    assert (
        actual.keys()
        == expected.keys()
        == {"y", "x.grad", "W.grad", "R.grad", "b.grad", "b_Rn.grad"}
    )
    errors = {name: relative_error(actual[name], expected[name]) for name in expected}
    for name, error in errors.items():
        assert expected[name].abs().max() > 0, name
        assert error <= tolerance, f"{name}: relative error {error:.2e} ({tuple(x.shape)})"
    return errors


# (B, T, I, H): H = 1, below, at and past one vector and one 64-row panel of the packed
# product (3H rows forward, H backward), in float32 and float64 lanes alike
SHAPES = [(2, 2, 1, 1), (1, 9, 3, 5), (3, 11, 4, 37), (2, 6, 7, 70), (1, 5, 39, 100)]


@pytest.mark.parametrize(("batch", "steps", "inputs", "hidden"), SHAPES)
def test_fused_kernel_matches_reference_in_float64(
    kernel: None, batch: int, steps: int, inputs: int, hidden: int
):
    torch.manual_seed(10 + hidden)
    layer = GRULayer(inputs, hidden, init_std=0.5).double()
    x = torch.randn(steps, batch, inputs, dtype=torch.float64)
    assert_fused_matches_reference(layer, x, 1e-10)


@pytest.mark.parametrize(("batch", "steps", "inputs", "hidden"), SHAPES)
def test_fused_kernel_matches_reference_in_float32(
    kernel: None, batch: int, steps: int, inputs: int, hidden: int
):
    torch.manual_seed(20 + hidden)
    layer = GRULayer(inputs, hidden, init_std=0.3)
    x = torch.randn(steps, batch, inputs)
    assert_fused_matches_reference(layer, x, 2e-5)


def test_fused_kernel_passes_gradcheck_in_float64(kernel: None):
    torch.manual_seed(11)
    layer = GRULayer(3, 4, init_std=0.5).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_(True) for p in (layer.W, layer.b, layer.R)]
    b_Rn = layer.b_Rn.detach().clone().requires_grad_(True)
    ops = fast_lstm.require_kernel()

    def run(x, W, b, R, b_Rn):
        return fast_gru.FusedGRUFunction.apply(x, W, b, R, b_Rn, ops)

    assert torch.autograd.gradcheck(run, (x, *params, b_Rn))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_runs_our_kernel_on_cpu(kernel: None, dtype: torch.dtype):
    layer = GRULayer(3, 4).to(dtype)
    x = torch.randn(5, 2, 3, dtype=dtype)
    for requested in ("fast", "auto"):
        y = run_forward_in_time(layer, requested, x)
        assert "FusedGRUFunction" in type(y.grad_fn).__name__, requested
    y = run_forward_in_time(layer, "reference", x)
    assert "FusedGRUFunction" not in type(y.grad_fn).__name__


def test_torchs_fused_gru_matches_reference():
    """torch's fused GRU, which `fast` runs off the CPU (cuDNN) and for other dtypes."""
    torch.manual_seed(12)
    layer = GRULayer(4, 6, init_std=0.5).double()
    x = torch.randn(7, 2, 4, dtype=torch.float64)
    expected = outputs_and_gradients(gru.run_reference, layer, x)
    actual = outputs_and_gradients(gru.run_fused, layer, x)
    for name, value in expected.items():
        torch.testing.assert_close(actual[name], value, rtol=1e-10, atol=1e-12, msg=name)


def supported_paths() -> list[str]:
    """Every instruction-set path the kernel can take on this machine, lowest first."""
    os.environ.pop(fast_lstm.KERNEL_ISA_VARIABLE, None)
    best = fast_lstm.kernel_isa()
    if best == "portable":
        return [best]
    return list(fast_lstm.KERNEL_ISA_CAPS[: fast_lstm.KERNEL_ISA_CAPS.index(best) + 1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_instruction_set_path_matches_the_reference(
    kernel: None, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
):
    # H = 37: a partial panel forward (3H = 111 rows) and backward; lengths through the layer
    torch.manual_seed(13)
    x = torch.randn(13, 3, 5, dtype=dtype)
    lengths = torch.tensor([13, 8, 2])
    tolerance = 1e-10 if dtype == torch.float64 else 2e-5
    for path in supported_paths():
        monkeypatch.setenv(fast_lstm.KERNEL_ISA_VARIABLE, path)
        assert fast_lstm.kernel_isa() == path
        for reverse in (False, True):
            layer = GRULayer(5, 37, reverse=reverse, init_std=0.3).to(dtype)
            expected = layer_outputs_and_gradients(layer, x, lengths, "reference")
            actual = layer_outputs_and_gradients(layer, x, lengths, "fast")
            for name, value in expected.items():
                error = relative_error(actual[name], value)
                assert error <= tolerance, f"{path} reverse={reverse} {name}: {error:.2e}"
