"""Finished trials move between machines: exported, imported into the cache, restored not retrained.

The independent check is the trainer's own restore path: after an import into an empty cache,
running the same trial must come back from the cache (no epoch trained, the log says so) with
exactly the exported record, while a trial the import does not cover still trains.
"""

from __future__ import annotations

import json
import logging

from lstm_odyssey.cli import main
from lstm_odyssey.paths import StudyPaths
from lstm_odyssey.record_transfer import export_records, import_records
from lstm_odyssey.training.trial import TrialSettings, run_trial
from tests.helpers import ADDRESS, HYPERPARAMETERS, tiny_next_step_data

SETTINGS = TrialSettings(max_epochs=2, patience=2, implementation="reference")


def _finished_study(tmp_path):
    """A study folder holding one finished record (and a broken file beside it)."""
    study = StudyPaths.at(tmp_path / "machine-a" / "results" / "default")
    data = tiny_next_step_data(tmp_path / "data.h5")
    record_path = study.trial_record(ADDRESS.task, ADDRESS.variant, ADDRESS.index)
    record = run_trial(data, record_path, ADDRESS, HYPERPARAMETERS, SETTINGS)
    broken = study.trial_record(ADDRESS.task, ADDRESS.variant, 1)
    with open(broken, "w") as handle:
        handle.write("{half a record")
    return study, data, record


def test_an_imported_record_is_restored_instead_of_trained(tmp_path, caplog):
    study, data, record = _finished_study(tmp_path)
    exported = export_records(study.directory, tmp_path / "carried")
    assert exported.copied == 1 and list(exported.refused) == [
        study.trial_record(ADDRESS.task, ADDRESS.variant, 1)
    ]
    cache = tmp_path / "machine-b" / "cache"
    imported = import_records(tmp_path / "carried", cache)
    assert imported.copied == 1 and not imported.refused
    assert json.loads((cache / f"{record['trial_key']}.json").read_text()) == record
    assert import_records(tmp_path / "carried", cache).already_there == 1  # idempotent

    caplog.set_level(logging.INFO)
    restored = run_trial(
        data, tmp_path / "b.json", ADDRESS, HYPERPARAMETERS, SETTINGS, record_cache=cache
    )
    assert restored == record
    assert "restored from" in caplog.text and "epoch 1/" not in caplog.text

    # A trial the import does not cover (other hyperparameters: another key) still trains.
    other = {**HYPERPARAMETERS, "learning_rate": 3e-3}
    trained = run_trial(data, tmp_path / "c.json", ADDRESS, other, SETTINGS, record_cache=cache)
    assert trained["trial_key"] != record["trial_key"] and len(trained["epochs"]) == 2


def test_the_command_line_names_what_it_refused(tmp_path, capsys, monkeypatch):
    study, _, _ = _finished_study(tmp_path)
    export_records(study.directory, tmp_path / "carried")
    (tmp_path / "carried" / "notes.json").write_text('{"not": "a record"}')
    monkeypatch.chdir(tmp_path)
    assert main(["import-records", str(tmp_path / "carried")]) == 1
    out = capsys.readouterr().out
    assert "1 records imported into the record cache" in out
    assert "notes.json: breaks the record contract" in out
    assert len(list((tmp_path / "results" / "cache" / "records").glob("*.json"))) == 1
    assert main(["import-records", str(tmp_path / "nowhere")]) == 0
    assert "nothing to import" in capsys.readouterr().out
