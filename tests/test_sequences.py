"""Your own data as a task: the `sequences` format, its checks, its preparation and a study on it.

Every broken file is written by hand here (a valid split, then one field spoiled), and each check
must name the file and the field; the example the script writes must pass all of them, prepare
to what the files say, and carry a tiny study end to end through `snakemake`.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstm_odyssey.config_schema import config_schema
from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.registry import corpus_problems, task_kind
from lstm_odyssey.data.sequences.example import example_split, write_example
from lstm_odyssey.data.sequences.npz import read_split, read_splits
from lstm_odyssey.data.sequences.prepare import prepare_sequences
from lstm_odyssey.data.store import read_prepared
from lstm_odyssey.study import ConfigError, load_config, validate_config
from lstm_odyssey.tasks import CTC, FRAMEWISE, NEXT_STEP, TASK_KINDS
from tests.helpers import REPO, planned_jobs, run_snakemake, write_study_config

SPLITS = ("train", "valid", "test")


# --- hand-made valid splits: two sequences of 3 and 4 frames --------------------------------------


def _framewise() -> dict[str, np.ndarray]:
    return {
        "inputs": np.arange(14, dtype=np.float64).reshape(7, 2),
        "lengths": np.array([3, 4]),
        "targets": np.array([0, 1, 1, 2, 2, 0, 1]),
        "n_classes": np.array(3),
    }


def _next_step() -> dict[str, np.ndarray]:
    roll = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1], [1, 0]], dtype=np.float32)
    return {"inputs": roll, "lengths": np.array([3, 4])}


def _ctc() -> dict[str, np.ndarray]:
    return {
        "inputs": np.ones((7, 2), dtype=np.float32),
        "lengths": np.array([3, 4]),
        "targets": np.array([2, 1, 3, 3]),  # "ba" and "cc" (a repeat: needs 3 frames)
        "target_lengths": np.array([2, 2]),
        "n_classes": np.array(4),
    }


VALID = {"framewise": _framewise, "next_step": _next_step, "ctc": _ctc}


def _write(folder: Path, kind: str, **changed_by_split) -> Path:
    """The three split files of a valid `kind` dataset, with fields changed per split
    (a value None removes the field)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        fields = VALID[kind]()
        for name, value in changed_by_split.get(split, {}).items():
            if value is None:
                fields.pop(name)
            else:
                fields[name] = value
        np.savez(folder / f"{split}.npz", **fields)
    return folder


def _refused(folder: Path, kind: str) -> CorpusError:
    with pytest.raises(CorpusError) as caught:
        read_splits(folder, TASK_KINDS[kind])
    return caught.value


# --- the format -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(TASK_KINDS))
def test_what_is_written_is_what_is_read(tmp_path, kind):
    rng = np.random.default_rng(3)
    written = example_split(kind, 5, rng)
    np.savez(tmp_path / "train.npz", **written)
    split = read_split(tmp_path / "train.npz", TASK_KINDS[kind])
    assert np.array_equal(split.inputs, written["inputs"])
    assert np.array_equal(split.lengths, written["lengths"])
    assert split.labels == tuple(written["labels"])
    assert [len(x) for x in split.input_sequences()] == written["lengths"].tolist()
    if kind != "next_step":
        assert np.array_equal(split.targets, written["targets"])
        assert split.n_classes == int(written["n_classes"])
    if kind == "ctc":
        assert [len(y) for y in split.target_sequences()] == written["target_lengths"].tolist()


def test_the_example_is_the_same_for_a_seed_and_another_for_another(tmp_path):
    first = write_example(tmp_path / "a", "framewise", seed=4)
    again = write_example(tmp_path / "b", "framewise", seed=4)
    other = write_example(tmp_path / "c", "framewise", seed=5)
    for split in SPLITS:
        a, b, c = (np.load(folder / f"{split}.npz") for folder in (first, again, other))
        assert all(np.array_equal(a[name], b[name]) for name in a.files)
        assert not np.array_equal(a["inputs"], c["inputs"])


def test_the_schema_offers_exactly_the_task_kinds():
    data = config_schema()["$defs"]["sequences_task"]["properties"]["data"]
    assert data["properties"]["kind"]["enum"] == list(TASK_KINDS)


def test_the_script_writes_an_example_that_passes_every_check(tmp_path):
    script = REPO / "scripts" / "make_example_sequences.py"
    arguments = [str(tmp_path / "ex"), "--kind", "ctc", "--sequences", "8", "--seed", "2"]
    result = subprocess.run(
        [sys.executable, str(script), *arguments], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "a ctc example, 8/2/2 sequences" in result.stdout
    assert sorted(p.name for p in (tmp_path / "ex").iterdir()) == [
        "test.npz",
        "train.npz",
        "valid.npz",
    ]


# --- each check names the file and the field ------------------------------------------------------


def test_a_missing_split_file_is_named(tmp_path):
    folder = _write(tmp_path / "d", "framewise")
    (folder / "test.npz").unlink()
    error = _refused(folder, "framewise")
    assert error.source == str(folder / "test.npz")
    assert "split file does not exist" in error.problem


def test_a_file_that_is_not_an_npz_is_named(tmp_path):
    folder = _write(tmp_path / "d", "framewise")
    (folder / "valid.npz").write_text("frame,class\n1,2\n")
    error = _refused(folder, "framewise")
    assert error.source == str(folder / "valid.npz")
    assert error.problem.startswith("not an NPZ file (numpy.savez writes one)")


def test_a_bare_npy_array_is_not_named_fields(tmp_path):
    folder = _write(tmp_path / "d", "framewise")
    with (folder / "train.npz").open("wb") as handle:
        np.save(handle, np.zeros((3, 2)))
    error = _refused(folder, "framewise")
    assert error.source == str(folder / "train.npz") and "one bare array (.npy)" in error.problem


def test_a_missing_field_is_named_with_what_the_kind_needs(tmp_path):
    folder = _write(tmp_path / "d", "framewise", valid={"targets": None})
    error = _refused(folder, "framewise")
    assert error.source == str(folder / "valid.npz")
    assert error.problem == (
        "field 'targets' is missing (a framewise file holds inputs, lengths, targets, n_classes "
        "and optionally labels)"
    )


def test_next_step_targets_are_refused_they_are_the_next_step(tmp_path):
    folder = _write(tmp_path / "d", "next_step", train={"targets": np.zeros((7, 2))})
    error = _refused(folder, "next_step")
    assert error.problem.startswith("field 'targets' is not a field of this format")
    assert "the target of step t is step t + 1" in error.problem


def test_an_object_array_is_refused_with_the_plain_layout(tmp_path):
    folder = _write(tmp_path / "d", "framewise")
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((3, 2)), np.zeros((4, 2))
    fields = {**_framewise(), "inputs": ragged}
    np.savez(folder / "train.npz", **fields)  # savez pickles it; the reader must not unpickle
    error = _refused(folder, "framewise")
    assert error.source == str(folder / "train.npz")
    assert error.problem.startswith("field 'inputs' is an object array")
    assert "'lengths'" in error.problem


@pytest.mark.parametrize(
    ("kind", "changed", "problem"),
    [
        (
            "framewise",
            {"inputs": np.array([["a", "b"]] * 7)},
            "field 'inputs' has dtype <U1, expected numbers (float)",
        ),
        (
            "framewise",
            {"inputs": np.zeros(7)},
            "field 'inputs' has shape (7,), expected (frames, features) "
            "(one feature per frame is shape (frames, 1))",
        ),
        (
            "framewise",
            {"inputs": np.where(np.eye(7, 2, -2) > 0, np.nan, 1.0)},
            "field 'inputs' holds nan at frame 2, column 0; inputs must be finite",
        ),
        (
            "ctc",
            {"inputs": np.where(np.eye(7, 2, -4) > 0, -np.inf, 1.0)},
            "field 'inputs' holds -inf at frame 4, column 0",
        ),
        (
            "next_step",
            {"inputs": np.full((7, 2), 0.5) + np.eye(7, 2, -3)},
            "field 'inputs' holds 1.5 at frame 3, column 0; next_step inputs are also the "
            "targets of the step before, so each lies in 0..1",
        ),
        (
            "framewise",
            {"lengths": np.array([3.0, 4.0])},
            "field 'lengths' has dtype float64, expected integers",
        ),
        (
            "framewise",
            {"lengths": np.array([3, 3])},
            "field 'lengths' sums to 6 frames, but field 'inputs' has 7",
        ),
        (
            "framewise",
            {"lengths": np.array([3, 0, 4])},
            "field 'lengths' gives sequence 1 0 frames; expected at least 1",
        ),
        (
            "framewise",
            {
                "inputs": np.zeros((0, 2)),
                "lengths": np.zeros(0, dtype=int),
                "targets": np.zeros(0, dtype=int),
            },
            "field 'lengths' is empty: the split holds no sequence (it needs one)",
        ),
        (
            "next_step",
            {"lengths": np.array([1, 6])},
            "field 'lengths' gives sequence 0 1 step(s); next-step prediction needs at least 2",
        ),
        (
            "framewise",
            {"targets": np.array([0, 1, 1, 2, 2, 0])},
            "field 'targets' has 6 entries for 7 input frames (field 'inputs'); a framewise "
            "task needs one class per frame",
        ),
        (
            "framewise",
            {"targets": np.array([0, 1, 1, 2, 3, 0, 1])},
            "field 'targets' holds 3 at frame 4, outside 0..2 (field 'n_classes' is 3)",
        ),
        (
            "framewise",
            {"targets": np.array([0, 1, -1, 2, 2, 0, 1])},
            "field 'targets' holds -1 at frame 2, outside 0..2",
        ),
        (
            "framewise",
            {"targets": np.array([0.0, 1, 1, 2, 2, 0, 1])},
            "field 'targets' has dtype float64, expected integers",
        ),
        (
            "framewise",
            {"n_classes": np.array([3])},
            "field 'n_classes' has shape (1,), expected a single number, shape ()",
        ),
        (
            "ctc",
            {"n_classes": np.array(1)},
            "field 'n_classes' is 1; a ctc task needs the blank (0) and at least one label",
        ),
        (
            "ctc",
            {"targets": np.array([2, 0, 3, 3])},
            "field 'targets' holds 0 at label 1, outside 1..3 (field 'n_classes' is 4); "
            "0 is the CTC blank, never a label",
        ),
        (
            "ctc",
            {"target_lengths": np.array([2, 1])},
            "field 'target_lengths' sums to 3 labels, but field 'targets' has 4",
        ),
        (
            "ctc",
            {"target_lengths": np.array([4])},
            "field 'target_lengths' has 1 entries for 2 sequences (field 'lengths')",
        ),
        (
            "ctc",
            {"targets": np.array([1, 2, 3, 1]), "target_lengths": np.array([4, 0])},
            "field 'targets' gives sequence 0 4 labels (0 repeated in a row, each needing a "
            "blank between), which need at least 4 frames; its input has 3 (field 'lengths')",
        ),
        (
            "ctc",
            {"targets": np.array([1, 3, 3, 3]), "target_lengths": np.array([1, 3])},
            "field 'targets' gives sequence 1 3 labels (2 repeated in a row, each needing a "
            "blank between), which need at least 5 frames; its input has 4",
        ),
        (
            "framewise",
            {"labels": np.array(["sil", "a"])},
            "field 'labels' names 2, for 3 classes (field 'n_classes')",
        ),
        (
            "next_step",
            {"labels": np.array([1, 2])},
            "field 'labels' is int64 (2,), expected strings, shape (n,)",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 12 else None,
)
def test_a_bad_field_is_named_with_what_was_expected(tmp_path, kind, changed, problem):
    folder = _write(tmp_path / "d", kind, valid=changed)
    error = _refused(folder, kind)
    assert error.source == str(folder / "valid.npz")
    assert error.problem.startswith(problem), error.problem


def test_splits_with_different_input_widths_are_refused(tmp_path):
    wider = {"inputs": np.zeros((7, 3))}
    folder = _write(tmp_path / "d", "framewise", test=wider)
    error = _refused(folder, "framewise")
    assert error.source == str(folder / "test.npz")
    assert error.problem == (
        "field 'inputs' has 3 columns, train.npz has 2; every split needs the same input features"
    )


def test_splits_with_different_classes_or_names_are_refused(tmp_path):
    folder = _write(tmp_path / "d", "framewise", valid={"n_classes": np.array(4)})
    error = _refused(folder, "framewise")
    assert error.source == str(folder / "valid.npz")
    assert error.problem.startswith("field 'n_classes' is 4, train.npz says 3")

    named = {"labels": np.array(["x", "y", "z"])}
    folder = _write(tmp_path / "e", "framewise", train=named, valid=named)
    error = _refused(folder, "framewise")
    assert error.source == str(folder / "test.npz")
    assert error.problem.startswith("field 'labels' is absent, train.npz has [x, y, z]")


# --- preparation ----------------------------------------------------------------------------------


def test_framewise_inputs_are_standardised_with_the_training_split(tmp_path):
    folder = _write(tmp_path / "d", "framewise", test={"inputs": np.full((7, 2), 3.0)})
    prepared = prepare_sequences(folder, FRAMEWISE, tmp_path / "data.h5")
    again = read_prepared(tmp_path / "data.h5")
    assert again.content_hash == prepared.content_hash
    train = _framewise()["inputs"]
    mean, std = train.mean(axis=0), train.std(axis=0)
    assert np.allclose(again.metadata["input_mean"], mean)
    assert np.allclose(again.splits["train"].inputs, (train - mean) / std, atol=1e-6)
    assert np.allclose(again.splits["test"].inputs, (3.0 - mean) / std, atol=1e-6)
    assert again.splits["valid"].targets.tolist() == [0, 1, 1, 2, 2, 0, 1]
    assert again.splits["valid"].offsets.tolist() == [0, 3, 7]
    assert again.task_kind == "framewise" and again.n_classes == 3 and again.input_size == 2
    assert again.metadata["source"] == "npz"
    assert set(json.loads(again.metadata["source_sha256"])) == set(SPLITS)


def test_next_step_sequences_become_step_and_next_step_pairs(tmp_path):
    folder = _write(tmp_path / "d", "next_step", train={"labels": np.array(["do", "re"])})
    with pytest.raises(CorpusError, match="field 'labels' is absent, train.npz has"):
        prepare_sequences(folder, NEXT_STEP, tmp_path / "data.h5")
    prepare_sequences(_write(tmp_path / "e", "next_step"), NEXT_STEP, tmp_path / "data.h5")
    prepared = read_prepared(tmp_path / "data.h5")
    roll = _next_step()["inputs"]
    split = prepared.splits["train"]
    assert split.offsets.tolist() == [0, 2, 5]  # 3 and 4 steps give 2 and 3 pairs
    first_inputs, first_targets = split.sequence(0)
    assert np.array_equal(first_inputs, roll[0:2]) and np.array_equal(first_targets, roll[1:3])
    second_inputs, second_targets = split.sequence(1)
    assert np.array_equal(second_inputs, roll[3:6]) and np.array_equal(second_targets, roll[4:7])
    assert prepared.metadata["normalisation"] == "none" and prepared.n_classes == 2


def test_ctc_labels_keep_their_own_lengths_and_the_blank_is_zero(tmp_path):
    folder = _write(tmp_path / "d", "ctc")
    prepare_sequences(folder, CTC, tmp_path / "data.h5")
    prepared = read_prepared(tmp_path / "data.h5")
    split = prepared.splits["test"]
    assert split.target_offsets.tolist() == [0, 2, 4]
    assert split.sequence(1)[1].tolist() == [3, 3]
    assert prepared.metadata["blank_index"] == 0 and prepared.n_classes == 4


# --- the config and the corpus check --------------------------------------------------------------

SEARCH = {
    "hidden_size": {"distribution": "log_uniform_int", "low": 4, "high": 8},
    "learning_rate": {"distribution": "log_uniform", "low": 1e-3, "high": 3e-2},
    "momentum": {"distribution": "one_minus_log_uniform", "low": 0.0, "high": 0.9},
    "input_noise": {"distribution": "uniform", "low": 0.0, "high": 0.1},
}


def _study(kind: str, path: Path) -> dict:
    return {
        "study_seed": 3,
        "study_name": f"own-{kind}",
        "variants": ["V", "NP"],
        "implementation": "reference",
        "tasks": {
            "sequences": {
                "data": {"kind": kind, "path": str(path)},
                "training": {"trials": 2, "max_epochs": 2, "patience": 2},
                "search": SEARCH,
            }
        },
        "analysis": {"baseline": "V", "best_fraction": 1.0, "fanova": {"trees": 4, "grid_size": 5}},
    }


@pytest.mark.parametrize("kind", sorted(TASK_KINDS))
def test_the_config_chooses_the_kind(tmp_path, kind):
    config = validate_config(_study(kind, tmp_path))
    assert task_kind("sequences", config["tasks"]["sequences"]["data"]) is TASK_KINDS[kind]
    assert config["tasks"]["sequences"]["data"]["source"] == "npz"


def test_a_bidirectional_network_is_refused_for_next_step_only(tmp_path):
    config = _study("next_step", tmp_path)
    config["tasks"]["sequences"]["network"] = {"bidirectional": True}
    with pytest.raises(ConfigError, match=r"tasks\.sequences\.network\.bidirectional.*next_step"):
        validate_config(copy.deepcopy(config), "my.yaml")
    config["tasks"]["sequences"]["data"]["kind"] = "framewise"
    validate_config(config)


def test_a_section_without_a_kind_or_with_an_unknown_one_is_named(tmp_path):
    config = _study("framewise", tmp_path)
    del config["tasks"]["sequences"]["data"]["kind"]
    with pytest.raises(ConfigError, match=r"tasks\.sequences\.data: 'kind' is a required"):
        validate_config(config)
    config["tasks"]["sequences"]["data"]["kind"] = "regression"
    with pytest.raises(ConfigError, match=r"tasks\.sequences\.data\.kind: 'regression' is not"):
        validate_config(config)


def test_the_corpus_check_names_a_missing_split_file_and_a_file_not_npz(tmp_path):
    folder = _write(tmp_path / "d", "framewise")
    config = validate_config(_study("framewise", folder))
    assert corpus_problems(config) == []
    (folder / "valid.npz").unlink()
    (folder / "test.npz").write_text("not numpy")
    (problem,) = corpus_problems(config)
    assert str(problem).startswith(
        f"tasks.sequences.data.path: {folder} has train.npz, test.npz but no valid.npz"
    )
    assert "scripts/make_example_sequences.py" in problem.fix
    np.savez(folder / "valid.npz", **_framewise())
    (problem,) = corpus_problems(config)
    assert f"{folder / 'test.npz'} is not an NPZ file" in str(problem)


def test_the_corpus_check_names_a_missing_folder_a_file_and_another_corpus(tmp_path):
    config = validate_config(_study("ctc", tmp_path / "nowhere"))
    (problem,) = corpus_problems(config)
    assert f"{tmp_path / 'nowhere'} does not exist" in str(problem)
    (tmp_path / "one.npz").write_bytes(b"PK")
    config["tasks"]["sequences"]["data"]["path"] = str(tmp_path / "one.npz")
    (problem,) = corpus_problems(config)
    assert "is a file; expected the sequence files's folder" in str(problem)
    for split in ("TRAIN", "TEST"):
        (tmp_path / "timit" / split / "DR1").mkdir(parents=True)
    config["tasks"]["sequences"]["data"]["path"] = str(tmp_path / "timit")
    (problem,) = corpus_problems(config)
    assert "has no train.npz or valid.npz or test.npz: it holds TIMIT" in str(problem)
    # And the other way round: a TIMIT path at a sequences folder says what it holds.
    folder = _write(tmp_path / "seq", "framewise")
    timit = {"tasks": {"timit": {"data": {"source": "ldc", "path": str(folder)}}}}
    (problem,) = corpus_problems(timit)
    assert "it holds sequence files (train.npz, valid.npz, test.npz)" in str(problem)


def test_the_shipped_config_reads_the_folder_the_script_is_told_to_write(tmp_path, monkeypatch):
    config = load_config(REPO / "config" / "sequences.yaml")
    data = config["tasks"]["sequences"]["data"]
    monkeypatch.chdir(tmp_path)
    (problem,) = corpus_problems(config)
    assert f"{data['path']} does not exist" in str(problem)
    assert "make_example_sequences.py" in problem.fix
    write_example(
        tmp_path / data["path"], data["kind"], sequences={"train": 2, "valid": 1, "test": 1}
    )
    assert corpus_problems(config) == []


# --- a study on your own data ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["framewise", "next_step", "ctc"])
def test_a_tiny_study_runs_on_the_example_data(tmp_path, kind):
    data = write_example(
        tmp_path / "my-data", kind, seed=1, sequences={"train": 8, "valid": 3, "test": 3}
    )
    config = _study(kind, data)
    if kind == "framewise":  # one tiny study of all three extensions: own data, variant, GRU
        config["custom_variants"] = {
            "NP+CIFG": {"peepholes": False, "forget_gate": False, "coupled_input_forget": True}
        }
        config["variants"] += ["NP+CIFG", "GRU"]
    write_study_config(tmp_path, config)
    result = run_snakemake(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    study = tmp_path / "results" / f"own-{kind}"
    trials = (study / "sequences" / "trials.tsv").read_text().splitlines()
    assert len(trials) == 1 + len(config["variants"]) * 2  # a header, 2 trials per variant
    for variant in config["variants"]:
        record = json.loads((study / "trials" / "sequences" / variant / "1.json").read_text())
        assert record["status"] == "ok", variant
    metric = TASK_KINDS[kind].metric_name
    record = json.loads((study / "trials" / "sequences" / "V" / "0.json").read_text())
    assert record["status"] == "ok" and record["metric"] == metric
    assert record["task_kind"] == kind
    assert (study / "sequences" / "findings.tsv").exists()
    # Nothing reruns on a second look; new content in the folder reruns the preparation.
    assert planned_jobs(tmp_path) == {}
    write_example(data, kind, seed=2, sequences={"train": 8, "valid": 3, "test": 3})
    assert planned_jobs(tmp_path)["prepare_data"] == 1
