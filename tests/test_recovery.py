"""Broken intermediates are renamed, never deleted, and good ones are left alone."""

from __future__ import annotations

import numpy as np

from lstm_odyssey.data.store import PreparedData, SplitData, write_prepared
from lstm_odyssey.recovery import (
    prepared_data_problem,
    set_aside,
    set_aside_unreadable_prepared_data,
)


def _prepared(path):
    split = SplitData.from_sequences([np.zeros((3, 2))], [np.zeros((3, 2), dtype=np.float32)])
    metadata = {
        "task_kind": "next_step",
        "source": "synthetic",
        "input_size": 2,
        "n_classes": 2,
        "normalisation": "none",
    }
    write_prepared(path, PreparedData({"train": split, "valid": split, "test": split}, metadata))
    return path


def test_a_good_prepared_file_stays(tmp_path):
    path = _prepared(tmp_path / "jsb.h5")
    assert prepared_data_problem(path) is None
    assert set_aside_unreadable_prepared_data(path) is None and path.exists()


def test_a_truncated_prepared_file_is_set_aside_with_its_bytes(tmp_path):
    path = _prepared(tmp_path / "jsb.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    moved = set_aside_unreadable_prepared_data(path)
    assert moved == tmp_path / "jsb.h5.broken" and not path.exists()
    assert moved.read_bytes() == data[: len(data) // 2]


def test_set_aside_never_overwrites_an_earlier_broken_file(tmp_path):
    for text in ("first", "second"):
        (tmp_path / "t.json").write_text(text)
        set_aside(tmp_path / "t.json", "garbage")
    assert (tmp_path / "t.json.broken").read_text() == "first"
    assert (tmp_path / "t.json.broken.1").read_text() == "second"


def test_a_missing_file_is_nothing_to_set_aside(tmp_path):
    assert set_aside_unreadable_prepared_data(tmp_path / "none.h5") is None
