"""A study's own LSTM variants (`custom_variants:`): every combination of the switches.

Every one of the 256 combinations is either refused (with the reason, at config load) or runs: the
reference layer against an independent NumPy transcription of the equations in both directions,
and the fused kernel's outputs and gradients against the reference. The paper's nine keep their
trial keys; a custom variant's switches are part of its key and its Snakemake params.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lstm_odyssey.analysis.findings import FindingsSettings, task_findings
from lstm_odyssey.analysis.table import read_table
from lstm_odyssey.models import fast_lstm
from lstm_odyssey.models.layer import VariantLSTM
from lstm_odyssey.models.networks import SequenceNetwork, network_parameter_count
from lstm_odyssey.search.space import search_dimensions
from lstm_odyssey.study import (
    ConfigError,
    trial_identity_settings,
    validate_config,
    variant_spec_of,
)
from lstm_odyssey.training.trial import run_trial
from lstm_odyssey.trial_spec import TrialAddress, TrialSettings, trial_key
from lstm_odyssey.variant_specs import (
    SWITCHES,
    VARIANTS,
    VariantSpec,
    custom_variant,
    is_paper_variant,
    switches,
)
from tests.helpers import (
    HYPERPARAMETERS,
    boulanger_corpus,
    layer_outputs_and_gradients,
    planned_jobs,
    run_snakemake,
    small_jsb_study,
    tiny_next_step_data,
    write_study_config,
)

torch.set_num_threads(1)

BOOLEANS = (
    "input_gate",
    "forget_gate",
    "output_gate",
    "coupled_input_forget",
    "peepholes",
    "gate_recurrence",
)
ACTIVATIONS = ("tanh", "identity")


def every_combination() -> list[dict]:
    """All 2^6 x 2 x 2 = 256 settings of the switches, as dicts."""
    combinations = []
    for flags in itertools.product((True, False), repeat=len(BOOLEANS)):
        for g, h in itertools.product(ACTIVATIONS, repeat=2):
            values = dict(zip(BOOLEANS, flags, strict=True))
            values["block_input_activation"], values["output_activation"] = g, h
            combinations.append(values)
    return combinations


def runs(values: dict) -> bool:
    """Which combinations are LSTMs, written out by hand from the equations: f = 1 - i needs i
    and no f of its own; i', f', o' feeding every gate needs all three; a peephole needs a gate."""
    i, f, o = values["input_gate"], values["forget_gate"], values["output_gate"]
    if values["coupled_input_forget"] and (f or not i):
        return False
    if values["gate_recurrence"] and not (i and f and o):
        return False
    return not (values["peepholes"] and not (i or f or o))


ALL = every_combination()
VALID = [values for values in ALL if runs(values)]
INVALID = [values for values in ALL if not runs(values)]


def label(values: dict) -> str:
    """A short id: the gates kept, then c(oupled) p(eepholes) r(ecurrence), g and h."""
    gates = "".join(g for g, k in zip("ifo", BOOLEANS[:3], strict=True) if values[k]) or "-"
    marks = (("c", "coupled_input_forget"), ("p", "peepholes"), ("r", "gate_recurrence"))
    extras = "".join(flag for flag, key in marks if values[key])
    g, h = values["block_input_activation"][0], values["output_activation"][0]
    return f"{gates}{extras}-{g}{h}"


def spec_of(values: dict) -> VariantSpec:
    return VariantSpec(f"custom-{label(values)}", **values)


# --- the combinations --------------------------------------------------------------------------


def test_the_switches_are_the_ones_enumerated():
    assert set(SWITCHES) == set(BOOLEANS) | {"block_input_activation", "output_activation"}
    assert len(ALL) == 256 and len({label(v) for v in ALL}) == 256
    assert len(VALID) == 84  # 21 structures x 4 activation pairs


@pytest.mark.parametrize("values", INVALID, ids=label)
def test_every_invalid_combination_is_refused_with_a_reason(values: dict):
    with pytest.raises(ValueError, match="needs"):
        spec_of(values)


@pytest.mark.parametrize("values", VALID, ids=label)
def test_every_valid_combination_is_a_spec(values: dict):
    assert switches(spec_of(values)) == values


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def numpy_lstm(values: dict, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Eq. (1) step by step for any combination, reading parameters by the documented layout
    (W, R, b blocks z then the present gates of i, f, o; p rows of the present gates; R_gates
    from the previous [i, f, o] to the gates' pre-activations)."""
    gates = [g for g, key in zip("ifo", BOOLEANS[:3], strict=True) if values[key]]
    steps, batch, _ = x.shape
    hidden = params["R"].shape[1]
    g = np.tanh if values["block_input_activation"] == "tanh" else (lambda v: v)
    h = np.tanh if values["output_activation"] == "tanh" else (lambda v: v)
    blocks = ["z", *gates]
    W = {k: params["W"][n * hidden : (n + 1) * hidden] for n, k in enumerate(blocks)}
    R = {k: params["R"][n * hidden : (n + 1) * hidden] for n, k in enumerate(blocks)}
    b = {k: params["b"][n * hidden : (n + 1) * hidden] for n, k in enumerate(blocks)}
    p = {k: params["p"][n] for n, k in enumerate(gates)} if values["peepholes"] else {}
    zero = np.zeros(hidden)

    y = np.zeros((batch, hidden))
    c = np.zeros((batch, hidden))
    i = f = o = np.zeros((batch, hidden))
    out = np.zeros((steps, batch, hidden))
    for t in range(steps):
        previous = np.concatenate([i, f, o], 1)
        pre = {k: x[t] @ W[k].T + y @ R[k].T + b[k] for k in blocks}
        if values["gate_recurrence"]:
            for row, k in enumerate("ifo"):
                pre[k] = pre[k] + previous @ params["R_gates"][row * hidden : (row + 1) * hidden].T
        z = g(pre["z"])
        i = sigmoid(pre["i"] + p.get("i", zero) * c) if "i" in gates else np.ones_like(c)
        if values["coupled_input_forget"]:
            f = 1.0 - i
        elif "f" in gates:
            f = sigmoid(pre["f"] + p.get("f", zero) * c)
        else:
            f = np.ones_like(c)
        c = z * i + c * f
        o = sigmoid(pre["o"] + p.get("o", zero) * c) if "o" in gates else np.ones_like(c)
        y = h(c) * o
        out[t] = y
    return out


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("values", VALID, ids=label)
def test_reference_matches_numpy_equations(values: dict, reverse: bool):
    torch.manual_seed(0)
    layer = VariantLSTM(spec_of(values), 2, 3, reverse=reverse, init_std=0.5).double()
    x = torch.randn(4, 2, 2, dtype=torch.float64)
    got = layer(x).detach().numpy()
    params = {n: p.detach().numpy() for n, p in layer.named_parameters()}
    expected = numpy_lstm(values, params, x.numpy()[::-1] if reverse else x.numpy())
    np.testing.assert_allclose(got, expected[::-1] if reverse else expected, rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def kernel() -> None:
    """The fused kernel, built once; skips only without a C++ compiler (as test_fast_lstm)."""
    if fast_lstm.compiler_on_path() is None:
        pytest.skip("no C++ compiler")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast_lstm.require_kernel()


@pytest.mark.parametrize("values", VALID, ids=label)
def test_fused_kernel_matches_reference_outputs_and_gradients(kernel: None, values: dict):
    torch.manual_seed(1)
    x = torch.randn(4, 3, 2, dtype=torch.float64)
    lengths = torch.tensor([4, 2, 3])
    for reverse in (False, True):
        layer = VariantLSTM(spec_of(values), 2, 3, reverse=reverse, init_std=0.5).double()
        expected = layer_outputs_and_gradients(layer, x, lengths, "reference")
        actual = layer_outputs_and_gradients(layer, x, lengths, "fast")
        assert actual.keys() == expected.keys()
        for name, value in expected.items():
            torch.testing.assert_close(actual[name], value, rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("values", VALID, ids=label)
def test_parameter_count_is_the_closed_form(values: dict):
    spec = spec_of(values)
    network = SequenceNetwork(spec, 5, 3, 4, bidirectional=True, layers=2)
    expected = network_parameter_count(spec, 5, 3, 4, bidirectional=True, layers=2)
    assert sum(p.numel() for p in network.parameters()) == expected


# --- the config ---------------------------------------------------------------------------------

NP_CIFG = {"peepholes": False, "forget_gate": False, "coupled_input_forget": True}


def study(custom: dict, variants: list[str]) -> dict:
    config = small_jsb_study(Path("corpus.json"))
    config["custom_variants"] = copy.deepcopy(custom)
    config["variants"] = variants
    return config


def refusal(custom: dict, variants: list[str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        validate_config(study(custom, variants or ["V", *custom]), "study.yaml")
    return str(raised.value)


def test_a_custom_variant_is_vanilla_with_its_changes():
    config = validate_config(study({"NP+CIFG": NP_CIFG}, ["V", "NP+CIFG", "GRU"]))
    spec = variant_spec_of(config, "NP+CIFG")
    assert spec == VariantSpec(
        "NP+CIFG", forget_gate=False, coupled_input_forget=True, peepholes=False
    )
    assert variant_spec_of(config, "NP") is VARIANTS["NP"]
    assert variant_spec_of(config, "GRU").name == "GRU"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"coupled_input_forget": True}, "coupled_input_forget: true .* forget_gate: false"),
        (
            {"coupled_input_forget": True, "forget_gate": False, "input_gate": False},
            "needs input_gate: true",
        ),
        ({"gate_recurrence": True, "output_gate": False}, "gate_recurrence: true .*all three"),
        (
            {"gate_recurrence": True, "forget_gate": False, "coupled_input_forget": True},
            "gate_recurrence",
        ),
        (
            {"input_gate": False, "forget_gate": False, "output_gate": False},
            "peepholes: true needs a gate",
        ),
    ],
)
def test_an_invalid_combination_is_refused_at_load_naming_the_key_and_the_reason(
    changes: dict, reason: str
):
    message = refusal({"Mine": changes})
    assert "study.yaml" in message and "custom_variants.Mine:" in message
    assert re.search(reason, message), message


@pytest.mark.parametrize("values", INVALID[::7], ids=label)
def test_invalid_combinations_are_refused_at_load(values: dict):
    changes = {k: v for k, v in values.items() if v != switches(VARIANTS["V"])[k]}
    assert "custom_variants.Mine:" in refusal({"Mine": changes})


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("NP", "taken by the built-in NP"),
        ("GRU", "taken by the built-in GRU"),
        ("gru", "taken by the built-in GRU"),
        ("cifg", "taken by the built-in CIFG"),
        ("NP CIFG", "cannot be a folder and a Snakemake wildcard"),
        ("NP/CIFG", "cannot be a folder and a Snakemake wildcard"),
        ("-NP", "cannot be a folder and a Snakemake wildcard"),
        ("x" * 65, "at most 64"),
    ],
)
def test_a_name_a_folder_or_wildcard_cannot_carry_or_a_built_in_one_is_refused(
    name: str, reason: str
):
    message = refusal({name: {"peepholes": False}}, ["V"])
    assert f"custom_variants.{name}:" in message and reason in message, message


def test_names_differing_only_in_case_are_refused():
    message = refusal({"Mine": {"peepholes": False}, "MINE": {"output_gate": False}})
    assert "custom_variants.MINE: differs from Mine only in case" in message


def test_an_unknown_switch_or_value_is_refused_by_the_schema():
    assert "forget" in refusal({"Mine": {"forget": False}})
    assert "relu" in refusal({"Mine": {"output_activation": "relu"}})
    assert "custom_variants.Mine" in refusal({"Mine": {"peepholes": "no"}})


def test_an_undefined_name_in_variants_is_refused():
    with pytest.raises(ConfigError, match="NP\\+CIFG"):
        validate_config(study({}, ["V", "NP+CIFG"]))


def test_a_custom_variant_equal_to_a_paper_variant_is_accepted_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = validate_config(study({"MyNP": {"peepholes": False}}, ["V", "MyNP"]))
    spec = variant_spec_of(config, "MyNP")
    assert switches(spec) == switches(VARIANTS["NP"]) and not is_paper_variant(spec)


def test_a_custom_variant_may_be_the_baseline():
    config = study({"NP+CIFG": NP_CIFG}, ["V", "NP+CIFG"])
    config["analysis"]["baseline"] = "NP+CIFG"
    validate_config(config)


# --- the trial key and the rerun trigger ---------------------------------------------------------

KEY_HYPERPARAMETERS = {
    "learning_rate": 0.001,
    "hidden_size": 100,
    "momentum": 0.9,
    "input_noise_std": 0.0,
}


def test_the_paper_variants_trial_keys_are_unchanged():
    """Values computed by the code before custom variants existed: a published set of records
    is filed under these keys."""
    settings = TrialSettings(max_epochs=10, patience=3)
    address = TrialAddress("jsb", "V", 3, 42, 12345)
    expected = "20ba019a6776f69f2a8a309fe517ffc8b150da922eeac5bf429aa4b9fe9f43f3"
    assert trial_key(address, KEY_HYPERPARAMETERS, settings, "abc123") == expected
    assert trial_key(address, KEY_HYPERPARAMETERS, settings, "abc123", VARIANTS["V"]) == expected
    address = TrialAddress("timit", "CIFG", 0, 1, 7)
    settings = TrialSettings(max_epochs=5, patience=2, bidirectional=True)
    expected = "b9a416e19036eef8bc64e1b67e1bafed05d48e29cf794cb44d9a15c85cdc1d16"
    assert trial_key(address, KEY_HYPERPARAMETERS, settings, "d", VARIANTS["CIFG"]) == expected


def test_a_custom_variants_switches_are_part_of_its_key_and_its_params():
    settings = TrialSettings(max_epochs=10, patience=3)
    address = TrialAddress("jsb", "Mine", 0, 42, 1)
    keys = {
        trial_key(address, KEY_HYPERPARAMETERS, settings, "d", custom_variant("Mine", changes))
        for changes in ({"peepholes": False}, NP_CIFG, {"output_gate": False})
    }
    assert len(keys) == 3
    with pytest.raises(ValueError, match="pass its spec"):
        trial_key(address, KEY_HYPERPARAMETERS, settings, "d")

    config = validate_config(study({"NP+CIFG": NP_CIFG}, ["V", "NP", "NP+CIFG", "GRU"]))
    plain = trial_identity_settings(config, "jsb")
    assert trial_identity_settings(config, "jsb", "V") == plain
    assert trial_identity_settings(config, "jsb", "NP") == plain
    custom = trial_identity_settings(config, "jsb", "NP+CIFG")
    assert custom["variant_spec"] == {
        "cell": "lstm",
        **switches(variant_spec_of(config, "NP+CIFG")),
    }
    assert trial_identity_settings(config, "jsb", "GRU")["variant_spec"]["cell"] == "gru"


def test_a_custom_trial_trains_and_records_its_switches(tmp_path):
    data = tiny_next_step_data(tmp_path / "data.h5")
    spec = custom_variant("NP+CIFG", NP_CIFG)
    address = TrialAddress("jsb", "NP+CIFG", 0, 1, 1234)
    settings = TrialSettings(max_epochs=1, patience=1, implementation="auto")
    record = run_trial(
        data, tmp_path / "r.json", address, HYPERPARAMETERS, settings, variant_spec=spec
    )
    assert record["variant"] == "NP+CIFG" and record["status"] == "ok"
    assert record["variant_spec"] == {"cell": "lstm", **switches(spec)}
    assert record["parameter_count"] == network_parameter_count(spec, 6, 5, 6)
    with pytest.raises(ValueError, match="named"):
        run_trial(
            data,
            tmp_path / "s.json",
            address,
            HYPERPARAMETERS,
            settings,
            variant_spec=VARIANTS["NP"],
        )


# --- the analysis --------------------------------------------------------------------------------


def test_findings_give_the_other_variants_a_row_with_their_parameter_counts():
    rng = np.random.default_rng(0)
    frames = []
    for variant, count in (("V", 1000), ("NP+CIFG", 800), ("GRU", 700)):
        frame = pd.DataFrame(
            {
                "task": "jsb",
                "variant": variant,
                "index": range(8),
                "hidden_size": rng.integers(20, 100, 8),
                "learning_rate": 10 ** rng.uniform(-4, -2, 8),
                "momentum": rng.uniform(0, 0.9, 8),
                "input_noise": rng.uniform(0, 1, 8),
                "diverged": False,
                "exploded": False,
                "parameter_count": count,
            }
        )
        frame["valid_metric"] = frame["test_metric"] = rng.normal(10, 1, 8)
        frames.append(frame)
    dimensions = search_dimensions(
        {
            "hidden_size": {"distribution": "log_uniform_int", "low": 20, "high": 100},
            "learning_rate": {"distribution": "log_uniform", "low": 1e-4, "high": 1e-2},
            "momentum": {"distribution": "uniform", "low": 0.0, "high": 0.9},
            "input_noise": {"distribution": "uniform", "low": 0.0, "high": 1.0},
        }
    )
    findings = task_findings(
        pd.concat(frames, ignore_index=True), dimensions, FindingsSettings(best_fraction=1.0)
    ).set_index("finding")
    other = findings.loc["other variants", "statistic"]
    assert other.index("NP+CIFG") < other.index("GRU")  # the config's (the table's) order
    assert "800 parameters" in other and "700 parameters" in other
    # finding 1 is about the paper's nine only
    assert "GRU" not in findings.loc["1", "statistic"]
    assert "NP+CIFG" not in findings.loc["1", "statistic"]


# --- end to end ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_study_with_a_custom_variant_and_the_gru_runs_end_to_end(tmp_path):
    corpus = tmp_path / "jsb.json"
    corpus.write_text(json.dumps(boulanger_corpus()))
    config = small_jsb_study(corpus)
    config["variants"] = ["V", "GRU", "NP+CIFG", "NP"]
    config["custom_variants"] = {"NP+CIFG": NP_CIFG}
    config["implementation"] = "auto"
    write_study_config(tmp_path, config)
    result = run_snakemake(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]

    results = tmp_path / "results" / "default"
    trials = read_table(results / "jsb" / "trials.tsv")
    # the paper's first, then the study's extras in its config's order
    assert list(dict.fromkeys(trials["variant"])) == ["V", "NP", "GRU", "NP+CIFG"]
    counts = trials.groupby("variant", sort=False)["parameter_count"].first()
    assert counts["GRU"] < counts["V"] and counts["NP+CIFG"] < counts["NP"]
    welch = read_table(results / "jsb" / "welch.tsv")
    assert list(welch["variant"]) == ["V", "NP", "GRU", "NP+CIFG"]
    findings = read_table(results / "jsb" / "findings.tsv").set_index("finding")
    assert "NP+CIFG" in findings.loc["other variants", "statistic"]
    record = json.loads((results / "trials" / "jsb" / "NP+CIFG" / "0.json").read_text())
    assert record["variant_spec"]["coupled_input_forget"] is True
    assert "variant_spec" not in json.loads((results / "trials/jsb/NP/0.json").read_text())

    # editing the custom variant's switches reruns its trials, and only those
    edited = copy.deepcopy(config)
    edited["custom_variants"]["NP+CIFG"]["output_activation"] = "identity"
    write_study_config(tmp_path, edited)
    planned = planned_jobs(tmp_path)
    assert planned["train_trial"] == config["tasks"]["jsb"]["training"]["trials"], planned
