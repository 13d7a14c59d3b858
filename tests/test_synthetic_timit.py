"""The synthetic-timit stand-in: phone mapping, segment rules, a corpus the real reader takes."""

from __future__ import annotations

import ctypes.util
import hashlib
import json

import numpy as np
import pytest

from lstm_odyssey.data.timit import STAND_IN_MARKER
from lstm_odyssey.data.timit.corpus import PHONE_INDEX, prepare_timit, speaker_lists
from lstm_odyssey.data.timit.espeak import Utterance
from lstm_odyssey.data.timit.sphere import read_sphere
from lstm_odyssey.data.timit.stand_in import (
    DIALECT_SENTENCES,
    UnmappedPhoneError,
    espeak_phone_map,
    sentences,
    timit_segments,
)

needs_espeak = pytest.mark.skipif(
    ctypes.util.find_library("espeak-ng") is None,
    reason="libespeak-ng missing: apt-get install espeak-ng",
)


def test_every_mapped_phone_is_a_timit_phone_and_shares_sum_to_one():
    for mnemonic, parts in espeak_phone_map().items():
        assert all(phone in PHONE_INDEX for phone, _ in parts), mnemonic
        if parts:
            assert sum(share for _, share in parts) == pytest.approx(1.0), mnemonic


def test_segments_follow_the_mapping_rules_on_a_hand_made_utterance():
    utterance = Utterance(
        samples=np.zeros(2000, dtype=np.int16),
        sample_rate=22050,
        phones=(
            (0, "_"),  # leading silence -> h#
            (100, "p"),  # 100..600: pcl 60 %, p 40 %
            (600, "n"),
            (600, "i:"),  # the "n" is zero-length: dropped
            (900, ";"),  # continues iy to 1000
            (1000, "_:"),  # a pause inside -> pau
            (1200, "s"),
            (1500, "_:"),  # trailing silence -> h#, up to the end
        ),
        words=(),
    )
    assert timit_segments(utterance) == [
        (0, 100, "h#"),
        (100, 400, "pcl"),
        (400, 600, "p"),
        (600, 1000, "iy"),
        (1000, 1200, "pau"),
        (1200, 1500, "s"),
        (1500, 2000, "h#"),
    ]


def test_an_unmapped_phone_is_named():
    utterance = Utterance(np.zeros(10, dtype=np.int16), 22050, ((0, "Q!"),), ())
    with pytest.raises(UnmappedPhoneError, match="'Q!'"):
        timit_segments(utterance)


@needs_espeak
def test_every_phone_espeak_speaks_for_the_bundled_text_is_mapped():
    from lstm_odyssey.data.timit.espeak import Synthesizer, Voice
    from lstm_odyssey.data.timit.stand_in import LANGUAGE, VOICE_VARIANTS

    synthesizer = Synthesizer()
    spoken = set()
    for number, text in enumerate((*DIALECT_SENTENCES.values(), *sentences())):
        variants = VOICE_VARIANTS["f" if number % 2 else "m"]
        voice = Voice(LANGUAGE, variants[number % len(variants)], 140 + number % 61, 50, 50)
        spoken |= {phone for _, phone in synthesizer.speak(text, voice).phones}
    assert spoken - set(espeak_phone_map()) == set()


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    if ctypes.util.find_library("espeak-ng") is None:
        pytest.skip("libespeak-ng missing: apt-get install espeak-ng")
    from lstm_odyssey.data.timit.stand_in import generate_synthetic_timit

    root = tmp_path_factory.mktemp("corpora") / "synthetic-timit"
    options = dict(train_speakers=3, valid_speakers=2, test_speakers=2, sentences_per_speaker=3)
    generate_synthetic_timit(root, seed=5, **options)
    again = tmp_path_factory.mktemp("again") / "synthetic-timit"
    generate_synthetic_timit(again, seed=5, **options)
    return root, again


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_stand_in_is_laid_out_and_encoded_like_timit(stand_in):
    root, _ = stand_in
    marker = json.loads((root / STAND_IN_MARKER).read_text())
    speakers = {s["speaker_id"]: s for s in marker["speakers"]}
    lists = speaker_lists()
    tests = [s for s in speakers if s in lists["test"]]
    valids = [s for s in speakers if s in lists["valid"]]
    assert len(tests) == 2 and len(valids) == 2 and len(speakers) == 7
    assert {speakers[s]["folder"] for s in tests + valids} == {"TEST"}
    wavs = sorted(root.glob("*/DR*/*/*.WAV"))
    assert len(wavs) == 7 * 5  # SA1, SA2 and 3 sentences per speaker
    for wav in wavs[:6]:
        audio = read_sphere(wav)
        assert audio.sample_rate == 16000 and audio.samples.dtype == np.int16
        rows = [line.split() for line in wav.with_suffix(".PHN").read_text().splitlines()]
        starts, stops = [int(r[0]) for r in rows], [int(r[1]) for r in rows]
        assert starts[0] == 0 and stops[-1] == audio.samples.size
        assert starts[1:] == stops[:-1]  # contiguous, like TIMIT
        assert rows[0][2] == rows[-1][2] == "h#"
        assert all(r[2] in PHONE_INDEX for r in rows)
        assert wav.with_suffix(".TXT").read_text().startswith(f"0 {audio.samples.size} ")
        assert wav.with_suffix(".WRD").read_text().strip()


def test_the_stand_in_follows_from_its_seed(stand_in):
    root, again = stand_in
    for path in sorted(root.rglob("*.*"))[:12]:
        assert _digest(path) == _digest(again / path.relative_to(root)), path


def test_the_real_reader_prepares_the_stand_in(stand_in, tmp_path):
    root, _ = stand_in
    prepared = prepare_timit(root, tmp_path / "timit.h5")
    assert prepared.metadata["source"] == "synthetic-timit"
    assert prepared.split_sizes() == {"train": 9, "valid": 6, "test": 6}
    labels = np.concatenate([s.targets for s in prepared.splits.values()])
    assert len(np.unique(labels)) > 25  # a real phone inventory, not a handful of classes
