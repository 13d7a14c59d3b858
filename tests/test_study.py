"""Config loading and validation shared by the Snakefile and the command line."""

import copy
from pathlib import Path

import pytest
import yaml

from lstm_odyssey.study import (
    ConfigError,
    hyperparameters_of,
    load_config,
    trial_settings,
    validate_config,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def default_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name):
    config = load_config(REPO / "config" / name)
    assert trial_settings(config, "jsb").max_epochs >= 1


def test_schema_defaults_are_filled_in(default_config):
    config = copy.deepcopy(default_config)
    del config["tasks"]["jsb"]["network"]
    del config["tasks"]["jsb"]["training"]["init_std"]
    del config["analysis"]["fanova"]
    del config["implementation"]
    validate_config(config)
    assert config["tasks"]["jsb"]["network"] == {"bidirectional": False, "layers": 1}
    assert config["tasks"]["jsb"]["training"]["init_std"] == 0.1
    assert config["analysis"]["fanova"]["trees"] == 64
    assert trial_settings(config, "jsb").implementation == "auto"


def test_unknown_key_is_named(default_config):
    default_config["tasks"]["jsb"]["training"]["max_epoch"] = 3
    with pytest.raises(ConfigError, match="max_epoch") as error:
        validate_config(default_config, "my.yaml")
    assert "my.yaml" in str(error.value)


def test_bad_value_is_named_with_its_path(default_config):
    default_config["tasks"]["jsb"]["training"]["patience"] = 0
    with pytest.raises(ConfigError, match=r"tasks\.jsb\.training\.patience"):
        validate_config(default_config)


def test_baseline_must_be_a_configured_variant(default_config):
    default_config["variants"] = ["NP", "CIFG"]
    with pytest.raises(ConfigError, match="baseline"):
        validate_config(default_config)


def test_search_range_errors_name_task_and_dimension(default_config):
    default_config["tasks"]["jsb"]["search"]["learning_rate"]["low"] = 0.0
    with pytest.raises(ConfigError, match=r"tasks\.jsb\.search\.learning_rate"):
        validate_config(default_config)


def test_unreadable_config_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("study_seed: [1\n")
    with pytest.raises(ConfigError, match="broken.yaml"):
        load_config(path)


def test_a_bidirectional_next_step_task_is_a_config_error(default_config):
    default_config["tasks"]["jsb"]["network"]["bidirectional"] = True
    with pytest.raises(ConfigError, match=r"tasks\.jsb\.network\.bidirectional.*next_step"):
        validate_config(default_config, "my.yaml")


@pytest.mark.parametrize(
    ("dimension", "bound", "value", "message"),
    [
        ("learning_rate", "low", -1e-3, r"search\.learning_rate\.low: learning_rate must be > 0"),
        ("input_noise", "low", -0.5, r"search\.input_noise\.low: input_noise must be >= 0"),
        ("momentum", "high", 1.0, r"search\.momentum\.high: momentum must be < 1"),
    ],
)
def test_a_range_outside_what_a_trial_can_use_is_refused_at_load(
    default_config, dimension, bound, value, message
):
    """A uniform learning-rate or noise range below zero used to be accepted and fail later."""
    entry = default_config["tasks"]["jsb"]["search"][dimension]
    entry.update(distribution="uniform", **{bound: value})
    if bound == "low":
        entry["high"] = max(entry["high"], value + 1.0) if dimension != "momentum" else 0.9
    with pytest.raises(ConfigError, match=r"tasks\.jsb\." + message):
        validate_config(default_config)


def test_the_timit_booleans_are_optional_categorical_dimensions(default_config):
    search = default_config["tasks"]["jsb"]["search"]
    search["nesterov"] = {"distribution": "categorical", "choices": [True, False]}
    search["gradient_clipping"] = {"distribution": "categorical", "choices": [True, False]}
    validate_config(default_config)
    sampled = [hyperparameters_of(default_config, "jsb", "V", i) for i in range(12)]
    assert {h["nesterov"] for h in sampled} == {True, False}
    assert {type(h["gradient_clipping"]) for h in sampled} == {bool}
    search["nesterov"]["choices"] = ["yes", "no"]
    with pytest.raises(ConfigError, match=r"tasks\.jsb\.search\.nesterov"):
        validate_config(default_config)
