"""TIMIT feature extraction throughput: one worker against `--workers`, on a corpus of TIMIT's size.

Generates (once, kept under `--corpus`) a synthetic-timit stand-in with TIMIT's 6300
utterances (630 speakers x 10 sentences: 556 training, 50 development and 24 core-test speakers),
then reads every utterance (SPHERE audio, PHN labels) and computes its 39 features with 1 worker
and with `--workers` processes, side by side, and prints utterances per second and the ratio.
The bar (issue: TIMIT) is the whole corpus in under 2 minutes on 2 cores.

    python benchmarks/timit_extraction.py                # ~2-3 minutes on 2 cores
    python benchmarks/timit_extraction.py --workers 4 --corpus /tmp/stimit-6300
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from lstm_odyssey.data.timit.corpus import discover_utterances, extract_features
from lstm_odyssey.provenance import cpu_model

TIMIT_UTTERANCES = 6300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=Path("results/benchmarks/synthetic-timit-6300")
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", type=int, default=TIMIT_UTTERANCES, help="utterances timed")
    args = parser.parse_args()

    if not args.corpus.is_dir():
        from lstm_odyssey.data.timit.stand_in import generate_synthetic_timit

        started = time.perf_counter()
        generate_synthetic_timit(
            args.corpus,
            seed=0,
            train_speakers=556,
            valid_speakers=50,
            test_speakers=24,
            sentences_per_speaker=8,
        )
        print(f"generated {args.corpus} in {time.perf_counter() - started:.0f} s")
    utterances = discover_utterances(args.corpus)[: args.sample]
    print(
        f"CPU: {cpu_model()}; {os.cpu_count()} cores visible; ISA path: NumPy/librosa (no kernel)"
    )
    print(f"{len(utterances)} utterances (SPHERE + PHN -> 39 MFCC features and frame labels)")
    rates = {}
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # the single process too: one core's worth, as a worker gets
    extract_features(utterances[:20], 1)  # warm-up: librosa's imports and first calls
    for workers in (1, args.workers):
        started = time.perf_counter()
        features = extract_features(utterances, workers)
        seconds = time.perf_counter() - started
        frames = sum(len(f.labels) for f in features)
        rates[workers] = len(utterances) / seconds
        print(
            f"  {workers} worker(s): {seconds:6.1f} s, {rates[workers]:6.1f} utterances/s, "
            f"{frames / seconds:8.0f} frames/s; all {TIMIT_UTTERANCES}: "
            f"{TIMIT_UTTERANCES / rates[workers]:5.1f} s"
        )
    print(f"speed-up with {args.workers} workers: {rates[args.workers] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
