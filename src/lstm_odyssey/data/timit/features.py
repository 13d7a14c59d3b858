"""Speech features for the TIMIT task: 39 MFCC-based inputs per 10 ms frame, and frame labels.

The paper's recipe (Greff et al., section IV-A, after Graves & Schmidhuber 2005): 12 mel
frequency cepstral coefficients from 26 filter-bank channels plus the log energy, computed on
25 ms Hamming windows every 10 ms after pre-emphasis with 0.97, with first and second temporal
derivatives: 13 x 3 = 39 inputs. That is HTK's MFCC_E_D_A, the feature tool of the paper's
lineage, and where the paper is silent we do what HTK does (the HTK Book, "Speech Signal
Processing"; its built-in defaults, configured like the Book's own coding example: WINDOWSIZE
250000, TARGETRATE 100000, USEHAMMING T, PREEMCOEF 0.97, NUMCHANS 26, NUMCEPS 12, CEPLIFTER 22,
ENORMALISE F). For each frame s_0..s_399 of int16 samples:

1. energy E = log(sum of s_n^2) of the raw frame (RAWENERGY T: before pre-emphasis and window);
2. pre-emphasis within the frame: s_n - 0.97 s_(n-1), and (1 - 0.97) s_0 for its first sample;
3. the symmetric Hamming window 0.54 - 0.46 cos(2 pi n / 399);
4. the magnitude (USEPOWER F) of the frame's 512-point DFT (zero-padded);
5. 26 triangular filters equally spaced on the mel scale 1127 ln(1 + f / 700) from 0 Hz to
   Nyquist, each a triangle in mel (a bin's weight is linear in the mel of its frequency), peak 1;
6. the natural log of each channel, floored at 1 (MELFLOOR);
7. c_i = sqrt(2/26) sum_j m_j cos(pi i (j - 1/2) / 26), i = 1..12 (the orthonormal DCT-II);
8. liftering: c_i * (1 + 11 sin(pi i / 22)) (CEPLIFTER 22);
9. deltas by HTK's regression d_t = sum_(k=1..2) k (c_(t+k) - c_(t-k)) / (2 (1 + 4)), the
   first and last frames repeated past the utterance's edges (DELTAWINDOW 2); the second
   derivatives are the same regression applied to the deltas (ACCWINDOW 2).

Where we part from HTK, and why: the log energy is not normalised (ENORMALISE F, as in the HTK
Book's example configuration; HTK's default T subtracts each utterance's peak, scales by ESCALE
0.1 and clamps at SILFLOOR 50 dB below the peak): every input is standardised over the training
frames afterwards (`timit`), which makes the scale moot, and the paper names no per-utterance
gain normalisation. No frame mean is removed (ZMEANSOURCE F, HTK's default; TIMIT's DC offset is
under one sample step). The energy's sum of squares is floored at 1, as the channels are: with
integer samples only an all-zero frame is below it, whose log HTK leaves undefined (-inf). We
store the log energy first (HTK appends it after c12) and compute in float64 (HTK in float32).
`tests/test_features.py` checks the features against kaldi-native-fbank configured as HTK and
against these formulas written out in NumPy; `benchmarks/timit_features.py` measures the match on
real TIMIT files. NumPy does the FFTs, SciPy the DCT, librosa the framing and the mel scale.

Frames are not centred (no padding), as in HTK: frame t covers samples
[t * hop, t * hop + window), so an utterance of n >= window samples has
1 + (n - window) // hop frames, and frame t's centre is sample t * hop + window / 2. Its label is
the phone whose PHN segment covers that centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import numpy as np

FLOOR = 1.0
"""HTK's MELFLOOR: the least filter-bank output (and here frame energy) taken to the log."""


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
    cepstral_lifter: int = 22
    delta_window: int = 2
    use_power: bool = False
    """HTK's USEPOWER: bin the power spectrum instead of the magnitude (off in the recipe)."""

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
            "recipe": "HTK MFCC_E_D_A (HTK Book, Speech Signal Processing), ENORMALISE F",
            "window_function": "hamming (symmetric), after per-frame pre-emphasis",
            "spectrum": "power" if self.use_power else "magnitude",
            "mel_scale": "htk, 0 Hz to Nyquist, triangles in mel, peak 1, log floored at 1",
            "cepstra": "orthonormal DCT-II, c1..c12, liftered",
            "energy": "log sum of squares of the raw frame (RAWENERGY), floored at 1",
            "deltas": "HTK regression over +-delta_window frames, edges repeated; orders 1, 2",
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


@cache
def mel_filter_bank(settings: MfccSettings = TIMIT_FEATURES) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) HTK filter weights: triangles equally spaced and linear in mel."""
    import librosa

    bin_frequencies = np.arange(settings.n_fft // 2 + 1) * settings.sample_rate / settings.n_fft
    bin_mels = librosa.hz_to_mel(bin_frequencies, htk=True)
    edges = np.linspace(0.0, bin_mels[-1], settings.n_mels + 2)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_mels - lower) / (centre - lower)
    falling = (upper - bin_mels) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights.setflags(write=False)  # shared by every call (cached)
    return weights


def lifter_weights(settings: MfccSettings = TIMIT_FEATURES) -> np.ndarray:
    """HTK's cepstral liftering 1 + (L / 2) sin(pi i / L) for c1..c_n."""
    i = np.arange(1, settings.n_cepstra + 1)
    half = settings.cepstral_lifter / 2
    return 1.0 + half * np.sin(np.pi * i / settings.cepstral_lifter)


def regression_deltas(values: np.ndarray, window: int) -> np.ndarray:
    """HTK's deltas of (coefficients, frames) `values` over +-`window` frames, edges repeated."""
    count = values.shape[1]
    padded = np.pad(values, ((0, 0), (window, window)), mode="edge")
    deltas = np.zeros_like(values)
    for theta in range(1, window + 1):
        ahead = padded[:, window + theta : window + theta + count]
        behind = padded[:, window - theta : window - theta + count]
        deltas += theta * (ahead - behind)
    return deltas / (2 * sum(theta**2 for theta in range(1, window + 1)))


def mfcc_features(samples: np.ndarray, settings: MfccSettings = TIMIT_FEATURES) -> np.ndarray:
    """(frames, 39) float32 features of one utterance's samples (int16, or floats on its scale)."""
    import librosa
    from scipy.fft import dct

    signal = np.asarray(samples, dtype=np.float64)
    count = n_frames(signal.size, settings)
    if count < 1:
        raise ValueError(
            f"{signal.size} samples are shorter than one {settings.window}-sample window"
        )
    frames = librosa.util.frame(signal, frame_length=settings.window, hop_length=settings.hop)
    frames = frames[:, :count]  # (window, frames)
    log_energy = np.log(np.maximum(np.sum(frames**2, axis=0), FLOOR))
    emphasised = np.empty_like(frames)
    emphasised[1:] = frames[1:] - settings.preemphasis * frames[:-1]
    emphasised[0] = (1.0 - settings.preemphasis) * frames[0]
    windowed = emphasised * np.hamming(settings.window)[:, None]
    spectrum = np.abs(np.fft.rfft(windowed, n=settings.n_fft, axis=0))
    if settings.use_power:
        spectrum = spectrum**2
    log_mel = np.log(np.maximum(mel_filter_bank(settings) @ spectrum, FLOOR))
    cepstra = dct(log_mel, type=2, norm="ortho", axis=0)[1 : settings.n_cepstra + 1]
    static = np.vstack([log_energy[None, :], cepstra * lifter_weights(settings)[:, None]])
    delta = regression_deltas(static, settings.delta_window)
    delta2 = regression_deltas(delta, settings.delta_window)
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


def preparation_recipe() -> dict[str, Any]:
    """What preparation does to TIMIT's audio, as data (the registry's rerun trigger)."""
    return {"features": TIMIT_FEATURES.describe()}
