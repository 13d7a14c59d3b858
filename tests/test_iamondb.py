"""IAM-OnDB reader: stroke XML, CSR transcriptions, split lists, pairing, features, prepare."""

from __future__ import annotations

import json
import logging
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.iam_ondb import SOURCE_REAL, STAND_IN, STAND_IN_MARKER
from lstm_odyssey.data.iam_ondb.pairing import COUNT_NAMES, SplitReport, pair_lines, paper_split
from lstm_odyssey.data.iam_ondb.pen_features import (
    OUTLIER_JUMP,
    LineInk,
    monotone_time,
    pen_features,
    remove_outliers,
)
from lstm_odyssey.data.iam_ondb.prepare import ctc_min_frames, encode_text, prepare_iam_ondb
from lstm_odyssey.data.iam_ondb.strokes import (
    clean_text,
    read_split_list,
    read_stroke_file,
    read_stroke_xml,
    read_transcription,
)
from lstm_odyssey.data.store import read_prepared

# --- a hand-written corpus ------------------------------------------------------------------------


def stroke_xml(strokes: list[list[tuple[int, int, float]]]) -> str:
    """A lineStrokes file as the distribution writes it (description first, then strokes)."""
    body = "".join(
        '<Stroke colour="black">'
        + "".join(f'<Point x="{x}" y="{y}" time="{t}"/>' for x, y, t in stroke)
        + "</Stroke>"
        for stroke in strokes
    )
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>'
        '<WhiteboardDescription><SensorLocation corner="top_left"/>'
        '<DiagonallyOppositeCoords x="6512" y="1376"/></WhiteboardDescription>'
        f"<StrokeSet>{body}</StrokeSet></WhiteboardCaptureSession>"
    )


def ascii_text(lines: list[str]) -> str:
    body = "\n".join(lines)
    return f"Writer ID: 10001\n\nOCR:\n\nnot this text\n\nCSR:\n\n{body}\n"


# Line A: one stroke, x 0, 10, 20 from its origin; line B: a 2-point and a 1-point stroke.
LINE_A = [[(100, 200, 10.0), (110, 200, 10.5), (120, 200, 11.0)]]
LINE_B = [[(50, 60, 5.0), (50, 70, 5.5)], [(60, 60, 6.0)]]
TRAIN_RAW = {  # the four features of the training points, worked out by hand
    "x": [0, 10, 20, 0, 0, 10],
    "y": [0, 0, 0, 0, 10, 0],
    "time": [0, 0.5, 1, 0, 0.5, 1],
    "pen_up": [0, 0, 1, 0, 1, 1],
}
LONG_STROKE = [[(10 * i, 0, 0.01 * i) for i in range(12)]]

CORPUS = {
    # form: (split list, text lines, stroke files by line number)
    "a01-000u": ("trainset.txt", ["ab", "b &quot;a&quot;"], {1: LINE_A, 2: LONG_STROKE}),
    "a01-001": ("trainset.txt", ["a"], {1: LINE_B}),
    "b01-000x": ("testset_v.txt", ["ba"], {1: LONG_STROKE}),
    "c01-000w": ("testset_t.txt", ["abc"], {1: LONG_STROKE}),  # c is not in training text
    "d01-000z": ("testset_f.txt", ["aab", "b"], {1: LONG_STROKE, 2: LONG_STROKE}),
}


def write_corpus(root: Path, corpus: dict = CORPUS) -> Path:
    lists: dict[str, list[str]] = {
        "trainset.txt": [],
        "testset_v.txt": [],
        "testset_t.txt": [],
        "testset_f.txt": [],
    }
    for form_id, (list_name, texts, stroke_files) in corpus.items():
        lists[list_name].append(form_id)
        folder = Path(form_id.split("-")[0]) / form_id[:7]
        if texts is not None:
            ascii_file = root / "ascii" / folder / f"{form_id}.txt"
            ascii_file.parent.mkdir(parents=True, exist_ok=True)
            ascii_file.write_text(ascii_text(texts))
        for number, strokes in stroke_files.items():
            xml_file = root / "lineStrokes" / folder / f"{form_id}-{number:02d}.xml"
            xml_file.parent.mkdir(parents=True, exist_ok=True)
            xml_file.write_text(stroke_xml(strokes))
    (root / "task1").mkdir(parents=True)
    for list_name, forms in lists.items():
        (root / "task1" / list_name).write_text("".join(f"{f}\n" for f in forms))
    return root


def counts_of(prepared) -> dict:
    return json.loads(prepared.metadata["preparation_counts"])


# --- stroke XML -----------------------------------------------------------------------------------


def test_stroke_xml_gives_each_strokes_points_in_order(tmp_path):
    path = tmp_path / "a01-000u-01.xml"
    path.write_text(stroke_xml(LINE_B))
    strokes = read_stroke_file(path)
    assert [s.tolist() for s in strokes] == [[[50, 60, 5.0], [50, 70, 5.5]], [[60, 60, 6.0]]]


def test_times_keep_their_precision_at_the_tablets_clock():
    (stroke,) = read_stroke_xml(
        stroke_xml([[(1, 2, 14978711.86), (1, 3, 14978711.88)]]).encode(), "f"
    )
    assert stroke[1, 2] - stroke[0, 2] == pytest.approx(0.02, abs=1e-6)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "empty file"),
        ("   \n", "empty file"),
        ("<WhiteboardCaptureSession><StrokeSet><Stroke>", "malformed XML"),
        ("<WhiteboardCaptureSession></WhiteboardCaptureSession>", "no <StrokeSet>"),
        (
            '<W><StrokeSet><Stroke><Point x="1" y="2"/></Stroke></StrokeSet></W>',
            "stroke 0, point 0",
        ),
        (
            '<W><StrokeSet><Stroke><Point x="1" y="a" time="0"/></Stroke></StrokeSet></W>',
            "numeric",
        ),
    ],
)
def test_a_broken_stroke_file_is_an_error_naming_it(tmp_path, content, problem):
    path = tmp_path / "lineStrokes" / "a01-000u-03.xml"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(CorpusError, match=problem) as raised:
        read_stroke_file(path)
    assert raised.value.source == str(path)


@pytest.mark.parametrize(
    "stroke_set", ["<StrokeSet></StrokeSet>", "<StrokeSet><Stroke></Stroke></StrokeSet>"]
)
def test_a_stroke_set_without_points_reads_as_a_line_without_ink(stroke_set):
    strokes = read_stroke_xml(f"<W>{stroke_set}</W>".encode(), "a01-000u-03.xml")
    assert sum(len(stroke) for stroke in strokes) == 0


# --- transcriptions and split lists ---------------------------------------------------------------


def test_transcription_is_the_non_empty_lines_after_csr():
    text = "Writer ID: 1\nOCR:\n\nold text\n\nCSR:\n\nfirst line\n  second line  \n\nthird\n"
    assert read_transcription(text, "x.txt") == ["first line", "second line", "third"]


def test_a_transcription_without_csr_is_an_error_naming_it():
    with pytest.raises(CorpusError, match="x.txt: no 'CSR:'"):
        read_transcription("OCR:\n\nsome text\n", "x.txt")


def test_entities_are_decoded_and_counted_and_spaces_collapsed():
    assert clean_text("&quot;Yes,&quot;  he  said &amp; left") == ('"Yes," he said & left', 3)
    assert clean_text("no entities & here") == ("no entities & here", 0)


def test_split_lists_read_one_form_per_line():
    assert read_split_list("a01-000u\n\n  a01-001 \n") == ["a01-000u", "a01-001"]


def test_paper_split_joins_testset_v_and_t_for_validation():
    lists = {
        "trainset.txt": ["a"],
        "testset_v.txt": ["v1", "v2"],
        "testset_t.txt": ["t1"],
        "testset_f.txt": ["f1"],
    }
    assert paper_split(lists) == {"train": ["a"], "valid": ["v1", "v2", "t1"], "test": ["f1"]}


def test_a_form_in_two_split_lists_is_an_error():
    lists = {
        "trainset.txt": ["a"],
        "testset_v.txt": [],
        "testset_t.txt": [],
        "testset_f.txt": ["a"],
    }
    with pytest.raises(CorpusError, match="testset_f.txt: form a is also in trainset.txt"):
        paper_split(lists)


def test_a_missing_split_list_is_an_error():
    with pytest.raises(CorpusError, match="testset_t.txt"):
        paper_split({"trainset.txt": [], "testset_v.txt": [], "testset_f.txt": []})


# --- pairing stroke files with text lines ---------------------------------------------------------


def _ink(line_id: str) -> LineInk:
    counts = {"empty_strokes": 0, "outlier_points": 0, "single_point_strokes": 0}
    return LineInk(line_id, f"{line_id}.xml", np.zeros((5, 4), np.float32), counts)


def test_stroke_file_n_takes_the_nth_csr_line():
    report = SplitReport()
    inks = {1: _ink("f-01"), 2: _ink("f-02")}
    lines = pair_lines("f", ("f.txt", ["one", "two"]), inks, report)
    assert [(line.line_id, line.text) for line in lines] == [("f-01", "one"), ("f-02", "two")]
    assert report.counts["forms_with_line_count_mismatch"] == 0


@pytest.mark.parametrize(
    ("numbers", "named"),
    [
        ((1, 2, 3, 4), "lines 1-4"),  # one stroke file more than text lines (a08-551z)
        ((1, 2), "lines 1-2"),  # one text line more than stroke files
        ((1, 2, 4), "lines 1-2, 4"),  # as many, but a gap: -04 is not the third line
    ],
)
def test_a_form_whose_stroke_files_and_csr_lines_disagree_is_skipped_whole(caplog, numbers, named):
    report = SplitReport()
    inks = {number: _ink(f"f-{number:02d}") for number in numbers}
    with caplog.at_level(logging.WARNING):
        lines = pair_lines("f", ("f.txt", ["one", "two", "three"]), inks, report)
    assert lines == []
    assert report.counts["forms_with_line_count_mismatch"] == 1
    assert report.counts["lines_in_mismatched_forms"] == len(numbers)
    assert f"form f skipped whole ({len(numbers)} lines)" in caplog.text
    assert f"f.txt has CSR text lines 1-3 but the stroke files are {named}" in caplog.text


def test_a_line_without_ink_is_skipped_and_counted_its_neighbours_kept():
    report = SplitReport()
    empty = LineInk("f-02", "f-02.xml", np.zeros((0, 4), np.float32), {})
    lines = pair_lines("f", ("f.txt", ["one", "two"]), {1: _ink("f-01"), 2: empty}, report)
    assert [(line.line_id, line.text) for line in lines] == [("f-01", "one")]
    assert report.counts["lines_without_ink"] == 1
    assert report.counts["forms_with_line_count_mismatch"] == 0


def test_a_form_without_transcription_skips_and_counts_its_lines():
    report = SplitReport()
    assert pair_lines("f", None, {1: _ink("f-01"), 2: _ink("f-02")}, report) == []
    assert report.counts["lines_without_transcription"] == 2
    assert report.counts["forms_without_transcription"] == 1


# --- features -------------------------------------------------------------------------------------


def _strokes(line):
    return [np.asarray(stroke, dtype=np.float64) for stroke in line]


def test_pen_features_start_at_the_lines_origin_and_mark_each_strokes_last_point():
    features = pen_features(_strokes(LINE_B), offsets=False)
    assert features.dtype == np.float32 and features.shape == (3, 4)
    # x - 50, y - 60, time - 5.0, pen-up on the last point of each stroke
    assert features.tolist() == [[0, 0, 0, 0], [0, 10, 0.5, 1], [10, 0, 1.0, 1]]


def test_offsets_give_steps_from_the_previous_point_and_time_since_the_strokes_start():
    features = pen_features(_strokes(LINE_B), offsets=True)
    # dx, dy from the previous point (also across the pen-up); time restarts at each stroke
    assert features.tolist() == [[0, 0, 0, 0], [0, 10, 0.5, 1], [10, -10, 0, 1]]


def test_stroke_time_counts_from_each_strokes_first_point():
    strokes = _strokes(
        [
            [(0, 0, 2.0), (3, 4, 2.25), (6, 8, 2.5)],
            [(10, 0, 3.0), (10, 5, 3.5)],
        ]
    )
    # by hand: dx, dy, seconds since the stroke's first point, pen-up
    assert pen_features(strokes, offsets=True).tolist() == [
        [0, 0, 0, 0],
        [3, 4, 0.25, 0],
        [3, 4, 0.5, 1],
        [4, -8, 0, 0],
        [0, 5, 0.5, 1],
    ]


def test_offsets_are_the_default_inputs(tmp_path):
    prepared = prepare_iam_ondb(write_corpus(tmp_path / "c"), tmp_path / "iam.h5")
    assert prepared.metadata["offsets"] is True
    assert prepared.metadata["input_names"] == "dx,dy,stroke_time,pen_up"


def test_empty_strokes_contribute_no_points():
    strokes = [np.zeros((0, 3)), *_strokes(LINE_A)]
    assert pen_features(strokes, offsets=False)[:, 3].tolist() == [0, 0, 1]


def test_an_isolated_far_point_inside_a_stroke_is_dropped():
    spike = np.array([[0, 0, 0], [5, 0, 1], [5, 900, 2], [10, 0, 3], [15, 0, 4]], float)
    (cleaned,), removed = remove_outliers([spike])
    assert removed == 1 and cleaned[:, 0].tolist() == [0, 5, 10, 15]


def test_a_far_last_point_is_dropped_but_a_pen_up_jump_is_not():
    tail = np.array([[0, 0, 0], [5, 0, 1], [10, 0, 2], [10 + OUTLIER_JUMP + 1, 0, 3]], float)
    far_stroke = np.array([[5000, 0, 4], [5005, 0, 5], [5010, 0, 6]], float)
    cleaned, removed = remove_outliers([tail, far_stroke])
    assert removed == 1
    assert [len(stroke) for stroke in cleaned] == [3, 3]


def test_a_fast_but_continuous_stroke_is_kept():
    steady = np.array([[0, 0, 0], [250, 0, 1], [500, 0, 2], [750, 0, 3]], float)
    assert remove_outliers([steady])[1] == 0


def _times(strokes):
    return [stroke[:, 2].tolist() for stroke in strokes]


def test_a_backward_time_spike_holds_the_latest_time_and_the_clock_resumes():
    # a01-053-03: the clock falls back ~4390 s for a few points, then returns
    times = [29.28, 29.30, 29.32, -4362.82, -4362.82, 29.34, 29.36]
    stroke = np.array([(float(i), 0.0, t) for i, t in enumerate(times)])
    (held_stroke,), held = monotone_time([stroke])
    assert held == 2
    assert _times([held_stroke]) == [[29.28, 29.30, 29.32, 29.32, 29.32, 29.34, 29.36]]
    assert held_stroke[:, :2].tolist() == stroke[:, :2].tolist()  # the ink is untouched


def test_time_jitter_and_a_stroke_starting_early_are_held_across_strokes():
    # a01-020x-04: points stamped out of order by 10-20 ms; a stroke starting before the last ended
    first = np.array([[0, 0, 0.63], [1, 0, 0.67], [2, 0, 0.66], [3, 0, 0.68]])
    second = np.array([[9, 0, 0.675], [9, 1, 0.70]])
    strokes, held = monotone_time([first, second])
    assert held == 2
    assert _times(strokes) == [[0.63, 0.67, 0.67, 0.68], [0.68, 0.70]]
    assert [len(stroke) for stroke in strokes] == [4, 2]


def test_times_that_never_go_back_are_unchanged():
    strokes, held = monotone_time(_strokes(LINE_B))
    assert held == 0 and _times(strokes) == [[5.0, 5.5], [6.0]]


# --- targets and CTC ------------------------------------------------------------------------------


def test_ctc_needs_a_blank_between_repeated_labels():
    assert ctc_min_frames([1, 1, 2]) == 4
    assert ctc_min_frames([1, 2, 3]) == 3
    assert ctc_min_frames([3, 3, 3]) == 5
    assert ctc_min_frames([]) == 0


def test_text_is_encoded_from_one_with_unknown_characters_removed():
    ids, unknown = encode_text("ab?ca", " abc")
    assert ids.tolist() == [2, 3, 4, 2] and unknown == Counter({"?": 1})


# --- prepare --------------------------------------------------------------------------------------


@pytest.fixture()
def prepared(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    return prepare_iam_ondb(corpus, tmp_path / "iam.h5")


def test_prepare_gives_the_paper_split_of_text_lines(prepared):
    assert prepared.split_sizes() == {"train": 3, "valid": 2, "test": 2}
    metadata = prepared.metadata
    assert metadata["task_kind"] == "ctc" and metadata["source"] == SOURCE_REAL
    assert metadata["input_size"] == 4
    assert metadata["alphabet"] == ' "ab'  # training text only, code-point order
    assert metadata["n_classes"] == 5 and metadata["blank_index"] == 0


def test_training_inputs_are_standardised_with_statistics_stored(tmp_path):
    corpus = {
        "a01-000u": ("trainset.txt", ["ab", "a"], {1: LINE_A, 2: LINE_B}),
        "b01-000": ("testset_v.txt", ["a"], {1: LINE_A}),
        "c01-000": ("testset_t.txt", ["b"], {1: LINE_A}),
        "d01-000": ("testset_f.txt", ["a"], {1: LINE_B}),
    }
    prepared = prepare_iam_ondb(
        write_corpus(tmp_path / "c", corpus), tmp_path / "iam.h5", offsets=False
    )
    mean = [np.mean(values) for values in TRAIN_RAW.values()]
    std = [np.std(values) for values in TRAIN_RAW.values()]
    assert mean == pytest.approx([40 / 6, 10 / 6, 0.5, 0.5])
    assert prepared.metadata["input_mean"] == pytest.approx(mean)
    assert prepared.metadata["input_std"] == pytest.approx(std)
    train = prepared.splits["train"]
    assert train.inputs.mean(axis=0) == pytest.approx([0, 0, 0, 0], abs=1e-6)
    assert train.inputs.std(axis=0) == pytest.approx([1, 1, 1, 1], abs=1e-5)
    # line B, point 2 by hand: x 0, y 10, time 0.5, pen-up 1
    expected = (np.array([0, 10, 0.5, 1]) - mean) / std
    assert prepared.splits["train"].sequence(1)[0][1] == pytest.approx(expected, abs=1e-6)
    # validation uses the training statistics
    valid_first = prepared.splits["valid"].sequence(0)[0][0]
    assert valid_first == pytest.approx((np.zeros(4) - mean) / std, abs=1e-6)


def test_targets_are_class_ids_with_blank_at_zero(prepared):
    _, labels = prepared.splits["train"].sequence(1)  # a01-000u-02: b "a" -> ' "ab' ids
    assert labels.tolist() == [4, 1, 2, 3, 2]
    assert counts_of(prepared)["train"]["entities_decoded"] == 2


def test_validation_characters_outside_the_alphabet_are_removed_and_counted(prepared):
    _, labels = prepared.splits["valid"].sequence(1)  # c01-000w-01: "abc"
    assert labels.tolist() == [3, 4]
    assert json.loads(prepared.metadata["unknown_characters"])["valid"] == {"c": 1}
    assert counts_of(prepared)["valid"]["unknown_characters_removed"] == 1


def test_a_target_ctc_cannot_fit_is_skipped_at_prepare_time_and_named(tmp_path, caplog):
    corpus = dict(CORPUS)
    three_points = [[(0, 0, 0.0), (1, 0, 0.1), (2, 0, 0.2)]]
    corpus["d01-000z"] = ("testset_f.txt", ["aab", "b"], {1: three_points, 2: LONG_STROKE})
    with caplog.at_level(logging.WARNING):
        prepared = prepare_iam_ondb(write_corpus(tmp_path / "c", corpus), tmp_path / "iam.h5")
    assert counts_of(prepared)["test"]["ctc_infeasible"] == 1
    assert prepared.split_sizes()["test"] == 1
    assert "d01-000z-01.xml: skipped, 3 pen points cannot carry 'aab' under CTC (needs 4)" in (
        caplog.text
    )
    for name in ("train", "valid", "test"):
        split = prepared.splits[name]
        for index in range(split.n_sequences):
            inputs, labels = split.sequence(index)
            assert len(inputs) >= ctc_min_frames(labels)


def test_every_count_is_reported_for_every_split(prepared):
    counts = counts_of(prepared)
    assert set(counts) == {"train", "valid", "test"}
    assert all(set(split_counts) == set(COUNT_NAMES) for split_counts in counts.values())
    assert counts["train"]["single_point_strokes"] == 1  # line B's dot is kept


def test_a_form_with_more_stroke_files_than_csr_lines_is_left_out_whole(tmp_path, caplog):
    # a08-551z on the real corpus: 9 stroke files, 8 CSR lines; none of its lines is kept
    corpus = dict(CORPUS)
    corpus["a08-551z"] = ("trainset.txt", ["b"] * 8, {n: LONG_STROKE for n in range(1, 10)})
    with caplog.at_level(logging.INFO):
        prepared = prepare_iam_ondb(write_corpus(tmp_path / "c", corpus), tmp_path / "iam.h5")
    counts = counts_of(prepared)["train"]
    assert counts["forms_with_line_count_mismatch"] == 1
    assert counts["lines_in_mismatched_forms"] == 9
    assert prepared.split_sizes()["train"] == 3
    assert "form a08-551z skipped whole (9 lines)" in caplog.text
    assert "train: forms_with_line_count_mismatch 1, lines_in_mismatched_forms 9," in caplog.text


def test_a_line_with_an_empty_stroke_set_is_skipped_and_counted(tmp_path, caplog):
    corpus = dict(CORPUS)
    corpus["a01-001"] = ("trainset.txt", ["a", "b"], {1: LINE_B, 2: []})
    with caplog.at_level(logging.INFO):
        prepared = prepare_iam_ondb(write_corpus(tmp_path / "c", corpus), tmp_path / "iam.h5")
    assert counts_of(prepared)["train"]["lines_without_ink"] == 1
    assert prepared.split_sizes()["train"] == 3  # a01-001-01 and the other form's lines kept
    assert "a01-001-02.xml: no pen point in its <StrokeSet>, line skipped" in caplog.text
    assert "lines_without_ink 1" in caplog.text


def test_backward_timestamps_are_held_counted_and_logged(tmp_path, caplog):
    backward = [[(10 * i, 0, t) for i, t in enumerate([0, 0.1, 0.2, 0.15, 0.3, -900, 0.4])]]
    backward += [[(100 + 10 * i, 5, 0.45 + 0.01 * i) for i in range(6)]]
    corpus = dict(CORPUS)
    corpus["a01-001"] = ("trainset.txt", ["a"], {1: backward})
    with caplog.at_level(logging.INFO):
        prepared = prepare_iam_ondb(
            write_corpus(tmp_path / "c", corpus), tmp_path / "iam.h5", offsets=False
        )
    assert counts_of(prepared)["train"]["backward_timestamps"] == 2  # 0.15 and -900
    assert "backward_timestamps 2" in caplog.text
    inputs, _ = prepared.splits["train"].sequence(2)  # a01-001-01, after a01-000u's two lines
    time_index = prepared.metadata["input_names"].split(",").index("time")
    assert np.all(np.diff(inputs[:, time_index]) >= 0)


def test_a_listed_form_with_neither_strokes_nor_transcription_stops_naming_it_and_its_list(
    tmp_path,
):
    corpus = dict(CORPUS)
    corpus["e01-000"] = ("testset_t.txt", None, {})
    root = write_corpus(tmp_path / "c", corpus)
    with pytest.raises(CorpusError, match="lists form e01-000 with neither stroke files") as raised:
        prepare_iam_ondb(root, tmp_path / "iam.h5")
    assert raised.value.source == str(root / "task1" / "testset_t.txt")
    assert "out of sync" in raised.value.problem
    assert not (tmp_path / "iam.h5").exists()


def test_a_listed_form_with_text_but_no_stroke_files_is_counted(tmp_path):
    corpus = dict(CORPUS)
    corpus["e01-000"] = ("trainset.txt", ["a"], {})
    prepared = prepare_iam_ondb(write_corpus(tmp_path / "c", corpus), tmp_path / "iam.h5")
    assert counts_of(prepared)["train"]["forms_without_strokes"] == 1
    assert prepared.split_sizes()["train"] == 3


def test_a_listed_form_without_ascii_file_is_counted(tmp_path):
    corpus = dict(CORPUS)
    corpus["e01-000"] = ("trainset.txt", None, {1: LONG_STROKE})
    prepared = prepare_iam_ondb(write_corpus(tmp_path / "c", corpus), tmp_path / "iam.h5")
    counts = counts_of(prepared)["train"]
    assert counts["forms_without_transcription"] == 1
    assert counts["lines_without_transcription"] == 1


def test_a_malformed_stroke_file_stops_prepare_naming_it(tmp_path):
    root = write_corpus(tmp_path / "c")
    broken = root / "lineStrokes" / "b01" / "b01-000" / "b01-000x-01.xml"
    broken.write_text("<WhiteboardCaptureSession><StrokeSet>")
    with pytest.raises(CorpusError, match="b01-000x-01.xml: malformed XML"):
        prepare_iam_ondb(root, tmp_path / "iam.h5")
    assert not (tmp_path / "iam.h5").exists()


def test_a_missing_part_names_both_accepted_forms(tmp_path):
    root = write_corpus(tmp_path / "c")
    (root / "task1" / "trainset.txt").rename(root / "trainset.txt")
    with pytest.raises(CorpusError, match=r"split lists missing: \['trainset.txt'\]"):
        prepare_iam_ondb(root, tmp_path / "iam.h5")
    with pytest.raises(
        CorpusError, match="neither the folder lineStrokes/ nor the archive lineStrokes-all.tar.gz"
    ):
        prepare_iam_ondb(tmp_path / "c" / "task1", tmp_path / "iam.h5")


def _pack(root: Path, folder: str, archive: str) -> None:
    with tarfile.open(root / archive, "w:gz") as tar:
        tar.add(root / folder, arcname=folder)


def test_archives_give_the_same_prepared_data_as_folders(tmp_path):
    folders = write_corpus(tmp_path / "folders")
    archives = write_corpus(tmp_path / "archives")
    for folder, archive in [
        ("lineStrokes", "lineStrokes-all.tar.gz"),
        ("ascii", "ascii-all.tar.gz"),
        ("task1", "task1.tar.gz"),
    ]:
        _pack(archives, folder, archive)
        for path in sorted((archives / folder).rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        (archives / folder).rmdir()
    from_folders = prepare_iam_ondb(folders, tmp_path / "a.h5")
    from_archives = prepare_iam_ondb(archives, tmp_path / "b.h5")
    assert from_archives.content_hash == from_folders.content_hash


def test_parallel_workers_give_the_same_data(tmp_path):
    root = write_corpus(tmp_path / "c")
    one = prepare_iam_ondb(root, tmp_path / "a.h5", workers=1)
    two = prepare_iam_ondb(root, tmp_path / "b.h5", workers=2)
    assert one.content_hash == two.content_hash


def test_the_prepared_file_reads_back_with_its_counts(tmp_path):
    root = write_corpus(tmp_path / "c")
    written = prepare_iam_ondb(root, tmp_path / "iam.h5", offsets=True)
    loaded = read_prepared(tmp_path / "iam.h5")
    assert loaded.content_hash == written.content_hash
    assert loaded.metadata["input_names"] == "dx,dy,stroke_time,pen_up"
    assert loaded.metadata["offsets"] is True
    assert json.loads(loaded.metadata["preparation_counts"]) == counts_of(written)


def test_the_stand_ins_marker_makes_the_source_synthetic(tmp_path):
    root = write_corpus(tmp_path / "c")
    (root / STAND_IN_MARKER).write_text(json.dumps({"source": STAND_IN}))
    prepared = prepare_iam_ondb(root, tmp_path / "iam.h5")
    assert prepared.metadata["source"] == STAND_IN
    assert "paper_split_lines" not in prepared.metadata


def test_the_real_corpus_warns_when_split_sizes_differ_from_the_papers(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        prepare_iam_ondb(write_corpus(tmp_path / "c"), tmp_path / "iam.h5")
    assert "differ from the paper's {'train': 5355, 'valid': 2956, 'test': 3859}" in caplog.text
