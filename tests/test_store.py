"""The prepared-data HDF5 store: round trip, validation errors, atomic writes."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from lstm_odyssey.data import store
from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.store import (
    PreparedData,
    SplitData,
    compute_content_hash,
    content_hash,
    read_prepared,
    write_prepared,
)


def _framewise_split(lengths: list[int], seed: int) -> SplitData:
    rng = np.random.default_rng(seed)
    inputs = [rng.normal(size=(n, 3)) for n in lengths]
    targets = [rng.integers(0, 5, size=n) for n in lengths]
    return SplitData.from_sequences(inputs, targets)


def _framewise_data() -> PreparedData:
    return PreparedData(
        splits={
            "train": _framewise_split([4, 2, 5], seed=1),
            "valid": _framewise_split([3], seed=2),
            "test": _framewise_split([1, 6], seed=3),
        },
        metadata={
            "task_kind": "framewise",
            "source": "synthetic",
            "input_size": 3,
            "n_classes": 5,
            "normalisation": "zscore",
            "input_mean": np.array([0.1, 0.2, 0.3], dtype=np.float32),
            "input_std": np.array([1.0, 2.0, 3.0], dtype=np.float32),
        },
    )


def _ctc_data() -> PreparedData:
    def split(seed: int) -> SplitData:
        rng = np.random.default_rng(seed)
        inputs = [rng.normal(size=(n, 2)) for n in (6, 4)]
        labels = [rng.integers(1, 4, size=n) for n in (3, 1)]  # 0 is the blank
        return SplitData.from_sequences(inputs, labels, label_sequences=True)

    return PreparedData(
        splits={"train": split(1), "valid": split(2), "test": split(3)},
        metadata={
            "task_kind": "ctc",
            "source": "synthetic",
            "input_size": 2,
            "n_classes": 4,
            "normalisation": "none",
            "alphabet": ["blank", "a", "b", "c"],
        },
    )


def test_from_sequences_concatenates_and_offsets_each_sequence():
    split = SplitData.from_sequences(
        [np.ones((2, 3)), np.zeros((3, 3))], [np.array([1, 2]), np.array([0, 0, 4])]
    )
    assert split.inputs.dtype == np.float32 and split.inputs.shape == (5, 3)
    assert split.targets.dtype == np.int64
    assert split.offsets.tolist() == [0, 2, 5]
    assert split.n_sequences == 2 and split.n_frames == 5
    inputs, targets = split.sequence(1)
    assert inputs.shape == (3, 3) and targets.tolist() == [0, 0, 4]


def test_from_sequences_rejects_targets_of_another_length():
    with pytest.raises(ValueError, match="sequence 0"):
        SplitData.from_sequences([np.ones((2, 3))], [np.array([1, 2, 3])])


def test_framewise_round_trip_keeps_arrays_and_metadata(tmp_path):
    path = tmp_path / "task.h5"
    written = write_prepared(path, _framewise_data())
    loaded = read_prepared(path)
    assert loaded.task_kind == "framewise"
    assert loaded.metadata["split_sizes"] == {"train": 3, "valid": 1, "test": 2}
    assert loaded.content_hash == written.content_hash == content_hash(path)
    np.testing.assert_array_equal(loaded.metadata["input_std"], [1.0, 2.0, 3.0])
    for name in ("train", "valid", "test"):
        original, again = written.splits[name], loaded.splits[name]
        np.testing.assert_array_equal(again.inputs, original.inputs)
        np.testing.assert_array_equal(again.targets, original.targets)
        np.testing.assert_array_equal(again.offsets, original.offsets)
        assert again.target_offsets is None


def test_ctc_round_trip_keeps_label_offsets(tmp_path):
    path = tmp_path / "ctc.h5"
    write_prepared(path, _ctc_data())
    loaded = read_prepared(path)
    train = loaded.splits["train"]
    assert train.target_offsets.tolist() == [0, 3, 4]
    inputs, labels = train.sequence(0)
    assert inputs.shape == (6, 2) and labels.shape == (3,)
    assert loaded.metadata["alphabet"] == ["blank", "a", "b", "c"]


def test_content_hash_depends_on_data_only(tmp_path):
    first = write_prepared(tmp_path / "a.h5", _framewise_data())
    second = write_prepared(tmp_path / "b.h5", _framewise_data())
    assert first.content_hash == second.content_hash
    changed = _framewise_data()
    changed.splits["valid"].inputs[0, 0] += 1.0
    assert compute_content_hash(changed) != first.content_hash


def test_layout_on_disk_follows_the_contract(tmp_path):
    path = tmp_path / "task.h5"
    write_prepared(path, _ctc_data())
    with h5py.File(path, "r") as h5:
        assert set(h5) == {"train", "valid", "test"}
        assert set(h5["train"]) == {"inputs", "targets", "offsets", "target_offsets"}
        assert h5["train/inputs"].dtype == np.float32
        assert h5["train/offsets"].dtype == np.int64
        assert h5["train"].attrs["n_sequences"] == 2
        for key in ("task_kind", "source", "input_size", "n_classes", "content_hash"):
            assert key in h5.attrs


def test_missing_file_is_a_corpus_error_naming_it(tmp_path):
    path = tmp_path / "absent.h5"
    with pytest.raises(CorpusError, match="absent.h5"):
        read_prepared(path)


def test_truncated_file_is_a_corpus_error_naming_it(tmp_path):
    path = tmp_path / "task.h5"
    write_prepared(path, _framewise_data())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match="task.h5"):
        read_prepared(path)


def test_file_that_is_not_hdf5_is_a_corpus_error(tmp_path):
    path = tmp_path / "task.h5"
    path.write_text("not hdf5")
    with pytest.raises(CorpusError, match="not a readable HDF5"):
        read_prepared(path)


def test_altered_data_fails_the_hash_check(tmp_path):
    path = tmp_path / "task.h5"
    write_prepared(path, _framewise_data())
    with h5py.File(path, "r+") as h5:
        h5["test/inputs"][0, 0] = 42.0
    with pytest.raises(CorpusError, match="content_hash mismatch"):
        read_prepared(path)
    assert read_prepared(path, verify_hash=False).splits["test"].inputs[0, 0] == 42.0


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda h5: h5.attrs.__delitem__("task_kind"), "missing file attribute 'task_kind'"),
        (lambda h5: h5.__delitem__("valid"), "missing group 'valid'"),
        (lambda h5: h5.__delitem__("test/offsets"), "missing dataset test/offsets"),
        (lambda h5: h5.attrs.__delitem__("input_mean"), "input_mean"),
    ],
)
def test_missing_field_is_named(tmp_path, damage, message):
    path = tmp_path / "task.h5"
    write_prepared(path, _framewise_data())
    with h5py.File(path, "r+") as h5:
        damage(h5)
    with pytest.raises(CorpusError, match=message) as caught:
        read_prepared(path)
    assert str(path) in str(caught.value)


def test_offsets_that_do_not_cover_the_frames_are_rejected(tmp_path):
    path = tmp_path / "task.h5"
    write_prepared(path, _framewise_data())
    with h5py.File(path, "r+") as h5:
        h5["train/offsets"][-1] = 3
    with pytest.raises(CorpusError, match="train/offsets"):
        read_prepared(path)


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    calls = []

    def failing_write_split(h5, split_name, split, compression):
        calls.append(split_name)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        h5.create_group(split_name)

    monkeypatch.setattr(store, "_write_split", failing_write_split)
    with pytest.raises(RuntimeError, match="disk full"):
        write_prepared(tmp_path / "task.h5", _framewise_data())
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "task.h5"
    before = write_prepared(path, _framewise_data())

    def failing_write_split(h5, split_name, split, compression):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(store, "_write_split", failing_write_split)
    with pytest.raises(RuntimeError):
        write_prepared(path, _ctc_data())
    assert read_prepared(path).content_hash == before.content_hash
    assert [p.name for p in tmp_path.iterdir()] == ["task.h5"]


def test_a_ctc_label_that_is_the_blank_is_refused_naming_the_dataset(tmp_path):
    path = tmp_path / "ctc.h5"
    write_prepared(path, _ctc_data())
    with h5py.File(path, "r+") as h5:
        labels = h5["valid/targets"][()]
        labels[0] = 0
        del h5["valid/targets"]
        h5["valid/targets"] = labels
    with pytest.raises(CorpusError, match=r"valid/targets holds ids 0\.\..*outside 1\.\.3"):
        read_prepared(path)


def test_next_step_targets_must_be_multi_label(tmp_path):
    prepared = _ctc_data()
    path = tmp_path / "wrong.h5"
    write_prepared(
        path, PreparedData(prepared.splits, {**prepared.metadata, "task_kind": "next_step"})
    )
    with pytest.raises(CorpusError, match="expected float32 .* for a next_step task"):
        read_prepared(path)
