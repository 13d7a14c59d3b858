"""Speech features for the TIMIT task: 39 MFCC-based inputs per 10 ms frame, and frame labels.

The paper's recipe (Greff et al., section IV-A, after Graves & Schmidhuber 2005): 12 mel
frequency cepstral coefficients from 26 filter-bank channels plus the log energy, computed on
25 ms Hamming windows every 10 ms after pre-emphasis with 0.97, with first and second temporal
derivatives: 13 x 3 = 39 inputs. Where the paper is silent we take HTK's choices, which the
feature sets of that lineage were computed with: a symmetric Hamming window, a 512-point FFT of
the power spectrum, triangular filters equally spaced on HTK's mel scale from 0 Hz to Nyquist
(unnormalised), the natural log of the filter energies, an orthonormal DCT-II keeping
coefficients 1..12 (c0 is replaced by the log energy, the log of the pre-emphasised frame's sum
of squares). The derivatives are librosa's Savitzky-Golay estimates over 5 frames (HTK's
regression window of +-2; at the utterance's edges librosa interpolates where HTK repeats
frames). librosa frames the signal and builds the filter bank, the DCT and the derivatives
(NumPy's FFT the spectra); `tests/test_features.py` recomputes a few frames with plain NumPy.

Frames are not centred (no padding): frame t covers samples [t * hop, t * hop + window), so an
utterance of n >= window samples has 1 + (n - window) // hop frames, and frame t's centre is
sample t * hop + window / 2. Its label is the phone whose PHN segment covers that centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

LOG_FLOOR = 1e-10
"""Added before every log: digital silence has zero energy."""


@dataclass(frozen=True)
class MfccSettings:
    """The feature recipe; stored with the prepared data so a file says how it was made."""

    sample_rate: int = 16000
    window_seconds: float = 0.025
    hop_seconds: float = 0.010
    preemphasis: float = 0.97
    n_fft: int = 512
    n_mels: int = 26
    n_cepstra: int = 12
    delta_width: int = 5

    @property
    def window(self) -> int:
        return round(self.window_seconds * self.sample_rate)

    @property
    def hop(self) -> int:
        return round(self.hop_seconds * self.sample_rate)

    @property
    def n_features(self) -> int:
        return 3 * (self.n_cepstra + 1)

    def describe(self) -> dict[str, float | int | str]:
        return {
            **asdict(self),
            "window_function": "hamming (symmetric)",
            "mel_scale": "htk, 0 Hz to Nyquist, unnormalised triangles",
            "energy": "log sum of squares of the pre-emphasised frame",
            "deltas": "librosa.feature.delta (Savitzky-Golay), orders 1 and 2",
        }


TIMIT_FEATURES = MfccSettings()


def feature_names(settings: MfccSettings = TIMIT_FEATURES) -> list[str]:
    """The 39 input names in storage order: log energy, c1..c12, then their deltas."""
    static = ["log_energy"] + [f"c{i}" for i in range(1, settings.n_cepstra + 1)]
    return static + [f"d_{name}" for name in static] + [f"dd_{name}" for name in static]


def n_frames(n_samples: int, settings: MfccSettings = TIMIT_FEATURES) -> int:
    if n_samples < settings.window:
        return 0
    return 1 + (n_samples - settings.window) // settings.hop


def frame_centres(count: int, settings: MfccSettings = TIMIT_FEATURES) -> np.ndarray:
    """Sample index of each frame's centre."""
    return np.arange(count, dtype=np.int64) * settings.hop + settings.window // 2


def mfcc_features(samples: np.ndarray, settings: MfccSettings = TIMIT_FEATURES) -> np.ndarray:
    """(frames, 39) float32 features of one utterance's samples (int16 or float)."""
    import librosa

    signal = np.asarray(samples, dtype=np.float64)
    count = n_frames(signal.size, settings)
    if count < 1:
        raise ValueError(
            f"{signal.size} samples are shorter than one {settings.window}-sample window"
        )
    emphasised = librosa.effects.preemphasis(signal, coef=settings.preemphasis, zi=0.0)
    frames = librosa.util.frame(emphasised, frame_length=settings.window, hop_length=settings.hop)
    frames = frames[:, :count]
    windowed = frames * np.hamming(settings.window)[:, None]
    power = np.abs(np.fft.rfft(windowed, n=settings.n_fft, axis=0)) ** 2
    filters = librosa.filters.mel(
        sr=settings.sample_rate,
        n_fft=settings.n_fft,
        n_mels=settings.n_mels,
        fmin=0.0,
        fmax=settings.sample_rate / 2,
        htk=True,
        norm=None,
    )
    log_mel = np.log(filters @ power + LOG_FLOOR)
    cepstra = librosa.feature.mfcc(
        S=log_mel, n_mfcc=settings.n_cepstra + 1, dct_type=2, norm="ortho"
    )[1:]
    log_energy = np.log(np.sum(frames**2, axis=0) + LOG_FLOOR)
    static = np.vstack([log_energy[None, :], cepstra])
    if count >= settings.delta_width:
        delta = librosa.feature.delta(static, width=settings.delta_width, order=1)
        delta2 = librosa.feature.delta(static, width=settings.delta_width, order=2)
    else:  # too short to differentiate: no change
        delta = np.zeros_like(static)
        delta2 = np.zeros_like(static)
    return np.vstack([static, delta, delta2]).T.astype(np.float32)


def frame_labels(
    segments: Sequence[tuple[int, int, int]],
    count: int,
    settings: MfccSettings = TIMIT_FEATURES,
) -> tuple[np.ndarray, int]:
    """The class of the segment (start, stop, class) covering each frame's centre.

    Returns the labels and how many frames no segment covered (a gap between segments, or a
    centre past the last one): those take the nearest segment's class, and the caller counts
    them, since a well-labelled utterance has none.
    """
    if not segments:
        raise ValueError("an utterance needs at least one labelled segment")
    starts = np.array([s[0] for s in segments], dtype=np.int64)
    stops = np.array([s[1] for s in segments], dtype=np.int64)
    classes = np.array([s[2] for s in segments], dtype=np.int64)
    centres = frame_centres(count, settings)
    index = np.searchsorted(starts, centres, side="right") - 1
    inside = (index >= 0) & (centres < stops[np.clip(index, 0, None)])
    labels = np.empty(count, dtype=np.int64)
    labels[inside] = classes[index[inside]]
    uncovered = np.flatnonzero(~inside)
    if uncovered.size:
        distance = np.minimum(
            np.abs(centres[uncovered, None] - starts[None, :]),
            np.abs(centres[uncovered, None] - stops[None, :]),
        )
        labels[uncovered] = classes[np.argmin(distance, axis=1)]
    return labels, int(uncovered.size)
