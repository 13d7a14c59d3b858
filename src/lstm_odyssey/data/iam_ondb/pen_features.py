"""From a line's strokes to the network's inputs: outliers, the clock, four features per point.

See `prepare` for the rules (outlier points, backward timestamps, empty strokes) and the two
input representations; stroke files are parsed and featurised in worker processes here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_odyssey.data.iam_ondb.recipe import INPUT_NAMES, OUTLIER_JUMP
from lstm_odyssey.data.iam_ondb.strokes import Stroke, read_stroke_xml

logger = logging.getLogger(__name__)


def remove_outliers(
    strokes: Sequence[Stroke], jump: float = OUTLIER_JUMP
) -> tuple[list[Stroke], int]:
    """Strokes without isolated far-off points, and how many points were dropped.

    In a stroke of 3 or more points, a point is dropped when its distance to each neighbour it
    has in the stroke (one for the ends, two inside) exceeds `jump`.
    """
    cleaned, removed = [], 0
    for stroke in strokes:
        if len(stroke) < 3:
            cleaned.append(stroke)
            continue
        step = np.linalg.norm(np.diff(stroke[:, :2], axis=0), axis=1)  # step[i]: point i -> i+1
        far_before = np.concatenate([[True], step > jump])
        far_after = np.concatenate([step > jump, [True]])
        outlier = far_before & far_after
        removed += int(outlier.sum())
        cleaned.append(stroke[~outlier])
    return cleaned, removed


def monotone_time(strokes: Sequence[Stroke]) -> tuple[list[Stroke], int]:
    """Strokes whose times never go back, and how many points had an earlier time than before.

    Each point's time becomes the latest timestamp so far along the line (strokes in writing
    order). The real corpus's backward timestamps are jitter of tens of milliseconds or spikes
    of hundreds to thousands of seconds back for a few points before the clock returns: holding
    the latest time flattens them and leaves every later point on its own timestamp, where
    clamping each time step at 0 would add a spike's whole size back when the clock recovers.
    """
    kept = [np.array(stroke, dtype=np.float64).reshape(-1, 3) for stroke in strokes]
    lengths = [len(stroke) for stroke in kept]
    if not sum(lengths):
        return kept, 0
    points = np.concatenate(kept)
    latest = np.maximum.accumulate(points[:, 2])
    held = int(np.count_nonzero(latest > points[:, 2]))
    points[:, 2] = latest
    return np.split(points, np.cumsum(lengths)[:-1]), held


def pen_features(strokes: Sequence[Stroke], *, offsets: bool) -> np.ndarray:
    """(points, 4) float32 per pen point: dx, dy, stroke time, pen-up (or x, y, time, pen-up).

    With `offsets` (the paper's inputs): dx, dy from the previous point, across a pen-up too
    (0 for the line's first point), and the time since the first point of the point's stroke.
    Without: x, y and time from the line's origin (its first point has x = y = 0, time 0).
    Pen-up is 1 on each stroke's last point, where the pen leaves the board. Empty strokes
    contribute nothing.
    """
    kept = [np.asarray(stroke, dtype=np.float64).reshape(-1, 3) for stroke in strokes]
    kept = [stroke for stroke in kept if len(stroke)]
    if not kept:
        raise ValueError("a line needs at least one pen point")
    points = np.concatenate(kept)
    stroke_lengths = [len(stroke) for stroke in kept]
    pen_up = np.zeros(len(points))
    pen_up[np.cumsum(stroke_lengths) - 1] = 1.0
    if not offsets:
        return np.column_stack([points - points[0], pen_up]).astype(np.float32)
    steps = np.zeros((len(points), 2))
    steps[1:] = np.diff(points[:, :2], axis=0)
    stroke_start_times = np.repeat([stroke[0, 2] for stroke in kept], stroke_lengths)
    stroke_time = points[:, 2] - stroke_start_times
    return np.column_stack([steps, stroke_time, pen_up]).astype(np.float32)


@dataclass(frozen=True)
class LineInk:
    """What one stroke file gives: its features (before standardising) and what was cleaned."""

    line_id: str
    source: str
    features: np.ndarray
    counts: dict[str, int]


def line_ink(line_id: str, source: str, data: bytes, *, offsets: bool, jump: float) -> LineInk:
    """Parse, clean and featurise one stroke file.

    A line without any pen point left gets (0, 4) features: `pair_lines` skips and counts it.
    """
    strokes = read_stroke_xml(data, source)
    empty = sum(1 for stroke in strokes if len(stroke) == 0)
    strokes = [stroke for stroke in strokes if len(stroke)]
    strokes, outliers = remove_outliers(strokes, jump)
    strokes = [stroke for stroke in strokes if len(stroke)]
    strokes, backward = monotone_time(strokes)
    counts = {
        "empty_strokes": empty,
        "outlier_points": outliers,
        "single_point_strokes": sum(1 for stroke in strokes if len(stroke) == 1),
        "backward_timestamps": backward,
    }
    if not strokes:
        return LineInk(line_id, source, np.zeros((0, len(INPUT_NAMES)), np.float32), counts)
    return LineInk(line_id, source, pen_features(strokes, offsets=offsets), counts)


def _line_ink_batch(
    batch: Sequence[tuple[str, str, bytes]], offsets: bool, jump: float
) -> list[LineInk]:
    return [line_ink(*item, offsets=offsets, jump=jump) for item in batch]


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_line_inks(
    stroke_files: Iterator[tuple[str, str, bytes]], *, offsets: bool, jump: float, workers: int
) -> dict[str, LineInk]:
    """Line id -> LineInk for every stroke file, parsed by `workers` processes.

    At most a few batches wait at a time, so an archive streams through without being held in
    memory whole.
    """
    if workers <= 1:
        return {
            ink.line_id: ink
            for ink in (line_ink(*item, offsets=offsets, jump=jump) for item in stroke_files)
        }
    inks: dict[str, LineInk] = {}
    pending: list[Future[list[LineInk]]] = []
    with ProcessPoolExecutor(max_workers=workers) as executor:
        for batch in _batches(stroke_files, 64):
            pending.append(executor.submit(_line_ink_batch, batch, offsets, jump))
            if len(pending) >= 2 * workers:
                inks.update((ink.line_id, ink) for ink in pending.pop(0).result())
        for future in pending:
            inks.update((ink.line_id, ink) for ink in future.result())
    return inks
