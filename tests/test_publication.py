"""A finished study published as a folder: its outputs and records copied, how it ran summarised.

The summary is checked against counts and times worked out by hand from hand-made records; the
publication against the study's own files (byte for byte) and against a study that is not
finished (nothing is written).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lstm_odyssey.paths import TASK_OUTPUTS, StudyPaths
from lstm_odyssey.publication import (
    PUBLISHED_OUTPUTS,
    RECORDS_FOLDER,
    RUN_REPORT_FILE,
    RUN_SUMMARY_FILE,
    publish_study,
    summarise_records,
)
from lstm_odyssey.training.trial import TrialSettings, run_trial
from tests.helpers import ADDRESS, HYPERPARAMETERS, tiny_next_step_data

FINDINGS_TSV = (
    "task\tfinding\tpaper\twording\tstatistic\tverdict\treason\n"
    "jsb\t1. no variant improves on vanilla\tnone ...\tquoted\tNP p=0.3 (better)\tcannot tell\t"
    "too few best trials\n"
)


def _record(task, variant, cpu, isa, started, finished, seconds, status="ok"):
    return {
        "task": task,
        "variant": variant,
        "status": status,
        "train_seconds": seconds,
        "provenance": {
            "cpu": cpu,
            "kernel_isa": isa,
            "implementation": "fast" if isa else "reference",
            "torch": "2.13.0+cpu",
            "git_commit": "fae7c399a3852706ff4d",
            "git_dirty": False,
            "started": started,
            "finished": finished,
        },
    }


def test_the_summary_counts_trials_machines_and_times_by_hand():
    records = [
        _record(
            "jsb",
            "V",
            "EPYC",
            "avx512",
            "2026-12-01T05:00:00+00:00",
            "2026-12-01T05:30:00+00:00",
            1200.0,
        ),
        _record(
            "jsb",
            "V",
            "EPYC",
            "avx512",
            "2026-12-01T05:10:00+00:00",
            "2026-12-01T06:00:00+00:00",
            2400.0,
            status="diverged",
        ),
        _record(
            "jsb",
            "NFG",
            "Xeon",
            None,
            "2026-12-01T04:45:00+00:00",
            "2026-12-01T05:15:00+00:00",
            1800.0,
        ),
    ]
    summary = summarise_records(records)
    assert summary.trials == {"jsb": {"NFG": 1, "V": 2}}
    assert summary.statuses == {"diverged": 1, "ok": 2}
    assert summary.cpus == {"EPYC": 2, "Xeon": 1}
    assert summary.kernel_isa == {"avx512": 2, "none (reference)": 1}
    assert summary.commits == {"fae7c399a385": 3} and summary.dirty_checkouts == 0
    # first start 04:45, last end 06:00: 1.25 h; training 1200 + 2400 + 1800 s = 1.5 h
    assert summary.span_hours == pytest.approx(1.25)
    assert summary.training_hours == pytest.approx(1.5)


def _finished_study(tmp_path):
    """A study folder with two finished records and every published output (stand-in bytes)."""
    study = StudyPaths.at(tmp_path / "results" / "reproduce-jsb")
    data = tiny_next_step_data(tmp_path / "data.h5")
    settings = TrialSettings(max_epochs=2, patience=2, implementation="reference")
    first = run_trial(
        data,
        study.trial_record(ADDRESS.task, ADDRESS.variant, 0),
        ADDRESS,
        HYPERPARAMETERS,
        settings,
    )
    second = copy.deepcopy(first)
    second["variant"] = "NFG"
    second_path = Path(study.trial_record(ADDRESS.task, "NFG", 0))
    second_path.parent.mkdir(parents=True)
    second_path.write_text(json.dumps(second))
    for role in PUBLISHED_OUTPUTS:
        path = tmp_path / study.task_output(role, ADDRESS.task)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(FINDINGS_TSV if role == "findings" else f"{role} bytes\n")
    return study


def test_a_publication_carries_the_outputs_the_records_and_how_it_ran(tmp_path):
    study = _finished_study(tmp_path)
    published = tmp_path / "docs" / "jsb"
    summary = publish_study(study.directory, published)

    task = ADDRESS.task
    for role in PUBLISHED_OUTPUTS:
        copied = published / task / TASK_OUTPUTS[role]
        assert copied.read_bytes() == (tmp_path / study.task_output(role, task)).read_bytes()
    for variant in (ADDRESS.variant, "NFG"):
        assert (published / RECORDS_FOLDER / task / variant / "0.json").is_file()
    assert summary.trials == {task: {"NFG": 1, ADDRESS.variant: 1}}
    assert json.loads((published / RUN_SUMMARY_FILE).read_text())["trials"] == summary.trials
    report = (published / RUN_REPORT_FILE).read_text()
    assert "# Study `reproduce-jsb`" in report
    assert "| 1. no variant improves on vanilla | NP p=0.3 (better) | cannot tell |" in report
    assert f"2 trials ({'NFG 1'}, {ADDRESS.variant} 1)" in report

    # Republishing an unchanged study rewrites nothing that was there.
    before = {path: path.stat().st_mtime_ns for path in published.rglob("*.tsv")}
    publish_study(study.directory, published)
    assert before == {path: path.stat().st_mtime_ns for path in published.rglob("*.tsv")}


def test_an_unfinished_study_is_refused_naming_what_is_missing(tmp_path):
    study = _finished_study(tmp_path)
    missing = tmp_path / study.task_output("fanova_pairs", ADDRESS.task)
    missing.unlink()
    published = tmp_path / "docs" / "jsb"
    with pytest.raises(ValueError, match="fanova_pairs.png"):
        publish_study(study.directory, published)
    assert not published.exists()
