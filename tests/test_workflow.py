"""The workflow end to end: a tiny study run by `snakemake` in a temp directory."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import planned_jobs, run_snakemake

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# The tiny study lives as a file, runnable by hand: snakemake --cores 2 --directory .test
TINY_CONFIG = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())


def _study_directory(directory: Path, config: dict) -> Path:
    """A working directory with its own config; the workflow itself is the repository's."""
    (directory / "config").mkdir()
    (directory / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return directory


def _snakemake(directory: Path, *arguments: str) -> subprocess.CompletedProcess:
    return run_snakemake(directory, *arguments)


_planned_jobs = planned_jobs


@pytest.mark.slow
def test_tiny_study_runs_end_to_end_and_reruns_only_what_changed(tmp_path):
    directory = _study_directory(tmp_path, TINY_CONFIG)
    result = _snakemake(directory)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]

    trials = pd.read_csv(directory / "results" / "default" / "trials.tsv", sep="\t")
    assert len(trials) == 9
    assert set(trials["variant"]) == {"V", "NP", "CIFG"}
    assert set(trials["status"]) <= {"ok", "diverged"}
    welch = pd.read_csv(directory / "results" / "default" / "jsb" / "welch.tsv", sep="\t")
    assert list(welch["variant"]) == ["V", "NP", "CIFG"]
    assert set(welch["n"]) == {3}
    for name in (
        "variant_boxplot.png",
        "learning_curves.png",
        "fanova_importance.tsv",
        "fanova_marginals.png",
        "fanova_pies.png",
        "fanova_pairs.png",
    ):
        assert (directory / "results" / "default" / "jsb" / name).stat().st_size > 0, name
    importance = pd.read_csv(
        directory / "results" / "default" / "jsb" / "fanova_importance.tsv", sep="\t"
    )
    assert set(importance["trials"]) == {"all variants", "V", "NP", "CIFG"}
    assert set(importance["metric"]) == {"test_metric", "train_seconds"}
    assert "forest_out_of_bag_r2" in importance.columns
    # Even three trials per variant give split trees, so vanilla's fractions exist. (They sum
    # to 1 by construction: "higher order" is the remainder.)
    vanilla = importance[(importance["trials"] == "V") & (importance["metric"] == "test_metric")]
    assert vanilla["fraction_mean"].notna().all()
    findings = pd.read_csv(directory / "results" / "default" / "jsb" / "findings.tsv", sep="\t")
    assert list(findings["finding"]) == ["1", "2", "3", "4", "5", "6", "trials"]
    # Three best trials a side cannot reach p < 0.05 by any rank test; NFG and NOAF are absent.
    assert set(findings["verdict"].iloc[:3]) == {"cannot tell"}
    assert (directory / "logs" / "default" / "train" / "jsb" / "V" / "0.log").exists()
    assert not list((directory / "results" / "default" / "trials").rglob("*.ckpt"))

    # Nothing changed: nothing to do.
    assert _planned_jobs(directory) == {}
    # More trials: only the new ones train; the old ones are kept.
    more = dict(
        TINY_CONFIG,
        tasks={
            "jsb": {
                **TINY_CONFIG["tasks"]["jsb"],
                "training": {**TINY_CONFIG["tasks"]["jsb"]["training"], "trials": 4},
            }
        },
    )
    (directory / "config" / "config.yaml").write_text(yaml.safe_dump(more))
    assert _planned_jobs(directory)["train_trial"] == 3
    # Another search range for one task reruns its trials, but not the data preparation.
    narrower = yaml.safe_load(yaml.safe_dump(TINY_CONFIG))
    narrower["tasks"]["jsb"]["search"]["input_noise"]["high"] = 0.4
    (directory / "config" / "config.yaml").write_text(yaml.safe_dump(narrower))
    planned = _planned_jobs(directory)
    assert planned["train_trial"] == 9 and "prepare_data" not in planned

    (directory / "config" / "config.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    report = _snakemake(directory, "--report", "report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    assert (directory / "report.html").stat().st_size > 10_000


def _single_task_config(task: str, data: dict, trials: int = 2, epochs: int = 2) -> dict:
    """The tiny study's shape for one bidirectional task on its generated stand-in."""
    config = yaml.safe_load(yaml.safe_dump(TINY_CONFIG))
    config["variants"] = ["V", "NP"]
    config["tasks"] = {
        task: {
            "data": data,
            "network": {"bidirectional": True, "layers": 1},
            "training": {"trials": trials, "max_epochs": epochs, "patience": 2},
            "search": TINY_CONFIG["tasks"]["jsb"]["search"],
        }
    }
    config["analysis"]["best_fraction"] = 1.0
    return config


@pytest.mark.slow
def test_a_tiny_iam_ondb_study_runs_on_its_stand_in(tmp_path):
    from lstm_odyssey.data.iam_ondb.hershey import HERSHEY_DIRECTORY

    if not Path(HERSHEY_DIRECTORY).is_dir():
        pytest.skip(f"{HERSHEY_DIRECTORY} missing: apt-get install hershey-fonts-data")
    data = {
        "source": "synthetic",
        "synthetic": {
            "train_writers": 3,
            "valid_writers": 2,
            "test_writers": 2,
            "lines_per_writer": 3,
        },
    }
    directory = _study_directory(tmp_path, _single_task_config("iam_ondb", data))
    result = _snakemake(directory)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    trials = pd.read_csv(directory / "results" / "default" / "trials.tsv", sep="\t")
    assert len(trials) == 4 and set(trials["metric"]) == {"character_error_rate"}
    assert trials["test_metric"].between(0, 1000).all()
    assert (
        directory / "results" / "default" / "corpora" / "synthetic-iamondb" / "lineStrokes"
    ).is_dir()
    welch = pd.read_csv(directory / "results" / "default" / "iam_ondb" / "welch.tsv", sep="\t")
    assert list(welch["variant"]) == ["V", "NP"]
    assert _planned_jobs(directory) == {}


@pytest.mark.slow
def test_a_tiny_timit_study_runs_on_its_stand_in(tmp_path):
    import ctypes.util

    if ctypes.util.find_library("espeak-ng") is None:
        pytest.skip("libespeak-ng missing: apt-get install espeak-ng")
    data = {
        "source": "synthetic",
        "synthetic": {
            "train_speakers": 3,
            "valid_speakers": 2,
            "test_speakers": 2,
            "sentences_per_speaker": 2,
        },
    }
    config = _single_task_config("timit", data)
    config["tasks"]["timit"]["search"] = {
        **config["tasks"]["timit"]["search"],
        "nesterov": {"distribution": "categorical", "choices": [True, False]},
        "gradient_clipping": {"distribution": "categorical", "choices": [True, False]},
    }
    directory = _study_directory(tmp_path, config)
    result = _snakemake(directory)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    trials = pd.read_csv(directory / "results" / "default" / "trials.tsv", sep="\t")
    assert len(trials) == 4 and set(trials["metric"]) == {"frame_error"}
    assert set(trials["data_source"]) == {"synthetic-timit"}
    assert trials["test_metric"].between(0, 100).all()
    assert {"nesterov", "gradient_clipping"} <= set(trials.columns)
    importance = pd.read_csv(
        directory / "results" / "default" / "timit" / "fanova_importance.tsv", sep="\t"
    )
    assert "nesterov" in set(importance["term"])
    assert _planned_jobs(directory) == {}


def test_a_bad_config_fails_fast_naming_the_key(tmp_path):
    bad = yaml.safe_load(yaml.safe_dump(TINY_CONFIG))
    bad["tasks"]["jsb"]["training"]["max_epoch"] = 3
    directory = _study_directory(tmp_path, bad)
    result = _snakemake(directory, "--dry-run")
    assert result.returncode != 0
    assert "max_epoch" in result.stdout + result.stderr


def test_snakemake_lint_is_clean():
    result = subprocess.run(
        [*SNAKEMAKE, "--lint"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
