"""`lstm-odyssey status`: counts, best metric, CPU-hours and the estimate, worked by hand."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lstm_odyssey.analysis.status import format_status, remaining_cpu_seconds, study_status
from lstm_odyssey.cli import main

CONFIG = {
    "study_seed": 5,
    "variants": ["V", "NP"],
    "tasks": {
        "jsb": {"training": {"trials": 4, "max_epochs": 10}},
        "timit": {"training": {"trials": 2, "max_epochs": 20}},
    },
}


def write_record(
    results: Path,
    task,
    variant,
    index,
    *,
    status="ok",
    valid=1.0,
    epochs=4,
    seconds=40.0,
    threads=1,
):
    path = results / "trials" / task / variant / f"{index}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "status": status,
        "metric": "nll",
        "best_valid_metric": None if status == "diverged" else valid,
        "epochs": [{"epoch": e + 1} for e in range(epochs)],
        "train_seconds": seconds,
        "provenance": {"threads": threads},
    }
    path.write_text(json.dumps(record))
    return path


@pytest.fixture
def results(tmp_path):
    results = tmp_path / "results"
    write_record(results, "jsb", "V", 0, valid=8.5, epochs=4, seconds=40.0)  # 10 s per epoch
    write_record(results, "jsb", "V", 1, valid=8.2, epochs=6, seconds=120.0, threads=2)  # 40
    write_record(results, "jsb", "V", 2, status="diverged", epochs=2, seconds=10.0)  # 5
    running = results / "trials" / "jsb" / "NP" / "0.json.ckpt"
    running.parent.mkdir(parents=True)
    running.write_bytes(b"checkpoint")
    write_record(results, "jsb", "NP", 1, valid=9.0, epochs=10, seconds=50.0)  # 5 per epoch
    (results / "trials" / "jsb" / "NP" / "2.json").write_text("{broken")
    return results


def test_each_cell_counts_what_the_results_tree_holds(results):
    cells = {(c.task, c.variant): c for c in study_status(CONFIG, results)}
    v, np_ = cells["jsb", "V"], cells["jsb", "NP"]
    assert (v.done, v.diverged, v.running, v.missing) == (3, 1, 0, 1)
    assert v.best_valid_metric == 8.2 and v.epochs == 12
    assert v.cpu_seconds == pytest.approx(40 + 240 + 10)  # train seconds x threads
    assert (np_.done, np_.running, np_.missing) == (1, 1, 2)  # the broken file counts as missing
    assert cells["timit", "V"].missing == 2 and cells["timit", "V"].best_valid_metric is None


def test_what_remains_is_estimated_from_the_finished_trials(results):
    cells = study_status(CONFIG, results)
    # jsb V: 1 left x mean(10, 40, 5) s/epoch x mean(4, 6, 2) epochs = 18.33 x 4 = 73.3
    # jsb NP: 3 left x 5 s/epoch x 10 epochs = 150; timit: nothing measured, not estimated
    assert remaining_cpu_seconds(cells, CONFIG) == pytest.approx(55 / 3 * 4 + 150)
    text = format_status(cells, CONFIG)
    assert "4 of 12 trials done (1 diverged), 1 running" in text
    assert "no finished trial yet to estimate timit" in text


def test_a_variant_without_finished_trials_takes_its_tasks_mean(results):
    config = {**CONFIG, "variants": ["V", "NP", "CIFG"]}
    cells = study_status(config, results)
    base = remaining_cpu_seconds(study_status(CONFIG, results), CONFIG)
    # CIFG: 4 trials x (task mean 60 s/epoch over 4 trials = 15) x (22 / 4 epochs) = 330
    assert remaining_cpu_seconds(cells, config) == pytest.approx(base + 4 * 15 * 5.5)


def test_the_command_reads_a_config_file_and_is_quick(tmp_path, capsys):
    results = tmp_path / "results"
    for index in range(200):
        write_record(results, "jsb", "V", index, valid=8.0 + index / 1000, epochs=20)
    config = Path(__file__).parents[1] / ".test" / "config" / "config.yaml"
    started = time.perf_counter()
    assert main(["--config", str(config), "status", "--results", str(results)]) == 0
    assert time.perf_counter() - started < 5.0
    out = capsys.readouterr().out
    assert "jsb        V" in out and "CPU-hours spent" in out


def test_snakemake_status_prints_the_same_table(tmp_path):
    import subprocess
    import sys

    import yaml

    repo = Path(__file__).parents[1]
    config = yaml.safe_load((repo / ".test" / "config" / "config.yaml").read_text())
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    write_record(tmp_path / "results" / "default", "jsb", "V", 0, valid=8.5)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"), "--cores", "1"]
        + ["status"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = config["tasks"]["jsb"]["training"]["trials"] * len(config["variants"])
    assert f"1 of {trials} trials done" in result.stdout
    assert (
        (tmp_path / "logs" / "default" / "status" / "status.log")
        .read_text()
        .strip()
        .endswith("CPU-hours to go")
    )
