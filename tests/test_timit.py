"""TIMIT's reader: layout discovery in any case, the standard split, PHN errors, preparation.

The fixture corpora are written here file by file in the LDC layout with real speaker IDs of the
split lists, so the split is checked against the published lists, not against our generator.
"""

from __future__ import annotations

import logging
import wave

import numpy as np
import pytest

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.store import read_prepared
from lstm_odyssey.data.timit.corpus import (
    PAPER_SPLIT_UTTERANCES,
    PHONE_INDEX,
    TIMIT_PHONES,
    discover_utterances,
    prepare_timit,
    read_phone_segments,
    speaker_lists,
    standard_split,
)
from lstm_odyssey.data.timit.features import n_frames
from lstm_odyssey.data.timit.sphere import write_sphere

N_SAMPLES = 8000
PHONES = [(0, 2000, "h#"), (2000, 5000, "s"), (5000, N_SAMPLES, "h#")]


def write_utterance(folder, name, *, audio="sphere", case=str.upper, seed=0, phones=PHONES):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    samples = np.round(rng.normal(0, 1000, N_SAMPLES)).astype(np.int16)
    samples[2000:5000] *= 4  # the "s" is loud
    stem = case(name)
    wav = folder / f"{stem}.{case('wav')}"
    if audio in ("sphere", "both"):
        write_sphere(wav, samples, 16000)
    if audio in ("riff", "both"):
        riff = wav if audio == "riff" else folder / f"{stem}.{case('wav')}.wav"
        with wave.open(str(riff), "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(16000)
            writer.writeframes(samples.tobytes())
    (folder / f"{stem}.{case('phn')}").write_text("".join(f"{a} {b} {p}\n" for a, b, p in phones))
    (folder / f"{stem}.{case('wrd')}").write_text("2000 5000 yes\n")
    (folder / f"{stem}.{case('txt')}").write_text(f"0 {N_SAMPLES} Yes.\n")
    return samples


def speaker_folder(root, split, region, speaker, case=str.upper):
    return root / case(split) / case(region) / case(speaker)


SENTENCES = ("sa1", "sa2", "sx10", "sx20", "si500")


@pytest.fixture
def corpus(tmp_path):
    """Two training speakers, one core-test, one development and one unused test speaker."""
    root = tmp_path / "timit"
    lists = speaker_lists()
    assert "mdab0" in lists["test"] and "faks0" in lists["valid"]
    layout = [
        ("train", "dr1", "fcjf0", "sphere", str.upper),
        ("train", "dr2", "mabc0", "riff", str.lower),  # a converted, lower-case copy
        ("test", "dr1", "mdab0", "both", str.upper),  # SPHERE with a RIFF copy beside it
        ("test", "dr3", "faks0", "sphere", str.lower),
        ("test", "dr4", "mzzz0", "sphere", str.upper),  # in neither list: unused
    ]
    for number, (split, region, speaker, audio, case) in enumerate(layout):
        folder = speaker_folder(root, split, region, speaker, case)
        for index, sentence in enumerate(SENTENCES):
            write_utterance(folder, sentence, audio=audio, case=case, seed=10 * number + index)
    return root


def test_discovery_finds_every_utterance_in_any_case_and_format(corpus):
    utterances = discover_utterances(corpus)
    assert len(utterances) == 5 * len(SENTENCES)
    by_key = {u.key: u for u in utterances}
    assert by_key["mabc0_sx10"].folder == "train" and by_key["mabc0_sx10"].dialect_region == "dr2"
    assert set(by_key["mdab0_si500"].files) == {"wav", "wav.wav", "phn", "wrd", "txt"}
    assert by_key["mdab0_si500"].audio_path().name == "SI500.WAV"  # the original first


def test_a_shorten_original_is_read_from_its_converted_copy(corpus):
    original = speaker_folder(corpus, "test", "dr1", "mdab0") / "SX10.WAV"
    header = original.read_bytes()[:1024].replace(
        b"end_head", b"sample_coding -s26 pcm,embedded-shorten-v2.00\nend_head"
    )
    original.write_bytes(header[:1024] + b"\x00" * 100)
    files = {u.key: u for u in discover_utterances(corpus)}["mdab0_sx10"]
    assert files.audio_path().name == "SX10.WAV.wav"


def test_the_standard_split_uses_the_published_speaker_lists(corpus):
    split, report = standard_split(discover_utterances(corpus))
    assert {name: sorted({u.speaker for u in split[name]}) for name in split} == {
        "train": ["fcjf0", "mabc0"],
        "valid": ["faks0"],
        "test": ["mdab0"],
    }
    assert all(u.sentence_type != "sa" for name in split for u in split[name])
    assert report.utterances == {"train": 6, "valid": 3, "test": 3}
    assert report.counts["sa_dropped"] == 10 and report.counts["unused_test_utterances"] == 3
    assert (
        len(report.missing_speakers["test"]) == 23 and len(report.missing_speakers["valid"]) == 49
    )


def test_the_published_lists_have_the_papers_sizes():
    lists = speaker_lists()
    assert len(lists["test"]) == 24 and len(lists["valid"]) == 50
    assert not lists["test"] & lists["valid"]
    # 24 core speakers x 8 SI/SX sentences, 50 development speakers x 8
    assert (8 * len(lists["test"]), 8 * len(lists["valid"])) == (
        PAPER_SPLIT_UTTERANCES["test"],
        PAPER_SPLIT_UTTERANCES["valid"],
    )


def test_a_listed_test_speaker_under_train_is_an_error(corpus):
    write_utterance(speaker_folder(corpus, "train", "dr1", "felc0"), "sx1")
    with pytest.raises(CorpusError, match="felc0 of the test list is under TRAIN"):
        standard_split(discover_utterances(corpus))


def test_two_copies_under_one_path_are_an_error(corpus, tmp_path):
    write_utterance(speaker_folder(tmp_path / "timit" / "copy", "train", "dr1", "fcjf0"), "sx10")
    with pytest.raises(CorpusError, match="two copies of the corpus"):
        discover_utterances(corpus)


def test_a_folder_without_timit_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no TIMIT utterances found") as caught:
        discover_utterances(tmp_path / "empty")
    assert caught.value.source == str(tmp_path / "empty")


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        ("0 2000 h#\n2000 x5000 s\n", "expected `start stop", 2),
        ("0 2000 h#\n2000 5000 zz\n", "'zz' is not one of the 61 TIMIT phones", 2),
        ("0 2000 h#\n2000 9000 s\n", "segment ends at sample 9000, beyond the audio's 8000", 2),
        ("0 2000 h#\n2000 1000 s\n", "is not a time span", 2),
        ("0 2000 h#\n2000 5000\n", "expected `start stop label`", 2),
        ("2000 5000 s\n0 2000 h#\n", "not in time order", 2),
    ],
)
def test_phn_problems_name_the_file_and_line(tmp_path, text, problem, line):
    path = tmp_path / "SX1.PHN"
    path.write_text(text)
    with pytest.raises(CorpusError, match=problem) as caught:
        read_phone_segments(path, N_SAMPLES)
    assert caught.value.source == f"{path}:{line}"


def test_phone_segments_are_class_indices():
    assert len(TIMIT_PHONES) == 61 == len(set(TIMIT_PHONES))
    assert {"h#", "pau", "epi", "bcl", "ax-h", "eng", "q"} <= set(TIMIT_PHONES)


def test_prepare_standardises_with_the_training_frames_and_labels_each_frame(
    corpus, tmp_path, caplog
):
    with caplog.at_level(logging.WARNING, logger="lstm_odyssey.data.timit.corpus"):
        prepare_timit(corpus, tmp_path / "timit.h5", workers=2)
    assert "a partial TIMIT" in caplog.text
    prepared = read_prepared(tmp_path / "timit.h5")
    assert prepared.task_kind == "framewise" and prepared.metadata["source"] == "timit"
    assert (prepared.input_size, prepared.n_classes) == (39, 61)
    assert prepared.split_sizes() == {"train": 6, "valid": 3, "test": 3}
    train = prepared.splits["train"]
    np.testing.assert_allclose(train.inputs.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(train.inputs.std(axis=0), 1.0, atol=1e-3)
    frames = n_frames(N_SAMPLES)
    assert train.n_frames == 6 * frames
    # centres 200 + 160 t: "s" (2000..5000) covers t = 12..29, "h#" the rest
    expected = np.full(frames, PHONE_INDEX["h#"])
    expected[12:30] = PHONE_INDEX["s"]
    for index in range(train.n_sequences):
        np.testing.assert_array_equal(train.sequence(index)[1], expected)
    # the loud "s" frames have the higher log energy (feature 0) in every split
    valid_inputs, valid_targets = prepared.splits["valid"].sequence(0)
    assert (
        valid_inputs[valid_targets == PHONE_INDEX["s"], 0].min()
        > valid_inputs[valid_targets == PHONE_INDEX["h#"], 0].max()
    )


def test_a_bad_file_stops_preparation_naming_it(corpus, tmp_path):
    bad = speaker_folder(corpus, "test", "dr3", "faks0", str.lower) / "sx20.phn"
    bad.write_text("0 2000 h#\n2000 5000 s\n5000 8000 hash\n")
    with pytest.raises(CorpusError, match="'hash' is not one of the 61") as caught:
        prepare_timit(corpus, tmp_path / "timit.h5", workers=2)
    assert caught.value.source == f"{bad}:3"
    assert not (tmp_path / "timit.h5").exists()
