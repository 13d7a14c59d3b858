"""A study is what its config file says, in a results folder of its own.

- `--configfile X` is the whole study: no task of the default config is merged in.
- Each study writes under results/<study_name>/; a folder holds one study seed's trials, and a
  second study beside a first never replaces its records; `status` counts only its own.
- The device a trial runs on is not part of its identity (moving to GPU nodes retrains nothing).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from lstm_odyssey.analysis.status import format_status, study_status
from lstm_odyssey.cli import main
from lstm_odyssey.paths import StudyPaths, study_paths
from lstm_odyssey.study import (
    ConfigError,
    claim_study_directory,
    load_config,
    trial_identity_settings,
    validate_config,
)
from lstm_odyssey.training.trial import TrialAddress, TrialSettings, trial_key
from tests.helpers import planned_jobs, run_snakemake

REPO = Path(__file__).resolve().parents[1]
TINY = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())


def _dry_run(directory: Path, *arguments: str) -> dict[str, int]:
    return planned_jobs(directory, *arguments)


def _write_record(paths: StudyPaths, task: str, variant: str, index: int, study_seed: int):
    path = Path(paths.trial_record(task, variant, index))
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"status": "ok", "study_seed": study_seed, "best_valid_metric": 8.0}
    record |= {"epochs": [{}, {}], "train_seconds": 10.0, "metric": "nll"}
    path.write_text(json.dumps(record))


def test_a_configfile_is_the_whole_study_nothing_of_the_default_merged_in(tmp_path):
    """A TIMIT-only copy of the paper's config planned the default's JSB and IAM-OnDB too."""
    for split in ("TRAIN", "TEST"):
        (tmp_path / "timit" / split / "DR1").mkdir(parents=True)
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    timit_only = {**paper, "tasks": {"timit": paper["tasks"]["timit"]}}
    timit_only["tasks"]["timit"]["data"]["path"] = str(tmp_path / "timit")
    (tmp_path / "timit-paper.yaml").write_text(yaml.safe_dump(timit_only))
    (tmp_path / "config").mkdir()  # the default config, as in a checkout
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())

    planned = _dry_run(tmp_path, "--configfile", "timit-paper.yaml")
    assert planned["train_trial"] == 200 * 9
    assert planned["prepare_data"] == 1
    assert "synthesize_corpus" not in planned  # the default's IAM-OnDB stand-in stayed out

    # Single keys still override it, and the default config alone is still the default.
    planned = _dry_run(tmp_path, "--configfile", "timit-paper.yaml", "--config", "variants=[V]")
    assert planned["train_trial"] == 200
    default = load_config(REPO / "config" / "config.yaml")
    expected = sum(t["training"]["trials"] for t in default["tasks"].values()) * 9
    assert _dry_run(tmp_path)["train_trial"] == expected


def test_status_reads_the_config_it_is_given_exactly(tmp_path, capsys):
    config = {**copy.deepcopy(TINY), "study_name": "tiny"}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    paths = StudyPaths("tiny", results_root=str(tmp_path / "results"))
    _write_record(paths, "jsb", "V", 0, study_seed=TINY["study_seed"])
    # `--config` after the command, as people type it; the folder comes from study_name.
    arguments = ["status", "--config", str(tmp_path / "tiny.yaml"), "--results", paths.directory]
    assert main(arguments) == 0
    out = capsys.readouterr().out
    planned = TINY["tasks"]["jsb"]["training"]["trials"] * len(TINY["variants"])
    assert f"1 of {planned} trials done" in out
    assert "timit" not in out and "iam_ondb" not in out  # nothing of the default config


def test_each_study_has_its_own_results_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = validate_config({**copy.deepcopy(TINY)})
    second = validate_config({**copy.deepcopy(TINY), "study_name": "seed3", "study_seed": 3})
    assert study_paths(first).directory == "results/default"
    assert study_paths(second).directory == "results/seed3"
    assert claim_study_directory(first) == "results/default"
    assert claim_study_directory(second) == "results/seed3"
    identity = json.loads(Path("results/seed3/study.json").read_text())
    assert identity == {"study_name": "seed3", "study_seed": 3}


def test_a_folder_with_another_seeds_trials_is_refused_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = validate_config({**copy.deepcopy(TINY)})
    claim_study_directory(first)
    other_seed = validate_config({**copy.deepcopy(TINY), "study_seed": 3})
    # No trial yet: the folder may be re-bound (e.g. after a dry run with the wrong seed).
    assert claim_study_directory(other_seed) == "results/default"
    claim_study_directory(first)
    _write_record(study_paths(first), "jsb", "V", 0, study_seed=first["study_seed"])
    with pytest.raises(ConfigError) as caught:
        claim_study_directory(other_seed, "my.yaml")
    message = str(caught.value)
    assert message.startswith(
        f"my.yaml: results/default/ holds the trials of study_seed {TINY['study_seed']}, "
        "and this config has study_seed 3."
    )
    assert "--config study_name=seed3" in message


def test_status_never_counts_another_studys_records(tmp_path):
    config = validate_config({**copy.deepcopy(TINY)})
    paths = StudyPaths("default", results_root=str(tmp_path))
    _write_record(paths, "jsb", "V", 0, study_seed=config["study_seed"])
    _write_record(paths, "jsb", "V", 1, study_seed=config["study_seed"] + 1)
    cells = {c.variant: c for c in study_status(config, paths.directory)}
    assert cells["V"].done == 1 and cells["V"].missing == cells["V"].planned - 1
    assert "1 records of another study_seed in this folder are not counted" in format_status(
        list(cells.values()), config
    )


@pytest.mark.slow
def test_a_second_study_beside_a_first_leaves_it_untouched(tmp_path):
    """Two real `snakemake` runs in one working directory: the first study's files survive."""
    study = {**copy.deepcopy(TINY), "variants": ["V"]}
    study["tasks"]["jsb"]["training"]["trials"] = 2
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(study))

    def run(*arguments):
        result = run_snakemake(tmp_path, *arguments)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result

    run()
    first = tmp_path / "results" / "default"
    record = first / "trials" / "jsb" / "V" / "0.json"
    before = {p: p.read_bytes() for p in (record, first / "trials.tsv")}

    refused = run_snakemake(tmp_path, "-n", "--config", "study_seed=3")
    assert refused.returncode != 0
    assert "--config study_name=seed3" in refused.stdout + refused.stderr

    run("--config", "study_seed=3", "study_name=seed3")
    second = json.loads(
        (tmp_path / "results" / "seed3" / "trials" / "jsb" / "V" / "0.json").read_text()
    )
    assert second["study_seed"] == 3
    assert {p: p.read_bytes() for p in before} == before
    assert (tmp_path / "logs" / "seed3" / "train" / "jsb" / "V" / "0.log").exists()


def test_the_device_is_not_part_of_a_trials_identity():
    """Moving a half-done study to GPU nodes must not retrain its finished trials."""
    config = validate_config({**copy.deepcopy(TINY)})
    identities = []
    for device in ("cpu", "auto", "cuda", "cuda:1"):
        identities.append(trial_identity_settings({**config, "device": device}, "jsb"))
    assert all(identity == identities[0] for identity in identities)
    assert "device" not in identities[0]

    address = TrialAddress("jsb", "V", 0, 5, 123)
    hyperparameters = {"hidden_size": 8, "learning_rate": 1e-3, "momentum": 0.9}
    keys = {
        trial_key(address, hyperparameters, TrialSettings(2, 2, device=device), "data-hash")
        for device in ("cpu", "auto", "cuda")
    }
    assert len(keys) == 1
    other = trial_key(address, hyperparameters, TrialSettings(3, 2), "data-hash")
    assert other not in keys  # the key still tells settings that matter apart


def test_the_reproduction_config_is_the_papers_jsb_protocol(tmp_path):
    """`make reproduce`'s study: all nine variants, the paper's ranges and epochs, on the file
    `make` links into resources/ (here a hand-made Boulanger-format JSON)."""
    from tests.helpers import boulanger_corpus

    config = load_config(REPO / "config" / "reproduce-jsb.yaml")
    paper = load_config(REPO / "config" / "paper.yaml")
    jsb = config["tasks"]["jsb"]
    assert list(config["tasks"]) == ["jsb"] and len(config["variants"]) == 9
    assert jsb["search"] == paper["tasks"]["jsb"]["search"]
    assert {k: jsb["training"][k] for k in ("max_epochs", "patience")} == {
        "max_epochs": 150,
        "patience": 15,
    }
    (tmp_path / "resources").mkdir()
    (tmp_path / jsb["data"]["path"]).write_text(json.dumps(boulanger_corpus()))
    planned = _dry_run(tmp_path, "--configfile", str(REPO / "config" / "reproduce-jsb.yaml"))
    assert planned["train_trial"] == 9 * jsb["training"]["trials"]
    assert (tmp_path / "results" / "reproduce-jsb" / "study.json").exists()
