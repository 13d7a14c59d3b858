"""The synthetic-iamondb stand-in: Hershey fonts, the generator, the real reader on its output."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest

from lstm_odyssey.data.iam_ondb import STAND_IN, STAND_IN_MARKER
from lstm_odyssey.data.iam_ondb.hershey import (
    HERSHEY_DIRECTORY,
    MissingFontError,
    load_font,
    parse_jhf,
)
from lstm_odyssey.data.iam_ondb.pairing import paper_split
from lstm_odyssey.data.iam_ondb.prepare import ctc_min_frames, prepare_iam_ondb
from lstm_odyssey.data.iam_ondb.stand_in import generate_synthetic_iamondb, resample, text_lines
from lstm_odyssey.data.iam_ondb.strokes import read_split_list, read_stroke_file, read_transcription

FONTS_INSTALLED = (HERSHEY_DIRECTORY / "cursive.jhf").is_file() and (
    HERSHEY_DIRECTORY / "scripts.jhf"
).is_file()
needs_fonts = pytest.mark.skipif(
    not FONTS_INSTALLED, reason="Hershey fonts missing: apt-get install hershey-fonts-data"
)
SMALL = {
    "seed": 3,
    "train_writers": 3,
    "valid_writers": 2,
    "test_writers": 1,
    "lines_per_writer": 4,
}


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# --- Hershey fonts --------------------------------------------------------------------------------


def test_a_jhf_record_gives_extent_strokes_and_pen_ups():
    # "KY": left -7, right 7; "RF" "RT" one stroke (0,-12)-(0,2); " R" pen up; "QS" a point.
    (glyph,) = parse_jhf("12345  5KYRFRT RQS\n")
    assert (glyph.left, glyph.right, glyph.advance) == (-7, 7, 14)
    assert [stroke.tolist() for stroke in glyph.strokes] == [[[0, -12], [0, 2]], [[-1, 1]]]


def test_a_jhf_record_may_continue_on_the_next_line():
    (glyph,) = parse_jhf("    1  4KYRF\nRTRR\n")
    assert [stroke.tolist() for stroke in glyph.strokes] == [[[0, -12], [0, 2], [0, 0]]]


def test_a_missing_font_says_what_to_install(tmp_path):
    with pytest.raises(MissingFontError, match="apt-get install hershey-fonts-data"):
        load_font("cursive", tmp_path)


@needs_fonts
def test_the_cursive_font_covers_printable_ascii():
    font = load_font("cursive")
    assert set(map(chr, range(32, 127))) <= set(font)
    assert font[" "].strokes == () and font["a"].strokes


# --- generator pieces -----------------------------------------------------------------------------


def test_resampling_keeps_both_ends_and_spaces_points_evenly():
    points = resample(np.array([[0.0, 0.0], [100.0, 0.0]]), 20.0)
    assert points[:, 0].tolist() == [0, 20, 40, 60, 80, 100]
    assert resample(np.array([[5.0, 5.0], [5.0, 5.0]]), 20.0).tolist() == [[5, 5]]


def test_text_lines_are_short_public_domain_lines():
    lines = text_lines(10, 30)
    assert len(lines) > 200
    assert all(10 <= len(line) <= 30 for line in lines)
    assert all(32 <= ord(c) < 127 for line in lines for c in line)


# --- the corpus -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if not FONTS_INSTALLED:
        pytest.skip("Hershey fonts missing: apt-get install hershey-fonts-data")
    return generate_synthetic_iamondb(tmp_path_factory.mktemp("synthetic") / "iamondb", **SMALL)


def test_the_stand_in_has_the_real_layout(corpus):
    for name in ("trainset.txt", "testset_v.txt", "testset_t.txt", "testset_f.txt"):
        assert (corpus / "task1" / name).is_file()
    stroke_file = corpus / "lineStrokes" / "s00" / "s00-000" / "s00-000w-01.xml"
    ascii_file = corpus / "ascii" / "s00" / "s00-000" / "s00-000w.txt"
    strokes = read_stroke_file(stroke_file)
    assert len(strokes) > 1 and all(len(stroke) for stroke in strokes)
    times = np.concatenate([stroke[:, 2] for stroke in strokes])
    assert np.all(np.diff(times) > 0)
    assert len(read_transcription(ascii_file.read_text(), ascii_file)) == 4


def test_writers_are_disjoint_across_splits(corpus):
    lists = {
        path.name: read_split_list(path.read_text()) for path in (corpus / "task1").glob("*.txt")
    }
    split = paper_split(lists)
    writers = {name: {form.split("-")[0] for form in forms} for name, forms in split.items()}
    assert writers["train"].isdisjoint(writers["valid"])
    assert writers["train"].isdisjoint(writers["test"])
    assert writers["valid"].isdisjoint(writers["test"])
    assert lists["testset_v.txt"] and lists["testset_t.txt"]  # validation writers alternate
    marker = json.loads((corpus / STAND_IN_MARKER).read_text())
    assert marker["source"] == STAND_IN
    assert marker["lines"] == {"train": 12, "valid": 8, "test": 4}


def test_the_real_reader_prepares_the_stand_in(corpus, tmp_path):
    prepared = prepare_iam_ondb(corpus, tmp_path / "iam.h5")
    assert prepared.metadata["source"] == STAND_IN
    assert prepared.split_sizes() == {"train": 12, "valid": 8, "test": 4}
    counts = json.loads(prepared.metadata["preparation_counts"])
    assert all(counts[name]["ctc_infeasible"] == 0 for name in counts)
    assert all(counts[name]["outlier_points"] == 0 for name in counts)
    for name, split in prepared.splits.items():
        for index in range(split.n_sequences):
            inputs, labels = split.sequence(index)
            assert len(inputs) >= 3 * ctc_min_frames(labels), name


def test_generation_is_a_function_of_the_seed(corpus, tmp_path):
    again = generate_synthetic_iamondb(tmp_path / "again", **SMALL)
    other = generate_synthetic_iamondb(tmp_path / "other", **{**SMALL, "seed": 4})
    assert tree_digest(again) == tree_digest(corpus)
    assert tree_digest(other) != tree_digest(corpus)


def test_regenerating_replaces_the_corpus_whole(tmp_path):
    if not FONTS_INSTALLED:
        pytest.skip("Hershey fonts missing: apt-get install hershey-fonts-data")
    target = tmp_path / "corpus"
    generate_synthetic_iamondb(target, **{**SMALL, "train_writers": 5})
    generate_synthetic_iamondb(target, **SMALL)
    assert len(list((target / "lineStrokes").iterdir())) == 6  # 3 + 2 + 1 writers, none left over
    assert [path.name for path in tmp_path.iterdir()] == ["corpus"]  # no temporary folders left


def test_missing_fonts_leave_no_corpus(tmp_path):
    with pytest.raises(MissingFontError, match="apt-get install hershey-fonts-data"):
        generate_synthetic_iamondb(tmp_path / "corpus", **SMALL, font_directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


@needs_fonts
def test_the_default_study_size_is_generated_and_prepared_in_seconds(tmp_path):
    started = time.perf_counter()
    root = generate_synthetic_iamondb(
        tmp_path / "corpus",
        seed=0,
        train_writers=12,
        valid_writers=3,
        test_writers=3,
        lines_per_writer=10,
    )
    generated = time.perf_counter() - started
    prepared = prepare_iam_ondb(root, tmp_path / "iam.h5")
    marker = json.loads((root / STAND_IN_MARKER).read_text())
    assert prepared.split_sizes() == {"train": 120, "valid": 30, "test": 30}
    assert 100 <= marker["points_per_line"]["mean"] <= 600
    assert generated < 30
