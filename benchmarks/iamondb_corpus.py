"""What preparing a real IAM-OnDB copy gives: split sizes, alphabet, rule counts, time taken.

Prepares the copy at PATH with the project's own `prepare_iam_ondb` (into a temporary folder,
nothing is kept) and prints the text lines per split against the paper's 5355 / 2956 / 3859, the
training alphabet, how often each preparation rule fired per split (the rules are listed at the
top of `src/lstm_odyssey/data/iam_ondb/prepare.py`; the forms and lines they name are logged
above the table), the characters removed from validation/test targets, and the seconds it took.

PATH holds `lineStrokes/`, `ascii/` and `task1/` (or their `.tar.gz` archives), as the FKI
distributes them.

    python benchmarks/iamondb_corpus.py /path/to/iam-ondb             # ~30 s on 2 cores
    python benchmarks/iamondb_corpus.py /path/to/iam-ondb --workers 4 --positions
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from machine import machine_line

from lstm_odyssey.data.iam_ondb.pairing import COUNT_NAMES, PAPER_SPLIT_LINES
from lstm_odyssey.data.iam_ondb.prepare import prepare_iam_ondb
from lstm_odyssey.data.iam_ondb.strokes import CorpusParts
from lstm_odyssey.data.store import SPLIT_NAMES


def rule_count_table(counts: dict[str, dict[str, int]]) -> list[str]:
    """One row per rule, one column per split: what each rule did to each split."""
    width = max(len(name) for name in COUNT_NAMES)
    rows = [f"  {'rule':<{width}}" + "".join(f"{name:>8}" for name in SPLIT_NAMES)]
    for rule in COUNT_NAMES:
        row = "".join(f"{counts[name][rule]:>8}" for name in SPLIT_NAMES)
        rows.append(f"  {rule:<{width}}{row}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="IAM-OnDB copy (lineStrokes, ascii, task1)")
    parser.add_argument("--workers", type=int, default=2, help="processes parsing stroke files")
    parser.add_argument(
        "--positions", action="store_true", help="x, y from the line's origin instead of offsets"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="  log: %(message)s")

    print(machine_line())
    print(f"{os.cpu_count()} cores visible; {args.workers} workers parse the stroke files")
    corpus = CorpusParts(args.path)
    print(f"corpus {args.path} ({corpus.source}):")
    for part in (corpus.strokes, corpus.transcriptions, corpus.split_lists_location):
        print(f"  {part.relative_to(corpus.root)}{'/' if part.is_dir() else ''}")

    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        prepared = prepare_iam_ondb(
            args.path,
            Path(scratch) / "iam_ondb.h5",
            offsets=not args.positions,
            workers=args.workers,
        )
        seconds = time.perf_counter() - started

    sizes = prepared.split_sizes()
    paper = " / ".join(str(PAPER_SPLIT_LINES[name]) for name in SPLIT_NAMES)
    print(
        "text lines (train / valid / test): "
        + " / ".join(str(sizes[name]) for name in SPLIT_NAMES)
        + f"; the paper's: {paper}"
        + ("  (match)" if sizes == PAPER_SPLIT_LINES else "  (DIFFERENT)")
    )
    alphabet = prepared.metadata["alphabet"]
    print(f"alphabet ({len(alphabet)} symbols + blank): {alphabet!r}")
    print("rule counts:")
    print("\n".join(rule_count_table(json.loads(prepared.metadata["preparation_counts"]))))
    unknown = json.loads(prepared.metadata["unknown_characters"])
    print(
        "characters removed from targets (outside the training alphabet): "
        + "; ".join(f"{name} {unknown[name] or 'none'}" for name in SPLIT_NAMES)
    )
    print(f"input names: {prepared.metadata['input_names']}")
    print(f"preparation time: {seconds:.1f} s (read, clean, featurise, write HDF5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
