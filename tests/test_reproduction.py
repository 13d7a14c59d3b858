"""The published JSB reproduction (docs/reproduction/jsb) is one `make reproduce` continues.

`make reproduce` imports the published records into the record cache before it runs; a trial is
restored from there only when the key the pipeline computes for it today equals the record's. So
every published record must still be the trial that config/reproduce-jsb.yaml plans at its
address: the same seed and hyperparameters (drawn from the study seed and the address, as
`search` draws them now), and the same key (recomputed here from the config, the address and the
data hash the record names). A change that moved any of these would silently retrain the whole
published study; this test says so first.
"""

from __future__ import annotations

import json
from pathlib import Path

from lstm_odyssey.publication import RECORDS_FOLDER, RUN_SUMMARY_FILE, read_records
from lstm_odyssey.record_transfer import import_records
from lstm_odyssey.study import hyperparameters_of, load_config, seed_of, trial_settings
from lstm_odyssey.trial_spec import TrialAddress, trial_key

REPO = Path(__file__).resolve().parent.parent
PUBLISHED = REPO / "docs" / "reproduction" / "jsb"
CONFIG = REPO / "config" / "reproduce-jsb.yaml"


def _published_records() -> list[dict]:
    records = read_records(PUBLISHED / RECORDS_FOLDER)
    assert records, f"{PUBLISHED / RECORDS_FOLDER} holds no published records"
    return records


def test_every_published_record_is_the_trial_the_reproduction_plans_there():
    config = load_config(CONFIG)
    for record in _published_records():
        task, variant, index = record["task"], record["variant"], record["index"]
        where = f"{task}/{variant}/{index}"
        assert variant in config["variants"], where
        assert index < config["tasks"][task]["training"]["trials"], where
        assert record["study_seed"] == config["study_seed"], where
        assert record["seed"] == seed_of(config, task, variant, index), where
        assert record["hyperparameters"] == hyperparameters_of(config, task, variant, index), where
        address = TrialAddress(task, variant, index, config["study_seed"], record["seed"])
        key = trial_key(
            address,
            record["hyperparameters"],
            trial_settings(config, task),
            record["provenance"]["data_hash"],
        )
        assert key == record["trial_key"], f"{where}: the pipeline's key for it has changed"


def test_the_published_records_import_into_the_cache_and_match_the_run_summary(tmp_path):
    records = _published_records()
    report = import_records(PUBLISHED / RECORDS_FOLDER, tmp_path / "cache")
    assert not report.refused and report.copied == len(records)
    summary = json.loads((PUBLISHED / RUN_SUMMARY_FILE).read_text())
    counted = sum(sum(per_variant.values()) for per_variant in summary["trials"].values())
    assert counted == len(records)
