"""TIMIT features against HTK's recipe on real audio: our 39 inputs, before and after, vs Kaldi.

The reference is kaldi-native-fbank (the `dev` extra) configured as HTK's MFCC_E_D_A: Hamming
window, no dither, no DC removal, raw log energy, per-frame pre-emphasis 0.97, 26 triangles in
mel from 0 Hz to Nyquist on the magnitude spectrum; its log filter bank goes through the DCT-II
and CEPLIFTER 22 here, and the deltas are HTK's regression (+-2 frames, edges repeated) applied
to its statics, then to its deltas. "Before" is `src/lstm_odyssey/data/features.py` at the git
revision `--before` (default HEAD), "after" is the working tree's. For each of the 39 inputs it
prints the Pearson correlation with the reference over all frames of all files, then the
smallest per group, and each file's frame counts.

    python benchmarks/timit_features.py /work/data/timit-samples          # .WAV files under it
    python benchmarks/timit_features.py SA1.WAV SA2.WAV --before 1982e4a
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np

from lstm_odyssey.data.timit import features
from lstm_odyssey.data.timit.sphere import read_audio
from lstm_odyssey.provenance import cpu_model

REPO = Path(__file__).resolve().parents[1]
FEATURES_PATH = "src/lstm_odyssey/data/features.py"


def features_at(revision: str) -> ModuleType:
    """The features module as it was at a git revision, imported from a temporary copy."""
    source = subprocess.run(
        ["git", "show", f"{revision}:{FEATURES_PATH}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with tempfile.TemporaryDirectory(prefix="features-before-") as directory:
        path = Path(directory) / "features_before.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("features_before", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses looks its module up
        spec.loader.exec_module(module)
    return module


def kaldi_htk_statics(samples: np.ndarray) -> np.ndarray:
    """(frames, 13): log energy and c1..c12 from kaldi-native-fbank configured as HTK."""
    import kaldi_native_fbank as knf

    options = knf.FbankOptions()
    frame = options.frame_opts
    frame.samp_freq = 16000
    frame.frame_length_ms = 25.0
    frame.frame_shift_ms = 10.0
    frame.dither = 0.0
    frame.preemph_coeff = 0.97
    frame.remove_dc_offset = False
    frame.window_type = "hamming"
    frame.round_to_power_of_two = True
    frame.snip_edges = True
    options.mel_opts.num_bins = 26
    options.mel_opts.low_freq = 0.0
    options.mel_opts.high_freq = 0.0
    options.mel_opts.htk_mode = True
    options.use_energy = True
    options.raw_energy = True
    options.energy_floor = 0.0
    options.use_power = False
    options.use_log_fbank = True
    options.htk_compat = False
    computer = knf.OnlineFbank(options)
    computer.accept_waveform(16000, samples.astype(np.float32).tolist())
    computer.input_finished()
    bank = np.array([computer.get_frame(t) for t in range(computer.num_frames_ready)], dtype=float)
    n = bank.shape[1] - 1
    i, j = np.arange(1, 13)[:, None], np.arange(1, n + 1)[None, :]
    dct = np.sqrt(2 / n) * np.cos(np.pi * i * (j - 0.5) / n)
    lifter = 1 + 11 * np.sin(np.pi * np.arange(1, 13) / 22)
    return np.column_stack([bank[:, 0], bank[:, 1:] @ dct.T * lifter])


def htk_regression(values: np.ndarray, window: int = 2) -> np.ndarray:
    last = len(values) - 1
    out = np.zeros_like(values)
    for t in range(len(values)):
        for k in range(1, window + 1):
            out[t] += k * (values[min(t + k, last)] - values[max(t - k, 0)])
    return out / (2 * sum(k * k for k in range(1, window + 1)))


def reference_features(samples: np.ndarray) -> np.ndarray:
    statics = kaldi_htk_statics(samples)
    deltas = htk_regression(statics)
    return np.hstack([statics, deltas, htk_regression(deltas)])


def audio_files(paths: list[Path]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() == ".wav")
        else:
            files.append(path)
    return files


def correlations(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.array(
        [np.corrcoef(ours[:, k], reference[:, k])[0, 1] for k in range(reference.shape[1])]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="TIMIT .WAV files or folders")
    parser.add_argument("--before", default="HEAD", help="git revision of the old recipe")
    args = parser.parse_args()

    before = features_at(args.before)
    revision = subprocess.run(
        ["git", "rev-parse", "--short", args.before], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    print(f"CPU: {cpu_model()}; before = {FEATURES_PATH} at {revision}, after = working tree")
    pooled: dict[str, list[np.ndarray]] = {"before": [], "after": [], "reference": []}
    for path in audio_files(args.paths):
        audio = read_audio(path)
        reference = reference_features(audio.samples)
        old = before.mfcc_features(audio.samples).astype(float)
        new = features.mfcc_features(audio.samples).astype(float)
        print(
            f"{path}: {audio.samples.size} samples ({audio.format}); frames: reference "
            f"{len(reference)}, before {len(old)}, after {len(new)}"
        )
        frames = min(len(reference), len(old), len(new))
        pooled["reference"].append(reference[:frames])
        pooled["before"].append(old[:frames])
        pooled["after"].append(new[:frames])
    if not pooled["reference"]:
        sys.exit("no .WAV files found")
    reference = np.vstack(pooled["reference"])
    old, new = np.vstack(pooled["before"]), np.vstack(pooled["after"])
    r_before, r_after = correlations(old, reference), correlations(new, reference)
    print(f"\nPearson correlation with the reference over {len(reference)} frames, before -> after")
    print(f"{'':>10} {'static':>17} {'delta':>17} {'delta-delta':>17}")
    names = features.feature_names()[:13]
    for k, name in enumerate(names):
        cells = [f"{r_before[k + 13 * o]:.4f} -> {r_after[k + 13 * o]:.4f}" for o in range(3)]
        print(f"{name:>10} " + " ".join(f"{cell:>17}" for cell in cells))
    print("\nsmallest per group, before -> after")
    for order, label in enumerate(("static", "delta", "delta-delta")):
        cepstra = slice(13 * order + 1, 13 * order + 13)
        energy = 13 * order
        print(
            f"  {label:>11}: c1-c12 {r_before[cepstra].min():.6f} -> {r_after[cepstra].min():.6f};"
            f" log energy {r_before[energy]:.6f} -> {r_after[energy]:.6f}"
        )
    difference = np.abs(new - reference).max(axis=0) / np.abs(reference).max(axis=0)
    print(
        f"after: largest difference from the reference, relative to its range: "
        f"{difference.max():.1e}"
    )


if __name__ == "__main__":
    main()
