"""`snakemake interim`: the tables, figures and report of the trials finished so far, marked as
interim, without touching the running study's files or its final outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lstm_odyssey.conventions import LOSS_CONVENTION
from lstm_odyssey.paths import study_paths
from lstm_odyssey.plots import comparison, fanova, fanova_figures
from lstm_odyssey.plots.interim import write_interim_results
from lstm_odyssey.study import validate_config
from lstm_odyssey.trial_record import RECORD_VERSION, record_problems
from tests.helpers import REPO, planned_jobs, run_snakemake, small_jsb_study, write_study_config


def valid_record(task: str, variant: str, index: int, study_seed: int = 11) -> dict:
    """A record that keeps the contract (`trial_record`), its numbers made up from its address."""
    rate = 1e-3 * (1 + index + 3 * (variant != "V"))
    epochs = [
        {"epoch": e, "train_loss": 10.0 / e, "valid_metric": 9.0 - e * rate * 100, "seconds": 2.0}
        for e in (1, 2)
    ]
    record = {
        "record_version": RECORD_VERSION,
        "trial_key": f"{task}-{variant}-{index}",
        "task": task,
        "variant": variant,
        "index": index,
        "study_seed": study_seed,
        "seed": 1000 + index,
        "task_kind": "next_step",
        "metric": "nll",
        "hyperparameters": {
            "hidden_size": 4 + index,
            "learning_rate": rate,
            "momentum": 0.1 * index,
            "input_noise": 0.05 * index,
        },
        "settings": {"loss_convention": LOSS_CONVENTION},
        "parameter_count": 100 + index,
        "status": "ok",
        "stop_reason": "max_epochs",
        "epochs": epochs,
        "best_valid_epoch": 2,
        "best_valid_metric": epochs[-1]["valid_metric"],
        "test_metric": epochs[-1]["valid_metric"] + 0.1,
        "train_seconds": 4.0,
        "provenance": {"data_hash": "0" * 64, "data_source": "boulanger", "threads": 1},
    }
    assert record_problems(record) == []
    return record


def write_records(paths, trials: dict[str, list[int]], **keywords) -> list[Path]:
    written = []
    for variant, indices in trials.items():
        for index in indices:
            path = Path(paths.trial_record("jsb", variant, index))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(valid_record("jsb", variant, index, **keywords)))
            written.append(path)
    return written


@pytest.fixture
def half_finished(tmp_path):
    """A study of 2 variants x 4 trials: 5 records finished, a broken one, another seed's one."""
    config = validate_config(small_jsb_study(tmp_path / "corpus.json", trials=4))
    paths = study_paths(config, results_root=tmp_path / "results")
    write_records(paths, {"V": [0, 1, 2], "NP": [0, 1]})
    Path(paths.trial_record("jsb", "NP", 2)).write_text("{")
    write_records(paths, {"NP": [3]}, study_seed=99)
    return config, paths


def figure_titles(monkeypatch) -> dict[str, str]:
    """The titles of every figure saved from now on, by file name."""
    titles = {}
    for module in (comparison, fanova, fanova_figures):
        save = module.atomic_savefig

        def capture(figure, path, save=save, **keywords):
            texts = [axis.get_title() for axis in figure.axes]
            if figure._suptitle is not None:
                texts.append(figure._suptitle.get_text())
            titles[Path(path).name] = "\n".join(texts)
            return save(figure, path, **keywords)

        monkeypatch.setattr(module, "atomic_savefig", capture)
    return titles


def test_interim_results_come_from_the_trials_finished_so_far_and_say_so(
    half_finished, monkeypatch
):
    config, paths = half_finished
    records = sorted(p for p in Path(paths.trials_directory).rglob("*") if p.is_file())
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in records}
    titles = figure_titles(monkeypatch)

    interim = write_interim_results(config, paths)

    note = "interim: 5 of 8 trials"
    assert interim.note() == note
    folder = Path(paths.interim_directory)
    for role in ("trials", "epochs", "welch", "fanova_importance"):
        table = pd.read_csv(paths.interim_task_output(role, "jsb"), sep="\t")
        assert set(table["interim"]) == {note}, role
    assert len(pd.read_csv(paths.interim_study_table, sep="\t")) == 5
    for role in ("boxplot", "learning_curves", "fanova_marginals", "fanova_pies", "fanova_pairs"):
        name = Path(paths.interim_task_output(role, "jsb")).name
        assert (folder / "jsb" / name).stat().st_size > 0
        assert note in titles[name], (name, titles[name])
    report = Path(paths.interim_report).read_text()
    assert report.splitlines()[0] == f"# Study default, interim results ({note})"
    assert "2 record(s) left out" in report
    assert "NP/2.json: not readable as JSON" in report
    assert "NP/3.json: a record of study_seed 99, not this study's 11" in report
    assert "![box plot](jsb/variant_boxplot.png)" in report
    # Nothing of the running study was touched: records, the broken one (not set aside), and
    # no final output was made.
    assert sorted(p for p in Path(paths.trials_directory).rglob("*") if p.is_file()) == records
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in records} == before
    assert not Path(paths.task_output("trials", "jsb")).exists()
    assert not Path(paths.study_table).exists()


def test_a_later_interim_replaces_the_earlier_one_whole(half_finished):
    config, paths = half_finished
    write_interim_results(config, paths)
    write_records(paths, {"NP": [2]})  # the broken one was retrained
    assert write_interim_results(config, paths).note() == "interim: 6 of 8 trials"
    table = pd.read_csv(paths.interim_task_output("trials", "jsb"), sep="\t")
    assert set(table["interim"]) == {"interim: 6 of 8 trials"} and len(table) == 6
    assert not Path(paths.interim_directory + ".building").exists()


def test_without_a_finished_baseline_trial_there_is_no_comparison_yet(tmp_path):
    config = validate_config(small_jsb_study(tmp_path / "corpus.json", trials=4))
    paths = study_paths(config, results_root=tmp_path / "results")
    write_records(paths, {"NP": [0, 1]})
    assert write_interim_results(config, paths).note() == "interim: 2 of 8 trials"
    report = Path(paths.interim_report).read_text()
    assert "No V (baseline) trial has finished yet: no Welch test, no box plot." in report
    assert not Path(paths.interim_task_output("welch", "jsb")).exists()
    assert Path(paths.interim_task_output("learning_curves", "jsb")).exists()


def test_interim_is_no_parent_of_a_training_job(tmp_path):
    """`snakemake interim` plans the interim job alone: it never trains a missing trial."""
    config = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
    write_study_config(tmp_path, config)
    result = run_snakemake(tmp_path, "interim", "--dry-run", cores=1)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = [line.split() for line in result.stdout.splitlines() if line.strip()]
    assert ["interim", "1"] in jobs and ["total", "1"] in jobs, result.stdout


@pytest.mark.slow
def test_snakemake_interim_on_a_half_finished_tiny_study(tmp_path):
    config = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
    write_study_config(tmp_path, config)
    paths = study_paths(validate_config(config))
    finished = [paths.trial_record("jsb", v, i) for v, i in (("V", 0), ("V", 1), ("NP", 0))]
    result = run_snakemake(tmp_path, *finished, cores=1)
    assert result.returncode == 0, result.stderr[-3000:]

    result = run_snakemake(tmp_path, "interim", cores=1)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / paths.interim_report).read_text()
    assert report.startswith("# Study default, interim results (interim: 3 of 9 trials)")
    assert not (tmp_path / paths.study_table).exists()
    # The study goes on as if nothing happened: its 6 other trials are still to train.
    assert planned_jobs(tmp_path)["train_trial"] == 6
