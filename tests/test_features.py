"""The TIMIT features against a plain NumPy computation written out from the recipe, and labels.

The reference below uses none of librosa and no FFT: pre-emphasis, a symmetric Hamming window,
the DFT as a sum, HTK's mel triangles, the DCT-II as a sum and the derivative filters as their
5-point weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from lstm_odyssey.data.features import (
    TIMIT_FEATURES,
    feature_names,
    frame_centres,
    frame_labels,
    mfcc_features,
    n_frames,
)


def _hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)


def reference_static(signal: np.ndarray, t: int) -> np.ndarray:
    """log energy and c1..c12 of frame t, from the recipe's formulas."""
    s = TIMIT_FEATURES
    x = signal.astype(np.float64)
    emphasised = np.concatenate([[x[0]], x[1:] - s.preemphasis * x[:-1]])
    frame = emphasised[t * s.hop : t * s.hop + s.window]
    n = np.arange(s.window)
    window = 0.54 - 0.46 * np.cos(2 * np.pi * n / (s.window - 1))
    bins = np.arange(s.n_fft // 2 + 1)
    dft = np.exp(-2j * np.pi * np.outer(bins, n) / s.n_fft) @ (frame * window)
    power = np.abs(dft) ** 2
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(s.sample_rate / 2), s.n_mels + 2))
    frequencies = bins * s.sample_rate / s.n_fft
    energies = np.zeros(s.n_mels)
    for m in range(s.n_mels):
        low, centre, high = edges[m], edges[m + 1], edges[m + 2]
        for k, f in enumerate(frequencies):
            if low < f < high:
                weight = (f - low) / (centre - low) if f <= centre else (high - f) / (high - centre)
                energies[m] += weight * power[k]
    log_mel = np.log(energies + 1e-10)
    cepstra = [
        np.sqrt(2.0 / s.n_mels)
        * sum(log_mel[m] * np.cos(np.pi * k * (m + 0.5) / s.n_mels) for m in range(s.n_mels))
        for k in range(1, s.n_cepstra + 1)
    ]
    return np.array([np.log(np.sum(frame**2) + 1e-10), *cepstra])


@pytest.fixture(scope="module")
def speech_like():
    rng = np.random.default_rng(3)
    t = np.arange(16000 // 4) / 16000.0  # 250 ms
    tone = 3000 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.round(tone + rng.normal(0, 200, t.size)).astype(np.int16)


def test_frames_are_25_ms_every_10_ms_without_padding():
    assert (TIMIT_FEATURES.window, TIMIT_FEATURES.hop) == (400, 160)
    assert n_frames(399) == 0 and n_frames(400) == 1 and n_frames(559) == 1 and n_frames(560) == 2
    assert list(frame_centres(3)) == [200, 360, 520]
    assert len(feature_names()) == 39 == TIMIT_FEATURES.n_features


def test_static_features_match_the_numpy_reference(speech_like):
    features = mfcc_features(speech_like)
    assert features.shape == (n_frames(speech_like.size), 39) and features.dtype == np.float32
    for t in (0, 7, len(features) - 1):
        np.testing.assert_allclose(
            features[t, :13], reference_static(speech_like, t), rtol=2e-4, atol=2e-3
        )


def test_derivatives_are_the_five_frame_regressions(speech_like):
    features = mfcc_features(speech_like).astype(np.float64)
    static = np.array([reference_static(speech_like, t) for t in range(3, 12)])  # frames 3..11
    slope = np.array([-2, -1, 0, 1, 2]) / 10.0
    curvature = np.array([2, -1, -2, -1, 2]) / 7.0
    for t in (5, 8, 9):  # frames t-2..t+2 are static[t-5 : t]
        around = static[t - 5 : t]
        np.testing.assert_allclose(features[t, 13:26], slope @ around, rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(features[t, 26:39], curvature @ around, rtol=2e-3, atol=2e-3)


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
