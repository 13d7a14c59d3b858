"""The nine LSTM configurations against an independent NumPy transcription of eq. (1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_odyssey.models.layer import VariantLSTM, reverse_padded
from lstm_odyssey.models.variants import VARIANTS, VariantSpec, get_variant, parameter_count

torch.set_num_threads(1)

NAMES = ["V", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR"]

# Written out by hand from the paper, independent of VariantSpec:
# (gates with weights, peepholes, g, h, coupled input/forget, gate recurrence)
EXPECTED = {
    "V": ("ifo", True, "tanh", "tanh", False, False),
    "NIG": ("fo", True, "tanh", "tanh", False, False),
    "NFG": ("io", True, "tanh", "tanh", False, False),
    "NOG": ("if", True, "tanh", "tanh", False, False),
    "NIAF": ("ifo", True, "identity", "tanh", False, False),
    "NOAF": ("ifo", True, "tanh", "identity", False, False),
    "NP": ("ifo", False, "tanh", "tanh", False, False),
    "CIFG": ("io", True, "tanh", "tanh", True, False),
    "FGR": ("ifo", True, "tanh", "tanh", False, True),
}


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def numpy_lstm(name: str, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Eq. (1) step by step, reading parameters by the documented layout."""
    gates, peepholes, g_name, h_name, coupled, recurrent = EXPECTED[name]
    steps, batch, _ = x.shape
    hidden = params["R"].shape[1]
    g = np.tanh if g_name == "tanh" else (lambda v: v)
    h = np.tanh if h_name == "tanh" else (lambda v: v)
    blocks = ["z", *gates]
    W = {k: params["W"][n * hidden : (n + 1) * hidden] for n, k in enumerate(blocks)}
    R = {k: params["R"][n * hidden : (n + 1) * hidden] for n, k in enumerate(blocks)}
    b = {k: params["b"][n * hidden : (n + 1) * hidden] for n, k in enumerate(blocks)}
    p = {k: params["p"][n] for n, k in enumerate(gates)} if peepholes else {}
    zero = np.zeros(hidden)

    y = np.zeros((batch, hidden))
    c = np.zeros((batch, hidden))
    i_prev = f_prev = o_prev = np.zeros((batch, hidden))
    out = np.zeros((steps, batch, hidden))
    for t in range(steps):
        previous_gates = np.concatenate([i_prev, f_prev, o_prev], 1)
        pre = {}
        for k in blocks:
            pre[k] = x[t] @ W[k].T + y @ R[k].T + b[k]
            if recurrent and k != "z":  # only the gates see i', f', o'
                row = "ifo".index(k)
                block = params["R_gates"][row * hidden : (row + 1) * hidden]
                pre[k] = pre[k] + previous_gates @ block.T

        z = g(pre["z"])
        i = sigmoid(pre["i"] + p.get("i", zero) * c) if "i" in gates else 1.0
        if coupled:
            f = 1.0 - i
        elif "f" in gates:
            f = sigmoid(pre["f"] + p.get("f", zero) * c)
        else:
            f = 1.0
        c = z * i + c * f
        o = sigmoid(pre["o"] + p.get("o", zero) * c) if "o" in gates else 1.0
        y = h(c) * o
        if recurrent:
            i_prev, f_prev, o_prev = i, f, o
        out[t] = y
    return out


def layer_params(layer: VariantLSTM) -> dict[str, np.ndarray]:
    return {n: p.detach().numpy() for n, p in layer.named_parameters()}


def test_variant_table_is_the_papers_nine_in_order():
    assert list(VARIANTS) == NAMES
    for name, (gates, peepholes, g, h, coupled, recurrent) in EXPECTED.items():
        spec = VARIANTS[name]
        assert "".join(spec.gate_names) == gates
        assert spec.peepholes == peepholes
        assert (spec.block_input_activation, spec.output_activation) == (g, h)
        assert spec.coupled_input_forget == coupled
        assert spec.gate_recurrence == recurrent


def test_get_variant_rejects_unknown_names_listing_valid_ones():
    with pytest.raises(ValueError, match="NIAF"):
        get_variant("LSTM9")
    assert get_variant(VARIANTS["NP"]) is VARIANTS["NP"]


def test_invalid_spec_is_rejected():
    with pytest.raises(ValueError):
        VariantSpec("bad", block_input_activation="relu")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        VariantSpec("bad", coupled_input_forget=True)


def test_unknown_implementation_is_rejected():
    with pytest.raises(ValueError, match="reference"):
        VariantLSTM("V", 3, 4, implementation="cuda-magic")


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_matches_numpy_equations(name: str, reverse: bool):
    torch.manual_seed(0)
    layer = VariantLSTM(name, 3, 4, reverse=reverse, init_std=0.5).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    got = layer(x).detach().numpy()
    x_np = x.numpy()[::-1] if reverse else x.numpy()
    expected = numpy_lstm(name, layer_params(layer), x_np)
    if reverse:
        expected = expected[::-1]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_finite_differences(name: str):
    torch.manual_seed(1)
    layer = VariantLSTM(name, 2, 2, init_std=0.5).double()
    names = [n for n, _ in layer.named_parameters()]
    x = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_(True) for p in layer.parameters()]

    def run(x: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(layer, dict(zip(names, values, strict=True)), (x,))

    assert torch.autograd.gradcheck(run, (x, *params))


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_closed_form(name: str):
    inputs, hidden = 7, 5
    gates, peepholes, *_, recurrent = EXPECTED[name]
    blocks = 1 + len(gates)
    expected = blocks * hidden * (inputs + hidden + 1)
    expected += len(gates) * hidden if peepholes else 0
    expected += 9 * hidden * hidden if recurrent else 0
    layer = VariantLSTM(name, inputs, hidden)
    assert parameter_count(name, inputs, hidden) == expected
    assert sum(p.numel() for p in layer.parameters()) == expected
    assert layer.W.shape == (blocks * hidden, inputs)
    assert layer.R.shape == (blocks * hidden, hidden)
    assert layer.b.shape == (blocks * hidden,)


def test_variants_hold_only_the_parameters_they_use():
    assert VariantLSTM("NP", 3, 4).p is None
    assert "p" not in dict(VariantLSTM("NP", 3, 4).named_parameters())
    for name in ("NFG", "CIFG"):
        layer = VariantLSTM(name, 3, 4)
        assert layer.W.shape[0] == 3 * 4  # z, i, o: no forget-gate rows
        assert layer.p.shape == (2, 4)  # p_i, p_o
    assert VariantLSTM("V", 3, 4).R_gates is None
    assert VariantLSTM("FGR", 3, 4).R_gates.shape == (12, 12)


def test_initialisation_is_normal_with_requested_std():
    torch.manual_seed(2)
    layer = VariantLSTM("V", 100, 100, init_std=0.1)
    values = torch.cat([p.detach().flatten() for p in layer.parameters()])
    assert abs(values.mean().item()) < 0.005
    assert abs(values.std().item() - 0.1) < 0.005


def test_reverse_padded_flips_within_each_length():
    x = torch.arange(4.0).view(4, 1, 1).expand(4, 2, 1)
    flipped = reverse_padded(x, torch.tensor([4, 2]))
    assert flipped[:, 0, 0].tolist() == [3, 2, 1, 0]
    assert flipped[:, 1, 0].tolist() == [1, 0, 2, 3]
    assert torch.equal(reverse_padded(flipped, torch.tensor([4, 2])), x)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", ["V", "FGR"])
def test_padded_batch_equals_sequences_run_alone(name: str, reverse: bool):
    torch.manual_seed(3)
    layer = VariantLSTM(name, 3, 4, reverse=reverse, init_std=0.5).double()
    lengths = torch.tensor([5, 3, 1])
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    out = layer(x, lengths)
    for column, length in enumerate(lengths.tolist()):
        alone = layer(x[:length, column : column + 1])
        torch.testing.assert_close(out[:length, column : column + 1], alone)
        assert torch.all(out[length:, column] == 0)


def test_lengths_outside_the_batch_are_rejected():
    layer = VariantLSTM("V", 3, 4)
    with pytest.raises(ValueError, match="lengths"):
        layer(torch.randn(5, 2, 3), torch.tensor([6, 2]))
    with pytest.raises(ValueError, match="lengths"):
        layer(torch.randn(5, 2, 3), torch.tensor([5]))
