"""TIMIT's audio files: NIST SPHERE and RIFF, and every way one can lie about its content.

The SPHERE files here are written byte by byte in the tests (not with `write_sphere`), so the
reader is checked against the format as documented, not against our own writer.
"""

from __future__ import annotations

import wave

import numpy as np
import pytest

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.timit.sphere import read_audio, read_riff, read_sphere, write_sphere

SAMPLES = np.array([0, 1, -1, 300, -300, 32767, -32768, 12345], dtype=np.int16)


def sphere_bytes(
    samples: np.ndarray,
    *,
    order: str = "01",
    dtype: str = "<i2",
    count: int | None = None,
    extra: str = "",
    min_max: bool = True,
    magic: str = "NIST_1A",
) -> bytes:
    fields = [
        "database_id -s5 TIMIT",
        "channel_count -i 1",
        f"sample_count -i {len(samples) if count is None else count}",
        "sample_rate -i 16000",
        "sample_n_bytes -i 2",
        f"sample_byte_format -s2 {order}",
        "sample_sig_bits -i 16",
    ]
    if min_max:
        fields += [f"sample_min -i {samples.min()}", f"sample_max -i {samples.max()}"]
    header = f"{magic}\n   1024\n" + "".join(f"{f}\n" for f in fields) + extra + "end_head\n"
    return header.encode().ljust(1024, b" ") + samples.astype(dtype).tobytes()


def test_little_and_big_endian_sphere_give_the_same_samples(tmp_path):
    little, big = tmp_path / "little.wav", tmp_path / "big.wav"
    little.write_bytes(sphere_bytes(SAMPLES, order="01", dtype="<i2"))
    big.write_bytes(sphere_bytes(SAMPLES, order="10", dtype=">i2"))
    for path in (little, big):
        audio = read_audio(path)
        assert audio.format == "sphere" and audio.sample_rate == 16000
        np.testing.assert_array_equal(audio.samples, SAMPLES)


def test_our_writer_is_read_back_in_both_byte_orders(tmp_path):
    for order in ("01", "10"):
        path = tmp_path / f"{order}.WAV"
        write_sphere(path, SAMPLES, 16000, utterance_id="aks0_sa1", byte_format=order)
        assert path.read_bytes()[:8] == b"NIST_1A\n" and path.stat().st_size == 1024 + 16
        np.testing.assert_array_equal(read_sphere(path).samples, SAMPLES)


def test_a_mislabelled_byte_order_is_caught_by_the_header_extremes(tmp_path):
    path = tmp_path / "SA1.WAV"
    path.write_bytes(sphere_bytes(SAMPLES, order="01", dtype=">i2"))  # says little, is big
    with pytest.raises(CorpusError, match="byte order mislabelled") as caught:
        read_audio(path)
    assert caught.value.source == str(path)


def test_samples_that_match_neither_order_are_an_error(tmp_path):
    path = tmp_path / "SA1.WAV"
    noisy = sphere_bytes(SAMPLES).replace(b"sample_max -i 32767", b"sample_max -i    99")
    path.write_bytes(noisy)
    with pytest.raises(CorpusError, match="sample_max 99"):
        read_audio(path)


def test_a_truncated_sphere_file_says_how_many_samples_it_holds(tmp_path):
    path = tmp_path / "SX1.WAV"
    path.write_bytes(sphere_bytes(SAMPLES, count=100))
    with pytest.raises(
        CorpusError, match="truncated: the header says 100 samples, the file holds 8"
    ):
        read_audio(path)


def test_shorten_compressed_sphere_says_to_decompress(tmp_path):
    path = tmp_path / "SI1.WAV"
    path.write_bytes(sphere_bytes(SAMPLES, extra="sample_coding -s26 pcm,embedded-shorten-v2.00\n"))
    with pytest.raises(CorpusError, match="shorten-compressed.*sph2pipe"):
        read_audio(path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"NIST_1B\n   1024\n", "neither NIST SPHERE nor RIFF"),
        (b"\x00" * 2048, "neither NIST SPHERE nor RIFF"),
    ],
)
def test_a_file_of_neither_format_is_named(tmp_path, content, problem):
    path = tmp_path / "SA2.WAV"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=problem):
        read_audio(path)


def test_header_problems_name_the_field(tmp_path):
    path = tmp_path / "a.wav"
    path.write_bytes(sphere_bytes(SAMPLES).replace(b"sample_n_bytes -i 2", b"sample_n_bytes -i 1"))
    with pytest.raises(CorpusError, match="sample_n_bytes is 1"):
        read_sphere(path)
    path.write_bytes(sphere_bytes(SAMPLES, order="xx"))
    with pytest.raises(CorpusError, match="sample_byte_format 'xx'"):
        read_sphere(path)
    path.write_bytes(sphere_bytes(SAMPLES).replace(b"end_head", b";nd_head"))
    with pytest.raises(CorpusError, match="no end_head"):
        read_sphere(path)
    path.write_bytes(
        sphere_bytes(SAMPLES).replace(b"sample_rate -i 16000", b"sample_rate -i 16k00")
    )
    with pytest.raises(CorpusError, match="sample_rate has bad value"):
        read_sphere(path)


def _riff(path, samples, *, channels=1, width=2, rate=16000):
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())


def test_riff_copies_are_read_whatever_their_name(tmp_path):
    path = tmp_path / "SA1.WAV"  # a converted copy keeps TIMIT's name
    _riff(path, SAMPLES)
    audio = read_audio(path)
    assert audio.format == "riff" and audio.sample_rate == 16000
    np.testing.assert_array_equal(audio.samples, SAMPLES)


def test_riff_problems_are_named(tmp_path):
    stereo = tmp_path / "stereo.wav"
    _riff(stereo, np.repeat(SAMPLES, 2), channels=2)
    with pytest.raises(CorpusError, match="2 channels"):
        read_riff(stereo)
    truncated = tmp_path / "truncated.wav"
    _riff(truncated, SAMPLES)
    truncated.write_bytes(truncated.read_bytes()[:-6])
    with pytest.raises(CorpusError, match="truncated"):
        read_riff(truncated)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(CorpusError, match="not a readable RIFF"):
        read_audio(broken)
