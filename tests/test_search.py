"""The search space and the trial address -> hyperparameters function."""

import hashlib

import numpy as np
import pytest
from scipy import stats

from lstm_odyssey.search.sampling import trial_hyperparameters, trial_seed
from lstm_odyssey.search.space import dimension_from_config, search_dimensions

PAPER_SEARCH = {
    "hidden_size": {"distribution": "log_uniform_int", "low": 20, "high": 200},
    "learning_rate": {"distribution": "log_uniform", "low": 1e-6, "high": 1e-2},
    "momentum": {"distribution": "one_minus_log_uniform", "low": 0.0, "high": 0.99},
    "input_noise": {"distribution": "uniform", "low": 0.0, "high": 1.0},
}


@pytest.fixture(scope="module")
def paper_samples():
    dimensions = search_dimensions(PAPER_SEARCH)
    return [trial_hyperparameters(dimensions, 7, "jsb", "V", k) for k in range(600)]


def test_trial_k_does_not_depend_on_how_many_trials_the_study_has():
    dimensions = search_dimensions(PAPER_SEARCH)
    small_study = [trial_hyperparameters(dimensions, 1, "jsb", "V", k) for k in range(5)]
    large_study = [trial_hyperparameters(dimensions, 1, "jsb", "V", k) for k in range(200)]
    assert large_study[:5] == small_study


def test_seed_is_a_pure_function_of_the_address():
    # sha256 of "study_seed/task/variant/index", so independent of PYTHONHASHSEED and the
    # process; recomputed here from its definition.
    digest = hashlib.sha256(b"2017/jsb/V/0").digest()
    assert trial_seed(2017, "jsb", "V", 0) == int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
    seeds = {
        trial_seed(2017, t, v, k) for t in ("jsb", "timit") for v in ("V", "NP") for k in range(50)
    }
    assert len(seeds) == 200
    assert trial_seed(2017, "jsb", "V", 0) != trial_seed(2018, "jsb", "V", 0)


def test_samples_stay_in_their_ranges(paper_samples):
    for sample in paper_samples:
        assert 20 <= sample["hidden_size"] <= 200 and isinstance(sample["hidden_size"], int)
        assert 1e-6 <= sample["learning_rate"] <= 1e-2
        assert 0.0 <= sample["momentum"] <= 0.99
        assert 0.0 <= sample["input_noise"] <= 1.0


@pytest.mark.parametrize(
    ("name", "transform", "low", "high"),
    [
        ("learning_rate", np.log, np.log(1e-6), np.log(1e-2)),
        ("momentum", lambda m: np.log(1 - m), np.log(0.01), 0.0),
        ("input_noise", lambda x: x, 0.0, 1.0),
    ],
)
def test_samples_are_uniform_in_the_space_they_are_sampled_in(
    paper_samples, name, transform, low, high
):
    values = transform(np.array([s[name] for s in paper_samples]))
    result = stats.kstest((values - low) / (high - low), "uniform")
    assert result.pvalue > 0.001


def test_search_coordinates_round_trip_and_bounds():
    dimensions = {d.name: d for d in search_dimensions(PAPER_SEARCH)}
    momentum = dimensions["momentum"]
    assert momentum.search_low == pytest.approx(np.log(0.01))
    assert momentum.search_high == pytest.approx(0.0)
    values = np.array([0.0, 0.5, 0.9, 0.99])
    assert np.allclose(momentum.from_search_space(momentum.to_search_space(values)), values)
    rate = dimensions["learning_rate"]
    assert rate.search_low == pytest.approx(np.log(1e-6))


def test_categorical_dimension_codes_and_samples():
    dimension = dimension_from_config(
        "momentum_kind", {"distribution": "categorical", "choices": ["nesterov", "classical"]}
    )
    assert list(dimension.to_search_space(["classical", "nesterov"])) == [1.0, 0.0]
    assert (dimension.search_low, dimension.search_high) == (0.0, 1.0)
    flag = dimension_from_config(
        "clipping", {"distribution": "categorical", "choices": [True, False]}
    )
    assert list(flag.to_search_space(["False", True])) == [1.0, 0.0]  # as read back from a TSV
    samples = {
        trial_hyperparameters([dimension, flag], 1, "timit", "V", k)["momentum_kind"]
        for k in range(40)
    }
    assert samples == {"nesterov", "classical"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"distribution": "gaussian", "low": 0, "high": 1}, "distribution"),
        ({"distribution": "uniform", "low": 1, "high": 0}, "low < high"),
        ({"distribution": "log_uniform", "low": 0, "high": 1}, "positive"),
        ({"distribution": "one_minus_log_uniform", "low": 0, "high": 1.0}, "high < 1"),
        ({"distribution": "categorical", "choices": ["a"]}, "two choices"),
    ],
)
def test_bad_dimension_config_names_the_key(spec, message):
    with pytest.raises(ValueError, match=message) as error:
        dimension_from_config("learning_rate", spec)
    assert "learning_rate" in str(error.value)


def test_what_the_snakefile_imports_stays_light():
    """Every cluster job re-parses the Snakefile: its imports must not pull in torch or pandas."""
    import subprocess
    import sys

    code = (
        "import sys, lstm_odyssey.study, lstm_odyssey.search.space;"
        "print(sorted(m for m in ('torch', 'pandas', 'sklearn', 'h5py') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_reused_space_samples_what_a_freshly_seeded_one_does():
    """trial_hyperparameters reseeds one cached space per search config; a space built anew
    with the trial's seed must give the same configuration, in any call order."""
    from lstm_odyssey.search.space import configuration_space

    dimensions = search_dimensions(
        {
            "hidden_size": {"distribution": "log_uniform_int", "low": 20, "high": 200},
            "learning_rate": {"distribution": "log_uniform", "low": 1e-6, "high": 1e-2},
            "momentum": {"distribution": "one_minus_log_uniform", "low": 0.0, "high": 0.99},
            "nesterov": {"distribution": "categorical", "choices": [True, False]},
        }
    )
    for index in (5, 0, 17, 3, 17):
        seed = trial_seed(2017, "timit", "CIFG", index)
        fresh = configuration_space(dimensions, seed).sample_configuration()
        expected = {d.name: d.natural_value(fresh) for d in dimensions}
        assert trial_hyperparameters(dimensions, 2017, "timit", "CIFG", index) == expected
