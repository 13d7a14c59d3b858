"""The TIMIT features against HTK's recipe, computed independently twice, and the frame labels.

kaldi-native-fbank (a dev dependency) configured as HTK is the reference for the statics and the
frame count: Hamming window, no dither, no DC removal, raw energy, per-frame pre-emphasis, 26
triangles in mel from 0 Hz, magnitude spectrum (its filter bank; the DCT and lifter are written out
here, since Kaldi's MFCC bins the power spectrum) and, with `use_power`, Kaldi's own MFCC. The
deltas are HTK's regression formula as a plain loop over those statics. A second reference uses
none of librosa, Kaldi or an FFT: the recipe's formulas for a few frames, DFT and DCT as sums.
The signal is speech-like: a glottal pulse train through three formant resonators per vowel,
with noise between and under the vowels.
"""

from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest
from scipy.signal import lfilter

from lstm_odyssey.data.timit.features import (
    TIMIT_FEATURES,
    MfccSettings,
    feature_names,
    frame_centres,
    frame_labels,
    mfcc_features,
    n_frames,
)

SAMPLE_RATE = 16000
VOWEL_FORMANTS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480)]
"""F1-F3 (Hz) of /a/, /i/, /u/, /e/ (Peterson and Barney's averages for men)."""


def synthetic_vowels(seed: int = 0) -> np.ndarray:
    """About 1.5 s of int16 audio: four vowels of 0.3 s on a moving pitch, 60 ms of noise apart."""
    rng = np.random.default_rng(seed)
    pieces = []
    for formants in VOWEL_FORMANTS:
        n = int(0.3 * SAMPLE_RATE)
        pitch = 100 + 60 * np.sin(np.linspace(0, np.pi, n)) + rng.uniform(0, 20)
        periods = np.floor(np.cumsum(pitch / SAMPLE_RATE))
        sound = np.diff(periods, prepend=0.0)  # a pulse at the start of every period
        for frequency, bandwidth in zip(formants, (60, 90, 120), strict=True):
            radius = np.exp(-np.pi * bandwidth / SAMPLE_RATE)
            angle = 2 * np.pi * frequency / SAMPLE_RATE
            sound = lfilter([1 - radius], [1, -2 * radius * np.cos(angle), radius**2], sound)
        onset = np.minimum(1.0, np.arange(n) / 800) * np.minimum(1.0, np.arange(n)[::-1] / 800)
        pieces += [np.zeros(int(0.06 * SAMPLE_RATE)), 6000 * onset * sound / np.abs(sound).max()]
    signal = np.concatenate(pieces + [np.zeros(137)])
    return np.round(signal + rng.normal(0, 40, signal.size)).astype(np.int16)


@pytest.fixture(scope="module")
def vowels() -> np.ndarray:
    return synthetic_vowels()


# --- kaldi-native-fbank configured as HTK -----------------------------------------------------


def _htk_frame_options(options) -> None:
    frame = options.frame_opts
    frame.samp_freq = SAMPLE_RATE
    frame.frame_length_ms = 25.0
    frame.frame_shift_ms = 10.0
    frame.dither = 0.0  # HTK's ADDDITHER 0
    frame.preemph_coeff = 0.97
    frame.remove_dc_offset = False  # HTK's ZMEANSOURCE F
    frame.window_type = "hamming"  # Kaldi's default is "povey"
    frame.round_to_power_of_two = True  # 512-point FFT
    frame.snip_edges = True  # frames that fit, no padding
    mel = options.mel_opts
    mel.num_bins = 26
    mel.low_freq = 0.0  # Kaldi's default is 20 Hz
    mel.high_freq = 0.0  # Nyquist
    mel.htk_mode = True
    options.use_energy = True
    options.raw_energy = True  # HTK's RAWENERGY T
    options.energy_floor = 0.0


def _run(computer, samples: np.ndarray) -> np.ndarray:
    computer.accept_waveform(SAMPLE_RATE, samples.astype(np.float32).tolist())
    computer.input_finished()
    return np.array([computer.get_frame(t) for t in range(computer.num_frames_ready)])


def kaldi_htk_statics(samples: np.ndarray) -> np.ndarray:
    """(frames, 13): log energy, c1..c12 from Kaldi's magnitude filter bank, DCT and lifter here."""
    options = knf.FbankOptions()
    _htk_frame_options(options)
    options.use_power = False  # HTK's USEPOWER F
    options.use_log_fbank = True
    options.htk_compat = False  # energy first
    bank = _run(knf.OnlineFbank(options), samples).astype(np.float64)
    energy, log_mel = bank[:, 0], bank[:, 1:]
    n = log_mel.shape[1]
    dct = np.array(
        [
            [np.sqrt(2 / n) * np.cos(np.pi * i * (j - 0.5) / n) for j in range(1, n + 1)]
            for i in range(1, 13)
        ]
    )
    lifter = 1 + 22 / 2 * np.sin(np.pi * np.arange(1, 13) / 22)
    return np.column_stack([energy, log_mel @ dct.T * lifter])


def kaldi_htk_power_mfcc(samples: np.ndarray) -> np.ndarray:
    """(frames, 13): Kaldi's own MFCC (power spectrum) as HTK's, reordered to energy first."""
    options = knf.MfccOptions()
    _htk_frame_options(options)
    options.num_ceps = 13
    options.cepstral_lifter = 22.0
    options.htk_compat = True  # c1..c12, then the energy
    mfcc = _run(knf.OnlineMfcc(options), samples).astype(np.float64)
    return np.column_stack([mfcc[:, 12], mfcc[:, :12]])


def htk_regression(values: np.ndarray, window: int = 2) -> np.ndarray:
    """HTK's d_t = sum_k k (c_(t+k) - c_(t-k)) / (2 sum_k k^2), edge frames repeated."""
    last = len(values) - 1
    out = np.zeros_like(values)
    for t in range(len(values)):
        for k in range(1, window + 1):
            out[t] += k * (values[min(t + k, last)] - values[max(t - k, 0)])
    return out / (2 * sum(k * k for k in range(1, window + 1)))


def assert_coefficients_match(ours: np.ndarray, reference: np.ndarray, names: list[str]) -> None:
    """Each column correlates >= 0.9999 and equals the reference to float32 precision."""
    assert ours.shape == reference.shape
    for column, name in enumerate(names):
        correlation = np.corrcoef(ours[:, column], reference[:, column])[0, 1]
        assert correlation >= 0.9999, f"{name}: correlation {correlation:.6f}"
        scale = np.abs(reference[:, column]).max()
        np.testing.assert_allclose(
            ours[:, column], reference[:, column], rtol=0, atol=1e-4 * scale + 1e-4, err_msg=name
        )


# --- the HTK book's formulas written out --------------------------------------------------------


def _mel(hz):
    return 1127.0 * np.log(1.0 + np.asarray(hz) / 700.0)


def reference_static(signal: np.ndarray, t: int) -> np.ndarray:
    """log energy and c1..c12 of frame t, from the recipe's formulas (HTK's HSigP, in NumPy)."""
    s = TIMIT_FEATURES
    raw = signal[t * s.hop : t * s.hop + s.window].astype(np.float64)
    energy = np.log(np.sum(raw**2))
    frame = np.concatenate([[(1 - s.preemphasis) * raw[0]], raw[1:] - s.preemphasis * raw[:-1]])
    n = np.arange(s.window)
    window = 0.54 - 0.46 * np.cos(2 * np.pi * n / (s.window - 1))
    bins = np.arange(s.n_fft // 2 + 1)
    magnitude = np.abs(np.exp(-2j * np.pi * np.outer(bins, n) / s.n_fft) @ (frame * window))
    centres = np.linspace(0.0, _mel(s.sample_rate / 2), s.n_mels + 2)
    channels = np.zeros(s.n_mels)
    for m in range(s.n_mels):
        low, centre, high = centres[m], centres[m + 1], centres[m + 2]
        for k, mel in enumerate(_mel(bins * s.sample_rate / s.n_fft)):
            if low < mel < high:
                weight = (
                    (mel - low) / (centre - low)
                    if mel <= centre
                    else (high - mel) / (high - centre)
                )
                channels[m] += weight * magnitude[k]
    log_mel = np.log(np.maximum(channels, 1.0))
    cepstra = [
        np.sqrt(2.0 / s.n_mels)
        * sum(log_mel[j - 1] * np.cos(np.pi * i * (j - 0.5) / s.n_mels) for j in range(1, 27))
        * (1 + s.cepstral_lifter / 2 * np.sin(np.pi * i / s.cepstral_lifter))
        for i in range(1, s.n_cepstra + 1)
    ]
    return np.array([energy, *cepstra])


# --- tests --------------------------------------------------------------------------------------


def test_frames_are_25_ms_every_10_ms_without_padding():
    assert (TIMIT_FEATURES.window, TIMIT_FEATURES.hop) == (400, 160)
    assert n_frames(399) == 0 and n_frames(400) == 1 and n_frames(559) == 1 and n_frames(560) == 2
    assert list(frame_centres(3)) == [200, 360, 520]
    assert len(feature_names()) == 39 == TIMIT_FEATURES.n_features


@pytest.mark.parametrize("length", [400, 559, 560, 4321, 16000])
def test_frame_count_is_htks(vowels, length):
    samples = vowels[:length]
    assert len(mfcc_features(samples)) == n_frames(length) == len(kaldi_htk_statics(samples))


def test_statics_match_kaldi_configured_as_htk(vowels):
    features = mfcc_features(vowels)
    assert features.shape == (n_frames(vowels.size), 39) and features.dtype == np.float32
    statics = features[:, :13].astype(np.float64)
    assert_coefficients_match(statics, kaldi_htk_statics(vowels), feature_names()[:13])


def test_power_spectrum_variant_matches_kaldis_own_mfcc(vowels):
    """USEPOWER T against Kaldi's DCT, lifter and energy, not ours."""
    features = mfcc_features(vowels, MfccSettings(use_power=True)).astype(np.float64)
    assert_coefficients_match(features[:, :13], kaldi_htk_power_mfcc(vowels), feature_names()[:13])


def test_derivatives_are_htk_regressions_of_the_statics(vowels):
    features = mfcc_features(vowels).astype(np.float64)
    delta = htk_regression(kaldi_htk_statics(vowels))
    assert_coefficients_match(features[:, 13:26], delta, feature_names()[13:26])
    assert_coefficients_match(features[:, 26:39], htk_regression(delta), feature_names()[26:39])


def test_statics_match_the_htk_formulas(vowels):
    features = mfcc_features(vowels)
    for t in (0, 30, len(features) - 1):
        np.testing.assert_allclose(
            features[t, :13], reference_static(vowels, t), rtol=1e-5, atol=1e-4
        )


def test_a_one_frame_utterance_has_no_change():
    features = mfcc_features(synthetic_vowels()[2000:2400])
    assert features.shape == (1, 39) and not features[0, 13:].any()


def test_digital_silence_has_finite_features():
    features = mfcc_features(np.zeros(1600, dtype=np.int16))
    assert np.isfinite(features).all()


def test_a_frame_takes_the_phone_at_its_centre():
    # centres 200, 360, 520, 680, 840, 1000, 1160, 1320 (8 frames of a 1600-sample utterance)
    segments = [(0, 500, 4), (500, 1000, 7), (1000, 1600, 2)]
    labels, uncovered = frame_labels(segments, n_frames(1600))
    assert list(labels) == [4, 4, 7, 7, 7, 2, 2, 2] and uncovered == 0


def test_uncovered_frames_take_the_nearest_segment_and_are_counted():
    # a gap 500..900 (centres 520, 680, 840) and nothing after 1200 (centre 1320)
    segments = [(0, 500, 4), (900, 1200, 7)]
    labels, uncovered = frame_labels(segments, n_frames(1600))
    # 520 is 20 from the first segment; 680 is 180 from it, 220 from the second; 840 is 60 from it
    assert list(labels) == [4, 4, 4, 4, 7, 7, 7, 7] and uncovered == 4
