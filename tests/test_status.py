"""`lstm-odyssey status`: the trial states, best metric, CPU-hours, the estimate and ETA worked
by hand, and `--watch` redrawing the table."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from lstm_odyssey.analysis.status import (
    STALE_FALLBACK_SECONDS,
    format_status,
    remaining,
    remaining_cpu_seconds,
    status_renderable,
    study_status,
    summary_lines,
    watch_status,
)
from lstm_odyssey.cli import main
from lstm_odyssey.joblog import job_logging

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
    study_seed=5,
):
    path = results / "trials" / task / variant / f"{index}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "study_seed": study_seed,
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
    # The unreadable record is a failure (the workflow sets it aside and retrains the trial).
    assert (np_.done, np_.running, np_.failed, np_.missing) == (1, 1, 1, 1)
    assert np_.failed_trials == [2] and np_.metric_unit == "nats/step"
    assert cells["timit", "V"].missing == 2 and cells["timit", "V"].best_valid_metric is None


def test_what_remains_is_estimated_from_the_finished_trials(results):
    cells = study_status(CONFIG, results)
    # jsb V: 1 left x mean(10, 40, 5) s/epoch x mean(4, 6, 2) epochs = 18.33 x 4 = 73.3
    # jsb NP: 3 left x 5 s/epoch x 10 epochs = 150; timit: nothing measured, not estimated
    assert remaining_cpu_seconds(cells, CONFIG) == pytest.approx(55 / 3 * 4 + 150)
    text = format_status(cells, CONFIG)
    assert "4 of 12 trials done (1 diverged), 1 running, 0 stale, 1 failed, 6 missing" in text
    assert "not enough measured yet for timit" in text
    assert "failed (their job logs say why; the next run retrains them): jsb/NP/2" in text
    # The metric is named, with its unit: nll in nats per time step.
    assert re.search(r"jsb\s+V\s+3\s+0\s+0\s+1\s+0\s+1\s+nll\s+8\.2 nats/step", text), text


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
    assert re.search(r"jsb\s+V\s+3\s", out) and "CPU-hours spent" in out


def test_snakemake_status_prints_the_same_table(tmp_path):
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
    log = (tmp_path / "logs" / "default" / "status" / "status.log").read_text()
    assert f"1 of {trials} trials done" in log and "CPU-hours spent" in log


# --- the states of a trial without a record -------------------------------------------------


def age(path: Path, seconds: float) -> Path:
    """Make `path` look last written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def trial_log(results: Path, task: str, variant: str, index: int) -> Path:
    """Where the workflow's training job logs (logs/<study>/train/..., beside results/)."""
    path = results.parent.parent / "logs" / results.name / "train" / task / variant / f"{index}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def study(tmp_path):
    """results/<study> as the workflow lays it out, with jsb's longest epoch 20 s (V/1)."""
    results = tmp_path / "results" / "study"
    write_record(results, "jsb", "V", 0, valid=8.5, epochs=4, seconds=40.0)
    write_record(results, "jsb", "V", 1, valid=8.2, epochs=6, seconds=120.0)
    return results


def cell(results, task="jsb", variant="NP", **keywords):
    return {(c.task, c.variant): c for c in study_status(CONFIG, results, **keywords)}[
        task, variant
    ]


def test_a_checkpoint_nobody_wrote_for_longer_than_an_epoch_takes_is_stale(study):
    trials = study / "trials" / "jsb" / "NP"
    trials.mkdir(parents=True)
    # jsb's longest epoch is 20 s: a trial is stale after max(2 x 20 s, 120 s) = 120 s.
    (trials / "0.json.ckpt").write_bytes(b"checkpoint")
    (trials / "1.json.ckpt").write_bytes(b"checkpoint")
    age(trials / "0.json.ckpt", 100)
    age(trials / "1.json.ckpt", 130)
    np_ = cell(study)
    assert (np_.running, np_.stale, np_.missing) == (1, 1, 2) and np_.stale_trials == [1]
    text = format_status(study_status(CONFIG, study), CONFIG)
    assert "the next run resumes them): jsb/NP/1" in text
    # A log the job wrote a moment ago keeps an old checkpoint running (checkpoints may be
    # saved less often than epochs end: checkpoint_interval_seconds).
    trial_log(study, "jsb", "NP", 1).write_text("... INFO lstm_odyssey.training.trial: started\n")
    assert cell(study).stale == 0
    # --stale-after overrides the measured time.
    assert cell(study, stale_after=10.0).stale == 1


def test_a_task_with_nothing_measured_waits_the_fallback_before_calling_a_trial_stale(study):
    trials = study / "trials" / "timit" / "V"
    trials.mkdir(parents=True)
    (trials / "0.json.ckpt").write_bytes(b"checkpoint")
    (trials / "1.json.ckpt").write_bytes(b"checkpoint")
    age(trials / "0.json.ckpt", STALE_FALLBACK_SECONDS - 60)
    age(trials / "1.json.ckpt", STALE_FALLBACK_SECONDS + 60)
    timit = cell(study, "timit", "V")
    assert (timit.running, timit.stale) == (1, 1)


def test_a_failed_job_or_a_set_aside_record_is_a_failed_trial(study):
    trials = study / "trials" / "jsb" / "NP"
    trials.mkdir(parents=True)
    # 0: the job failed (its log says so, as job_logging writes it).
    with pytest.raises(SystemExit), job_logging(trial_log(study, "jsb", "NP", 0)):
        raise RuntimeError("out of memory")
    # 1: collect_task set its broken record aside; nothing has run it since.
    (trials / "1.json.broken").write_text("{")
    # 2: the file in the record's place is not JSON.
    (trials / "2.json").write_text("{")
    np_ = cell(study)
    assert (np_.failed, np_.failed_trials, np_.missing) == (3, [2, 0, 1], 1)
    # A new attempt truncates the log: the trial runs again.
    trial_log(study, "jsb", "NP", 0).write_text("")
    assert (cell(study).running, cell(study).failed) == (1, 2)


def test_status_reads_the_training_jobs_real_log(study, tmp_path):
    """The epochs a running trial has run, and its end, come from the log `run_trial` writes."""
    from lstm_odyssey.training.trial import TrialSettings, run_trial
    from tests.helpers import ADDRESS, HYPERPARAMETERS, tiny_next_step_data

    data = tiny_next_step_data(tmp_path / "data.h5")
    record = study / "trials" / "jsb" / "NP" / "0.json"
    log = trial_log(study, "jsb", "NP", 0)
    settings = TrialSettings(max_epochs=3, patience=5, implementation="reference")
    address = dataclasses.replace(ADDRESS, variant="NP", study_seed=CONFIG["study_seed"])
    with job_logging(log):
        run_trial(data, record, address, HYPERPARAMETERS, settings)
    assert cell(study).done == 1
    record.unlink()  # deleted since it ended: missing, to be retrained
    assert (cell(study).missing, cell(study).running) == (4, 0)
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-2]) + "\n")  # as it read during epoch 3
    assert cell(study).running_epochs == [2]


def test_records_of_another_study_seed_are_not_counted(study):
    write_record(study, "jsb", "NP", 0, valid=1.0, study_seed=99)
    np_ = cell(study)
    assert (np_.done, np_.other_study, np_.missing, np_.best_valid_metric) == (0, 1, 4, None)
    text = format_status(study_status(CONFIG, study), CONFIG)
    assert "(1 records of another study_seed in this folder are not counted" in text


# --- the estimate and the ETA, worked by hand ------------------------------------------------

ETA_CONFIG = {
    "study_seed": 5,
    "variants": ["V"],
    "threads_per_trial": 1,
    "tasks": {"jsb": {"training": {"trials": 4, "max_epochs": 10}}},
}


def test_the_eta_spreads_the_trials_left_over_the_parallel_jobs(tmp_path):
    results = tmp_path / "results" / "study"
    # Wall seconds per epoch 600 and 1200 (mean 900), CPU 600 and 2400 (two threads; mean
    # 1500), epochs 4 and 6 (mean 5): a trial left takes 4500 s, 7500 CPU-s.
    write_record(results, "jsb", "V", 0, epochs=4, seconds=2400.0)
    write_record(results, "jsb", "V", 1, epochs=6, seconds=7200.0, threads=2)
    # Trial 2 runs; its log says 3 epochs are done: 2 left, 1800 s, 3000 CPU-s. Trial 3 waits.
    (results / "trials" / "jsb" / "V" / "2.json.ckpt").write_bytes(b"checkpoint")
    trial_log(results, "jsb", "V", 2).write_text(
        "".join(
            f"2025-01-01 10:0{e}:00,000 INFO lstm_odyssey.training.trial: jsb/V/2 epoch {e}/10: "
            f"train loss 1.0000 nats/frame, valid nll 8.0000 nats/step (best ...), 900.0 s\n"
            for e in (1, 2, 3)
        )
    )
    cells = study_status(ETA_CONFIG, results)
    left = remaining(cells, ETA_CONFIG)
    assert left.cpu_seconds == pytest.approx(3000 + 7500)
    assert left.trial_seconds == pytest.approx(1800 + 4500)
    assert left.longest_trial_seconds == pytest.approx(4500)
    assert left.eta_seconds(1) == pytest.approx(6300)  # one after the other
    assert left.eta_seconds(4) == pytest.approx(4500)  # together: the longest one
    now = time.mktime((2025, 1, 1, 12, 0, 0, 0, 0, -1))
    one_job = summary_lines(cells, ETA_CONFIG, jobs=1, now=now)
    assert one_job[1] == (
        "to go: about 2.92 CPU-hours; with 1 parallel job about 1 h 45 min "
        "(done around Wed 01 Jan 13:45)"
    )
    assert "with 4 parallel jobs about 1 h 15 min" in summary_lines(cells, ETA_CONFIG, jobs=4)[1]


def test_with_nothing_measured_the_estimate_says_so_instead_of_zero(tmp_path):
    results = tmp_path / "results" / "study"
    (results / "trials" / "jsb" / "V").mkdir(parents=True)
    (results / "trials" / "jsb" / "V" / "0.json.ckpt").write_bytes(b"checkpoint")
    text = format_status(study_status(ETA_CONFIG, results), ETA_CONFIG, jobs=2)
    assert "0 of 4 trials done (0 diverged), 1 running, 0 stale, 0 failed, 3 missing" in text
    assert "to go: not enough measured yet (no trial has finished)" in text
    assert "0.00 CPU-hours;" not in text and "to go: about" not in text


# --- watching -----------------------------------------------------------------------------------


def test_watch_redraws_what_the_results_tree_holds_now(tmp_path):
    results = tmp_path / "results" / "study"
    drawn = []

    def render():
        # A trial finishes between two drawings.
        write_record(results, "jsb", "V", len(drawn), epochs=2, seconds=4.0)
        drawn.append(1)
        return status_renderable(study_status(ETA_CONFIG, results), ETA_CONFIG, jobs=1)

    out = io.StringIO()
    watch_status(render, Console(file=out, width=120), interval=0.01, refreshes=3)
    text = out.getvalue()
    assert len(drawn) == 3
    counts = [line.split(" trials done")[0] for line in text.splitlines() if "done (" in line]
    assert counts == ["1 of 4", "2 of 4", "3 of 4"]


def test_watch_on_a_terminal_redraws_in_place(tmp_path):
    drawn = []

    def render():
        drawn.append(1)
        return f"drawing {len(drawn)}"

    out = io.StringIO()
    watch_status(render, Console(file=out, force_terminal=True), interval=0.01, refreshes=3)
    assert len(drawn) == 3
    assert out.getvalue().count("\r\x1b[2K") >= 2  # back to the line start, the line cleared


def test_status_watch_from_the_command_line(study, capsys):
    config = Path(__file__).parents[1] / ".test" / "config" / "config.yaml"
    arguments = ["status", "--config", str(config), "--results", str(study), "--watch"]
    assert main([*arguments, "--interval", "0", "--max-refreshes", "2", "--jobs", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("trials done") == 2 and "with 3 parallel jobs" in out


def test_status_stays_torch_free(study):
    config = Path(__file__).parents[1] / ".test" / "config" / "config.yaml"
    code = (
        "import sys; from lstm_odyssey.cli import main; "
        f"main(['status', '--config', {str(config)!r}, '--results', {str(study)!r}]); "
        "assert 'torch' not in sys.modules, 'status imported torch'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
