"""JSB Chorales: piano roll, next-step pairs, the boulanger and music21 readers, prepare_jsb."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.jsb.chorales import (
    N_KEYS,
    assign_splits,
    next_step_pair,
    piano_roll,
    prepare_jsb,
    read_boulanger,
    score_to_chorale,
    split_counts,
    transposition_to_c,
)
from lstm_odyssey.data.store import read_prepared

REPO = Path(__file__).resolve().parents[1]
# Shared data sits beside the repository (<repo>/../shared), never inside it.
SHARED_JSB_JSON = REPO.parent / "shared" / "data" / "jsb-chorales-quarter.json"

TINY_CORPUS = {
    "train": [[[60, 64, 67], [62.0, 65.0], []], [[21], [108]]],
    "valid": [[[48, 60], [50]]],
    "test": [[[72], [72, 76]]],
}


def _write_json(path: Path, corpus: object) -> Path:
    path.write_text(json.dumps(corpus))
    return path


# --- piano roll and next step -----------------------------------------------------------------


def test_piano_roll_marks_each_sounding_key():
    roll = piano_roll([{21, 60}, set(), {108}])
    assert roll.shape == (3, 88) and roll.dtype == np.float32
    assert np.flatnonzero(roll[0]).tolist() == [0, 39]
    assert not roll[1].any()
    assert np.flatnonzero(roll[2]).tolist() == [87]


def test_piano_roll_rejects_a_pitch_off_the_keyboard():
    with pytest.raises(ValueError, match="pitch 20"):
        piano_roll([{20}])


def test_next_step_targets_are_inputs_one_step_later():
    roll = piano_roll([{60}, {62}, {64}, {65}])
    inputs, targets = next_step_pair(roll)
    np.testing.assert_array_equal(inputs, roll[:3])
    np.testing.assert_array_equal(targets, roll[1:])
    assert np.flatnonzero(targets[0]).tolist() == [62 - 21]


# --- boulanger reader -------------------------------------------------------------------------


def test_json_reader_gives_sets_of_integer_pitches(tmp_path):
    splits = read_boulanger(_write_json(tmp_path / "jsb.json", TINY_CORPUS))
    assert [len(splits[name]) for name in ("train", "valid", "test")] == [2, 1, 1]
    assert splits["train"][0] == [frozenset({60, 64, 67}), frozenset({62, 65}), frozenset()]


def test_pickle_reader_matches_json_reader(tmp_path):
    pickled = tmp_path / "jsb.pickle"
    pickled.write_bytes(pickle.dumps(TINY_CORPUS, protocol=2))
    assert read_boulanger(pickled) == read_boulanger(_write_json(tmp_path / "j.json", TINY_CORPUS))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_reader_accepts_numpy_arrays_and_scalars(tmp_path, protocol):
    step = [np.float64(62.0), np.int64(63)]
    corpus = {name: [[np.array([60.0, 64.0]), step]] for name in TINY_CORPUS}
    pickled = tmp_path / "jsb.pkl"
    pickled.write_bytes(pickle.dumps(corpus, protocol=protocol))
    assert read_boulanger(pickled)["test"] == [[frozenset({60, 64}), frozenset({62, 63})]]


class _Sneaky:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickle_reader_refuses_anything_but_containers(tmp_path):
    pickled = tmp_path / "evil.pickle"
    pickled.write_bytes(pickle.dumps({"train": [[_Sneaky()]]}))
    with pytest.raises(CorpusError, match=r"evil.pickle.*refusing to unpickle builtins.print"):
        read_boulanger(pickled)


def test_file_neither_json_nor_pickle_is_named(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(b"\x00\x01 not a corpus")
    with pytest.raises(CorpusError, match="garbage.bin.*neither JSON nor a pickle"):
        read_boulanger(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CorpusError, match="absent.json.*does not exist"):
        read_boulanger(tmp_path / "absent.json")


def test_pitch_off_the_keyboard_names_split_chorale_step_and_pitch(tmp_path):
    corpus = json.loads(json.dumps(TINY_CORPUS))
    corpus["valid"][0][1] = [50, 110]
    path = _write_json(tmp_path / "jsb.json", corpus)
    with pytest.raises(CorpusError, match=r"jsb.json: split 'valid', chorale 0, step 1: pitch 110"):
        read_boulanger(path)


def test_fractional_pitch_is_rejected(tmp_path):
    corpus = json.loads(json.dumps(TINY_CORPUS))
    corpus["test"][0][0] = [60.5]
    with pytest.raises(CorpusError, match="pitch 60.5"):
        read_boulanger(_write_json(tmp_path / "jsb.json", corpus))


def test_missing_split_is_named(tmp_path):
    corpus = {key: value for key, value in TINY_CORPUS.items() if key != "test"}
    with pytest.raises(CorpusError, match="jsb.json: missing split 'test'"):
        read_boulanger(_write_json(tmp_path / "jsb.json", corpus))


def test_empty_split_is_named(tmp_path):
    corpus = {**TINY_CORPUS, "valid": []}
    with pytest.raises(CorpusError, match="jsb.json: split 'valid' is empty"):
        read_boulanger(_write_json(tmp_path / "jsb.json", corpus))


def test_prepare_boulanger_writes_next_step_data(tmp_path):
    source = _write_json(tmp_path / "jsb.json", TINY_CORPUS)
    prepared = prepare_jsb("boulanger", tmp_path / "out" / "jsb.h5", path=source)
    loaded = read_prepared(tmp_path / "out" / "jsb.h5")
    assert loaded.content_hash == prepared.content_hash
    assert loaded.metadata["task_kind"] == "next_step"
    assert loaded.metadata["normalisation"] == "none"
    assert loaded.metadata["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    train = loaded.splits["train"]
    assert train.offsets.tolist() == [0, 2, 3]  # chorales of 3 and 2 steps
    inputs, targets = train.sequence(1)
    assert np.flatnonzero(inputs[0]).tolist() == [0] and np.flatnonzero(targets[0]).tolist() == [87]


def test_prepare_boulanger_checks_a_local_file_against_its_hash(tmp_path):
    source = _write_json(tmp_path / "jsb.json", TINY_CORPUS)
    with pytest.raises(CorpusError, match="jsb.json: sha256 mismatch"):
        prepare_jsb("boulanger", tmp_path / "jsb.h5", path=source, sha256="f" * 64)
    assert not (tmp_path / "jsb.h5").exists()


def test_prepare_boulanger_downloads_into_the_cache(tmp_path):
    source = _write_json(tmp_path / "upstream.json", TINY_CORPUS)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    prepare_jsb(
        "boulanger",
        tmp_path / "jsb.h5",
        url=source.as_uri(),
        sha256=digest,
        cache_dir=tmp_path / "c",
    )
    assert (tmp_path / "c" / "upstream.json").read_bytes() == source.read_bytes()


def test_unknown_source_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown JSB source"):
        prepare_jsb("midi", tmp_path / "jsb.h5")


@pytest.mark.skipif(not SHARED_JSB_JSON.is_file(), reason=f"{SHARED_JSB_JSON} is not present")
def test_shared_boulanger_json_has_the_paper_splits(tmp_path):
    prepared = prepare_jsb("boulanger", tmp_path / "jsb.h5", path=SHARED_JSB_JSON)
    assert prepared.split_sizes() == {"train": 229, "valid": 76, "test": 77}
    assert prepared.input_size == prepared.n_classes == N_KEYS
    for split in prepared.splits.values():
        assert split.inputs.shape[1] == N_KEYS
        for index in (0, split.n_sequences - 1):
            inputs, targets = split.sequence(index)
            np.testing.assert_array_equal(inputs[1:], targets[:-1])


# --- music21 reader ---------------------------------------------------------------------------


def test_transposition_to_c_takes_the_nearer_way():
    assert transposition_to_c(0) == 0
    assert transposition_to_c(7) == 5  # G up to C
    assert transposition_to_c(2) == -2  # D down to C
    assert transposition_to_c(6) == 6


def test_split_counts_follow_the_paper_proportions():
    assert split_counts(382) == {"train": 229, "valid": 76, "test": 77}
    assert split_counts(6) == {"train": 4, "valid": 1, "test": 1}
    assert sum(split_counts(350).values()) == 350


def test_assign_splits_is_a_seeded_partition():
    ids = [f"bach/bwv{i}" for i in range(20)]
    first = assign_splits(ids, split_seed=0)
    assert first == assign_splits(reversed(ids), split_seed=0)
    assert sorted(sum(first.values(), [])) == sorted(ids)
    assert first != assign_splits(ids, split_seed=1)


def test_music21_chorale_ends_on_c_after_transposing():
    import music21  # a dependency: its absence is a broken install, never a skip

    chorale = score_to_chorale(music21.corpus.parse("bach/bwv269"))  # in G major
    last_chord = next(step for step in reversed(chorale) if step)
    assert min(last_chord) % 12 == 0
    assert all(21 <= pitch <= 108 for step in chorale for pitch in step)


def test_prepare_music21_on_a_few_chorales(tmp_path):
    prepared = prepare_jsb("music21", tmp_path / "jsb.h5", max_chorales=6, split_seed=3)
    assert prepared.split_sizes() == {"train": 4, "valid": 1, "test": 1}
    members = json.loads(prepared.metadata["split_members"])
    assert len(set(sum(members.values(), []))) == 6
    loaded = read_prepared(tmp_path / "jsb.h5")
    assert loaded.metadata["source"] == "music21"
    for split in loaded.splits.values():
        assert set(np.unique(split.inputs)) <= {0.0, 1.0}
        inputs, targets = split.sequence(0)
        np.testing.assert_array_equal(inputs[1:], targets[:-1])
        assert inputs.sum(axis=1).max() <= 8  # four voices, a few passing notes at most
