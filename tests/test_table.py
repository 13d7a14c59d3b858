"""The tidy trials table: columns, validation, diverged-trials policy, order, TSV round trip."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lstm_odyssey.analysis.table import (
    EPOCH_COLUMNS,
    TRIAL_COLUMNS,
    collect_trials,
    hyperparameter_columns,
    prepared_output_size,
    read_table,
    task_label,
    trivial_ceiling,
    variant_order,
    write_table,
)
from lstm_odyssey.conventions import LOSS_CONVENTION
from lstm_odyssey.trial_record import RECORD_VERSION
from tests.helpers import tiny_next_step_data


def trial_record(
    task: str = "jsb",
    variant: str = "V",
    index: int = 0,
    test_metric: float | None = 8.3,
    valid_metric: float | None = 8.1,
    status: str = "ok",
    **overrides: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "record_version": RECORD_VERSION,
        "trial_key": f"key-{task}-{variant}-{index}",
        "task": task,
        "variant": variant,
        "index": index,
        "study_seed": 1,
        "seed": 1000 + index,
        "task_kind": "next_step",
        "metric": "nll",
        "hyperparameters": {"hidden_size": 57, "learning_rate": 0.001, "momentum": 0.9},
        "settings": {"max_epochs": 2, "loss_convention": LOSS_CONVENTION},
        "parameter_count": 12345,
        "status": status,
        "stop_reason": "diverged" if status == "diverged" else "early_stopping",
        "epochs": [
            {"epoch": 1, "train_loss": 9.1, "valid_metric": 8.7, "seconds": 1.0},
            {"epoch": 2, "train_loss": 8.5, "valid_metric": valid_metric, "seconds": 1.5},
        ],
        "best_valid_epoch": 2 if valid_metric is not None else None,
        "best_valid_metric": valid_metric,
        "test_metric": test_metric,
        "train_seconds": 3.0,
        "provenance": {
            "host": "h",
            "threads": 1,
            "device": "cpu",
            "implementation": "fast",
            "git_commit": None,
            "torch": "2.13.0",
            "numpy": "2.4.6",
            "data_hash": "0123abcd",
            "data_source": "music21",
            "kernel_isa": "avx512",
            "started": "2026-01-01T00:00:00",
            "finished": "2026-01-01T00:00:03",
        },
    }
    record.update(overrides)
    return record


def write_trials(directory: Path, records: list[dict[str, Any]]) -> list[Path]:
    paths = []
    for record in records:
        path = directory / record["task"] / record["variant"] / f"{record['index']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record))
        paths.append(path)
    return paths


def test_one_row_per_trial_with_flattened_hyperparameters(tmp_path: Path) -> None:
    paths = write_trials(tmp_path, [trial_record(index=0), trial_record(index=1, test_metric=7.0)])
    trials, epochs = collect_trials(paths)
    assert len(trials) == 2
    assert hyperparameter_columns(trials) == ["hidden_size", "learning_rate", "momentum"]
    assert set(TRIAL_COLUMNS) <= set(trials.columns)
    row = trials.iloc[0]
    assert row["hidden_size"] == 57 and row["learning_rate"] == 0.001
    assert row["epochs_run"] == 2
    assert row["seconds_per_epoch"] == pytest.approx(1.5)
    assert row["valid_metric"] == 8.1 and row["test_metric"] == 8.3
    assert row["metric"] == "nll" and row["data_hash"] == "0123abcd"
    assert not row["diverged"]


def test_epochs_table_is_long_form(tmp_path: Path) -> None:
    paths = write_trials(tmp_path, [trial_record(index=0), trial_record(index=1)])
    _, epochs = collect_trials(paths)
    assert list(epochs.columns) == list(EPOCH_COLUMNS)
    assert len(epochs) == 4
    assert epochs["epoch"].tolist() == [1, 2, 1, 2]
    assert epochs["index"].tolist() == [0, 0, 1, 1]


def test_diverged_trial_gets_worst_finite_metric_of_its_task(tmp_path: Path) -> None:
    records = [
        trial_record(index=0, test_metric=5.0, valid_metric=4.0),
        trial_record(index=1, test_metric=9.0, valid_metric=6.0),
        trial_record(index=2, test_metric=None, valid_metric=None, status="diverged"),
        # another task's worse values must not leak into jsb
        trial_record(task="timit", index=0, test_metric=99.0, valid_metric=99.0),
    ]
    trials, _ = collect_trials(write_trials(tmp_path, records))
    jsb = trials[trials["task"] == "jsb"].set_index("index")
    assert len(jsb) == 3, "diverged trials are never dropped"
    assert jsb.loc[2, "diverged"]
    assert jsb.loc[2, "test_metric"] == 9.0
    assert jsb.loc[2, "valid_metric"] == 6.0
    assert math.isnan(jsb.loc[2, "test_metric_raw"])
    assert not jsb.loc[0, "diverged"] and not jsb.loc[1, "diverged"]


def test_diverged_status_with_finite_metric_is_still_penalised(tmp_path: Path) -> None:
    records = [
        trial_record(index=0, test_metric=5.0),
        trial_record(index=1, test_metric=6.0),
        trial_record(index=2, test_metric=1.0, status="diverged"),
    ]
    trials, _ = collect_trials(write_trials(tmp_path, records))
    diverged = trials.set_index("index").loc[2]
    assert diverged["diverged"] and diverged["test_metric"] == 6.0
    assert diverged["test_metric_raw"] == 1.0


def test_null_test_metric_with_ok_status_counts_as_diverged(tmp_path: Path) -> None:
    records = [trial_record(index=0, test_metric=5.0), trial_record(index=1, test_metric=None)]
    trials, _ = collect_trials(write_trials(tmp_path, records))
    assert trials["diverged"].tolist() == [False, True]
    assert trials["test_metric"].tolist() == [5.0, 5.0]


def test_task_without_any_finite_metric_stays_nan_and_warns(tmp_path: Path) -> None:
    records = [
        trial_record(index=0, test_metric=None, valid_metric=None, status="diverged"),
        trial_record(index=1, test_metric=None, valid_metric=None, status="diverged"),
    ]
    with pytest.warns(UserWarning, match="jsb"):
        trials, _ = collect_trials(write_trials(tmp_path, records))
    assert trials["test_metric"].isna().all() and len(trials) == 2


def test_rows_sorted_by_task_then_paper_variant_order_then_index(tmp_path: Path) -> None:
    records = [
        trial_record(task="timit", variant="V", index=0),
        trial_record(variant="FGR", index=0),
        trial_record(variant="MYSTERY", index=0),
        trial_record(variant="NIG", index=1),
        trial_record(variant="NIG", index=0),
        trial_record(variant="V", index=10),
        trial_record(variant="V", index=2),
    ]
    trials, _ = collect_trials(write_trials(tmp_path, records))
    addresses = list(zip(trials["task"], trials["variant"], trials["index"], strict=True))
    assert addresses == [
        ("jsb", "V", 2),
        ("jsb", "V", 10),
        ("jsb", "NIG", 0),
        ("jsb", "NIG", 1),
        ("jsb", "FGR", 0),
        ("jsb", "MYSTERY", 0),
        ("timit", "V", 0),
    ]


def test_variant_order_puts_other_names_last_in_the_order_they_first_appear() -> None:
    names = ["ZZ", "CIFG", "V", "GRU", "AA", "NP", "ZZ"]
    assert variant_order(names) == ["V", "NP", "CIFG", "ZZ", "GRU", "AA"]


def test_all_problems_reported_together_naming_file_and_field(tmp_path: Path) -> None:
    good = write_trials(tmp_path, [trial_record(index=0)])
    missing = trial_record(index=1)
    del missing["test_metric"]
    wrong_type = trial_record(index=2, status="exploded")
    broken_json = tmp_path / "broken.json"
    broken_json.write_text("{not json")
    paths = good + write_trials(tmp_path, [missing, wrong_type]) + [broken_json]
    with pytest.raises(ValueError) as error:
        collect_trials(paths)
    message = str(error.value)
    assert "3 problem(s)" in message
    assert "1.json: test_metric: missing" in message
    assert "2.json: status" in message and "exploded" in message
    assert "broken.json: not readable as JSON" in message


def test_bad_epoch_entry_is_reported(tmp_path: Path) -> None:
    record = trial_record()
    record["epochs"][1]["valid_metric"] = "eight"
    with pytest.raises(ValueError, match=r"epochs\[1\]\.valid_metric"):
        collect_trials(write_trials(tmp_path, [record]))


def test_duplicate_trial_address_is_an_error(tmp_path: Path) -> None:
    first = write_trials(tmp_path / "a", [trial_record(index=3)])
    second = write_trials(tmp_path / "b", [trial_record(index=3)])
    with pytest.raises(ValueError, match=r"\(jsb, V, 3\) appears in more than one file"):
        collect_trials(first + second)


def test_hyperparameter_clashing_with_a_column_is_an_error(tmp_path: Path) -> None:
    record = trial_record(hyperparameters={"seed": 3})
    with pytest.raises(ValueError, match="hyperparameters.seed"):
        collect_trials(write_trials(tmp_path, [record]))


def test_no_files_gives_empty_tables_with_columns() -> None:
    trials, epochs = collect_trials([])
    assert trials.empty and list(trials.columns) == list(TRIAL_COLUMNS)
    assert epochs.empty and list(epochs.columns) == list(EPOCH_COLUMNS)


def test_table_round_trips_through_tsv(tmp_path: Path) -> None:
    numeric_looking = {**trial_record()["provenance"], "git_commit": "0123456", "data_hash": "77"}
    records = [
        trial_record(index=0, test_metric=1 / 3, provenance=numeric_looking),
        trial_record(index=1, test_metric=None, status="diverged", provenance=numeric_looking),
        trial_record(index=2, provenance=numeric_looking),
    ]
    trials, epochs = collect_trials(write_trials(tmp_path / "trials", records))
    write_table(trials, tmp_path / "out" / "trials.tsv")
    write_table(epochs, tmp_path / "out" / "epochs.tsv")
    back = read_table(tmp_path / "out" / "trials.tsv")
    pd.testing.assert_frame_equal(back, trials, check_dtype=False)
    assert back["diverged"].dtype == bool
    assert back.loc[2, "git_commit"] == "0123456", "hex commits must not be read as numbers"
    assert back.loc[0, "test_metric"] == 1 / 3, "floats keep full precision"
    pd.testing.assert_frame_equal(read_table(tmp_path / "out" / "epochs.tsv"), epochs)


def test_nan_in_epoch_values_read_as_nan(tmp_path: Path) -> None:
    record = trial_record()
    record["epochs"][0]["train_loss"] = None
    _, epochs = collect_trials(write_trials(tmp_path, [record]))
    assert np.isnan(epochs.loc[0, "train_loss"])


def test_trials_of_one_task_on_different_data_are_refused(tmp_path: Path) -> None:
    first = trial_record(index=0)
    second = trial_record(index=1)
    second["provenance"] = {**second["provenance"], "data_hash": "f" * 64}
    paths = []
    for record in (first, second):
        path = tmp_path / f"{record['index']}.json"
        path.write_text(json.dumps(record))
        paths.append(path)
    with pytest.raises(ValueError, match="trained on different data"):
        collect_trials(paths)


def test_trials_of_one_task_under_different_loss_conventions_are_refused_by_name(
    tmp_path: Path,
) -> None:
    other = trial_record(index=2)
    other["settings"] = {**other["settings"], "loss_convention": "mean_over_frames"}
    paths = write_trials(tmp_path, [trial_record(index=0), trial_record(index=1), other])
    with pytest.raises(ValueError, match="different loss conventions") as error:
        collect_trials(paths)
    assert str(paths[2]) in str(error.value)
    assert str(paths[0]) not in str(error.value)
    assert "mean_over_frames: 1 trials" in str(error.value)


def test_a_record_of_another_contract_version_is_named_with_what_to_do(tmp_path: Path) -> None:
    """Records from before version 2 (per-frame loss) carry no record_version at all."""
    old = trial_record(index=0)
    del old["record_version"], old["settings"], old["trial_key"]
    paths = write_trials(tmp_path, [old])
    with pytest.raises(ValueError, match=r"0\.json: record_version: none, this version reads 2"):
        collect_trials(paths)


def test_the_loss_convention_is_a_column(tmp_path: Path) -> None:
    trials, _ = collect_trials(write_trials(tmp_path, [trial_record(index=0)]))
    assert trials.loc[0, "loss_convention"] == LOSS_CONVENTION


def test_a_broken_record_is_set_aside_for_the_workflow_to_rebuild(tmp_path: Path) -> None:
    paths = write_trials(tmp_path, [trial_record(index=0), trial_record(index=1)])
    paths[1].write_text("garbage{")
    with pytest.raises(ValueError, match="moved to .*1.json.broken; the next run rebuilds it"):
        collect_trials(paths, set_aside_broken=True)
    assert not paths[1].exists() and paths[1].with_name("1.json.broken").read_text() == "garbage{"
    assert paths[0].exists()


def test_a_task_is_labelled_with_the_corpus_its_trials_came_from(tmp_path):
    stand_in = {**trial_record()["provenance"], "data_source": "synthetic-timit"}
    records = [
        trial_record(task="timit", index=0, provenance=stand_in),
        trial_record(task="jsb", index=0),
    ]
    trials, _ = collect_trials(write_trials(tmp_path / "trials", records))
    assert task_label(trials, "timit") == "timit (synthetic-timit)"
    assert task_label(trials, "jsb") == "jsb (music21)"
    assert task_label(trials.drop(columns="data_source"), "timit") == "timit"


# --- exploded trials: finite but beyond the task's trivial ceiling ----------------------------


def test_trivial_ceilings_are_a_coin_flip_per_key_and_a_hundred_percent() -> None:
    assert trivial_ceiling("nll", 88) == pytest.approx(88 * math.log(2))  # 61.0 nats/step
    assert trivial_ceiling("nll") == math.inf, "no K, no ceiling"
    assert trivial_ceiling("character_error_rate") == 100.0
    assert trivial_ceiling("frame_error") == 100.0


def test_an_exploded_trial_is_scored_as_the_worst_ordinary_trial(tmp_path: Path) -> None:
    # K = 4 keys: ceiling 4 ln 2 = 2.77 nats/step. Index 2 explodes (finite 1235.7); index 3
    # diverged (NaN) and must get the worst *ordinary* value, 2.5, not the exploded one.
    records = [
        trial_record(index=0, test_metric=1.0, valid_metric=1.1),
        trial_record(index=1, test_metric=2.5, valid_metric=2.6),
        trial_record(index=2, test_metric=1235.7, valid_metric=1231.4),
        trial_record(index=3, test_metric=None, valid_metric=None, status="diverged"),
    ]
    trials, _ = collect_trials(write_trials(tmp_path, records), output_sizes={"jsb": 4})
    rows = trials.set_index("index")
    assert rows["exploded"].tolist() == [False, False, True, False]
    assert rows["diverged"].tolist() == [False, False, False, True]
    assert rows.loc[2, "test_metric"] == 2.5 and rows.loc[2, "valid_metric"] == 2.6
    assert rows.loc[2, "test_metric_raw"] == 1235.7, "the reported value is kept"
    assert rows.loc[3, "test_metric"] == 2.5 and rows.loc[3, "valid_metric"] == 2.6


def test_an_nll_trial_explodes_only_where_the_number_of_keys_is_known(tmp_path: Path) -> None:
    records = [trial_record(index=0, test_metric=1.0), trial_record(index=1, test_metric=500.0)]
    trials, _ = collect_trials(write_trials(tmp_path, records))
    assert not trials["exploded"].any() and trials["test_metric"].tolist() == [1.0, 500.0]


def test_a_validation_metric_beyond_the_ceiling_explodes_the_trial(tmp_path: Path) -> None:
    records = [
        trial_record(index=0, test_metric=1.0, valid_metric=1.0),
        trial_record(index=1, test_metric=2.0, valid_metric=90.0),
    ]
    trials, _ = collect_trials(write_trials(tmp_path, records), output_sizes={"jsb": 88})
    assert trials["exploded"].tolist() == [False, True]
    assert trials["test_metric"].tolist() == [1.0, 1.0] and trials["valid_metric"].tolist() == [
        1.0,
        1.0,
    ]


def test_error_rates_explode_beyond_a_hundred_percent_without_knowing_k(tmp_path: Path) -> None:
    ctc = {"task_kind": "ctc", "metric": "character_error_rate"}
    framewise = {"task_kind": "framewise", "metric": "frame_error"}
    records = [
        trial_record(task="iam_ondb", index=0, test_metric=30.0, **ctc),
        trial_record(task="iam_ondb", index=1, test_metric=100.0, **ctc),
        trial_record(task="iam_ondb", index=2, test_metric=340.0, **ctc),
        trial_record(task="timit", index=0, test_metric=99.0, **framewise),
    ]
    trials, _ = collect_trials(write_trials(tmp_path, records))
    iam = trials[trials["task"] == "iam_ondb"].set_index("index")
    assert iam["exploded"].tolist() == [False, False, True], "exactly 100 % is not beyond it"
    assert iam.loc[2, "test_metric"] == 100.0
    assert not trials.loc[trials["task"] == "timit", "exploded"].any()


def test_exploded_round_trips_as_a_boolean(tmp_path: Path) -> None:
    records = [trial_record(index=0), trial_record(index=1, test_metric=99.0)]
    trials, _ = collect_trials(write_trials(tmp_path, records), output_sizes={"jsb": 88})
    write_table(trials, tmp_path / "trials.tsv")
    back = read_table(tmp_path / "trials.tsv")
    assert back["exploded"].dtype == bool and back["exploded"].tolist() == [False, True]


def test_the_output_size_is_read_from_the_prepared_file(tmp_path: Path) -> None:
    assert prepared_output_size(tiny_next_step_data(tmp_path / "jsb.h5")) == 6
