"""IAM-OnDB (Liwicki & Bunke 2005) as the paper's CTC task: pen points in, characters out.

The corpus as the FKI distributes it, each part an unpacked folder or its original archive:

- `lineStrokes/` or `lineStrokes-all.tar.gz`: one XML file per written text line,
  `lineStrokes/a01/a01-000/a01-000u-01.xml`, a `<WhiteboardCaptureSession>` holding a
  `<WhiteboardDescription>` and a `<StrokeSet>` of `<Stroke>`s of `<Point x= y= time=>`
  (whiteboard units; time in seconds).
- `ascii/` or `ascii-all.tar.gz`: one transcription per form, `ascii/a01/a01-000/a01-000u.txt`:
  header lines, an `OCR:` section, then `CSR:`; the n-th non-empty line after `CSR:` is the text
  of stroke file `-nn` (`a01-000u-01.xml` is line 1).
- `task1/` or `task1.tar.gz`: the split lists `trainset.txt`, `testset_v.txt`, `testset_t.txt`,
  `testset_f.txt`, one form id (`a01-000u`) per line.

The paper's split: train = trainset, validation = testset_v + testset_t, test = testset_f, one
text line per sequence (5355 / 2956 / 3859 lines on the complete corpus).

The rules for what the real corpus gets wrong (each counted per split in the prepare log and in
the HDF5 attribute `preparation_counts`, never silent):

- Pairing: stroke file `-nn` takes the n-th CSR text line, which is sound only when a form has
  one stroke file per CSR line, numbered 1..n. A form whose stroke files and CSR lines disagree
  (in number, or with a gap in the numbering) cannot be aligned by number: which text belongs to
  which ink past the first disagreement is unknown, so the form is skipped whole
  (`forms_with_line_count_mismatch`, its stroke files in `lines_in_mismatched_forms`), each
  named in the log. On the real corpus this is `a08-551z` (9 stroke files, 8 CSR lines; without
  it trainset gives the paper's 5355 lines) and `z01-000z` (8 stroke files, a placeholder text;
  in no list).
- A listed form with stroke files but no ascii file has its lines skipped
  (`forms_without_transcription`, `lines_without_transcription`); one with an ascii file but no
  stroke file is counted (`forms_without_strokes`). A listed form with neither is a CorpusError
  naming the form and its list file: the task1 lists and the data are out of sync (a partial
  extraction, or lists from another copy), which would silently shrink a split.
- Lines without ink: a stroke file whose `<StrokeSet>` holds no point (or none left after the
  outlier rule) is skipped (`lines_without_ink`).
- Backward timestamps: inside a stroke the tablet's clock sometimes goes back, by tens of
  milliseconds (points stamped out of order, e.g. `a01-020x-03`, `-04`) or by hundreds to
  thousands of seconds for a few points before it returns to the true clock (e.g.
  `a01-053-03`). Before any time feature is taken, each point's time becomes the running
  maximum of the timestamps along the line (`monotone_time`): a point stamped earlier than one
  before it takes the latest time so far (`backward_timestamps` counts those points). Later
  points keep their own timestamps, so a glitch never shifts the rest of the line (clamping
  each time step at 0 instead would add the whole jump back when the clock recovers), and time
  never runs backwards along a line or inside a stroke.
- Text: HTML entities (`&quot;` and the like) are decoded (`entities_decoded`) and runs of white
  space become one space. A line left empty is skipped (`empty_transcriptions`).
- Outlier points: a point of a stroke (of 3 or more points) that lies more than `OUTLIER_JUMP`
  whiteboard units from every neighbour it has in its stroke is dropped (`outlier_points`): the
  tablet occasionally reports a single point hundreds of units away. Pen-up moves between
  strokes are never outliers.
- Empty strokes are dropped (`empty_strokes`); one-point strokes are kept (a dot, e.g. on an
  `i`, is real writing) and counted (`single_point_strokes`).
- Characters of validation/test lines outside the training alphabet are removed from the target
  and counted per character (`unknown_characters`); training defines the alphabet.
- CTC feasibility: a target of L labels with r adjacent repeats needs at least L + r frames; a
  line with fewer points is skipped at prepare time (`ctc_infeasible`, each named in the log),
  so it can never reach training as a diverging trial.
- A malformed or empty XML file, a file without `<StrokeSet>`, a point without numeric x/y/time,
  an ascii file without `CSR:`: CorpusError naming the file (these are broken copies, not
  defects of the corpus).
- A form named in two split lists: CorpusError (it would leak between splits).

Features, four per point. By default (`offsets`, the paper's inputs): the pen's step dx, dy from
the previous point (0 for the line's first point; a step across a pen-up counts too), the time
since the first point of the point's stroke, and pen-up (1 on a stroke's last point, where the
pen leaves the board). With `offsets` off: pen x, y and time from the line's origin (its first
point is x = y = 0, time = 0), and pen-up. All four inputs are then standardised with the
training split's mean and standard deviation (stored as `input_mean`, `input_std`; a constant
input keeps std 1).

Targets: class 0 is the CTC blank; class i >= 1 is the i-th character of `alphabet` (the
training transcriptions' characters in code-point order).
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import tarfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.store import SPLIT_NAMES, PreparedData, SplitData, write_prepared

logger = logging.getLogger(__name__)

SOURCE_REAL = "iam-ondb"
SOURCE_SYNTHETIC = "synthetic-iamondb"
SYNTHETIC_MARKER = "synthetic-iamondb.json"
"""Written by the stand-in generator at the corpus root; its presence makes the source synthetic."""

STROKES_PART = ("lineStrokes", "lineStrokes-all.tar.gz")
TRANSCRIPTIONS_PART = ("ascii", "ascii-all.tar.gz")
SPLIT_LISTS_PART = ("task1", "task1.tar.gz")

SPLIT_LISTS: dict[str, tuple[str, ...]] = {
    "train": ("trainset.txt",),
    "valid": ("testset_v.txt", "testset_t.txt"),
    "test": ("testset_f.txt",),
}
"""The paper's split: which of the distribution's task1 lists make each split."""

PAPER_SPLIT_LINES = {"train": 5355, "valid": 2956, "test": 3859}
"""Text lines per split the paper reports for the complete corpus."""

OUTLIER_JUMP = 300.0
"""Whiteboard units: a stroke point farther than this from all its stroke neighbours is noise.

Consecutive pen points are milliseconds apart: a point 300 units (centimetres on the whiteboard)
from both its neighbours is a tablet glitch, not pen movement.
"""

INPUT_NAMES = ("x", "y", "time", "pen_up")
OFFSET_INPUT_NAMES = ("dx", "dy", "stroke_time", "pen_up")

PREPARATION_RECIPE = {
    "rules": "pairing 1..n or the form skipped whole; ink-less lines skipped; time a running max",
    "inputs": {"positions": INPUT_NAMES, "offsets": OFFSET_INPUT_NAMES},
    "outlier_jump": OUTLIER_JUMP,
}
"""What preparation does to the corpus, as data: a Snakemake param of `prepare_data`, so a change
to these rules reruns the preparation (reword it whenever the prepared file would change)."""


def preparation_recipe() -> dict[str, Any]:
    """What preparation does to IAM-OnDB (the registry's rerun trigger)."""
    return PREPARATION_RECIPE


_STROKE_FILE = re.compile(r"^(?P<form>.+)-(?P<number>\d+)\.xml$")
_TRANSCRIPTION_FILE = re.compile(r"^(?P<form>.+)\.txt$")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+\d*);")

Stroke = np.ndarray
"""(points, 3) float64: x, y, time (seconds) of one pen-down trace."""


# --- reading the three parts --------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """Text of a corpus file: UTF-8, else ISO-8859-1 (what the XML headers declare)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("iso-8859-1")


def read_stroke_xml(data: bytes, source: str | os.PathLike[str]) -> list[Stroke]:
    """The strokes of one `lineStrokes` XML file, in writing order (empty strokes included).

    `source` names the file in errors. Malformed XML, a file without `<StrokeSet>` and a point
    without numeric x, y and time raise CorpusError. A `<StrokeSet>` without any point gives no
    (or only empty) strokes: a line without ink, which the caller skips and counts, since the
    real corpus has such lines and one must not stop the whole preparation.
    """
    if not data.strip():
        raise CorpusError(source, "empty file, expected a <WhiteboardCaptureSession> XML")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise CorpusError(source, f"malformed XML ({error})") from error
    stroke_set = root if root.tag == "StrokeSet" else root.find("StrokeSet")
    if stroke_set is None:
        raise CorpusError(source, f"no <StrokeSet> in <{root.tag}>")
    strokes = []
    for stroke_index, stroke in enumerate(stroke_set.iter("Stroke")):
        points = []
        for point_index, point in enumerate(stroke.iter("Point")):
            try:
                points.append(
                    (
                        float(point.attrib["x"]),
                        float(point.attrib["y"]),
                        float(point.attrib["time"]),
                    )
                )
            except (KeyError, ValueError) as error:
                raise CorpusError(
                    source,
                    f"stroke {stroke_index}, point {point_index}: needs numeric x, y and time, "
                    f"got {dict(point.attrib)}",
                ) from error
        strokes.append(np.asarray(points, dtype=np.float64).reshape(-1, 3))
    return strokes


def read_stroke_file(path: str | os.PathLike[str]) -> list[Stroke]:
    """`read_stroke_xml` of a file on disk."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, "stroke file does not exist")
    return read_stroke_xml(path.read_bytes(), path)


def read_transcription(text: str, source: str | os.PathLike[str]) -> list[str]:
    """The text lines of an ascii transcription: the non-empty lines after the `CSR:` marker.

    Returned as written (see `clean_text`); the n-th entry belongs to stroke file `-nn`.
    """
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip() == "CSR:":
            return [stripped for line in lines[index + 1 :] if (stripped := line.strip())]
    raise CorpusError(source, "no 'CSR:' line, expected the corrected transcription after it")


def clean_text(text: str) -> tuple[str, int]:
    """A transcription with HTML entities decoded and white space runs as one space.

    Returns the text and how many entities were decoded (`&quot;` -> `"`, `&amp;` -> `&`, ...).
    """
    entities = sum(1 for m in _ENTITY.finditer(text) if html.unescape(m.group()) != m.group())
    return " ".join(html.unescape(text).split()), entities


def read_split_list(text: str) -> list[str]:
    """Form ids of a task1 list, one per non-empty line."""
    return [stripped for line in text.splitlines() if (stripped := line.strip())]


def paper_split(lists: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Split name -> form ids from the four task1 lists (list file name -> form ids).

    train = trainset; valid = testset_v then testset_t; test = testset_f. A missing list or a
    form named in two lists raises CorpusError.
    """
    owner: dict[str, str] = {}
    split: dict[str, list[str]] = {}
    for split_name in SPLIT_NAMES:
        forms: list[str] = []
        for list_name in SPLIT_LISTS[split_name]:
            if list_name not in lists:
                raise CorpusError(list_name, "split list missing from task1")
            for form_id in lists[list_name]:
                if form_id in owner:
                    raise CorpusError(
                        list_name,
                        f"form {form_id} is also in {owner[form_id]}; splits must not share forms",
                    )
                owner[form_id] = list_name
                forms.append(form_id)
        split[split_name] = forms
    return split


class CorpusParts:
    """One copy of IAM-OnDB: each of lineStrokes, ascii and task1 a folder or its archive.

    Archives are read in one pass each (gzip tar files cannot be read out of order cheaply).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise CorpusError(self.root, "IAM-OnDB corpus folder does not exist")
        self.strokes = self._locate(STROKES_PART)
        self.transcriptions = self._locate(TRANSCRIPTIONS_PART)
        self.split_lists_location = self._locate(SPLIT_LISTS_PART)

    def _locate(self, part: tuple[str, str]) -> Path:
        folder, archive = (self.root / name for name in part)
        if folder.is_dir():
            return folder
        if archive.is_file():
            return archive
        raise CorpusError(self.root, f"has neither the folder {part[0]}/ nor the archive {part[1]}")

    @property
    def source(self) -> str:
        """`synthetic-iamondb` where the stand-in generator left its marker, else `iam-ondb`."""
        return SOURCE_SYNTHETIC if (self.root / SYNTHETIC_MARKER).is_file() else SOURCE_REAL

    def split_list_files(self) -> dict[str, tuple[str, list[str]]]:
        """List file name -> (where it was read, its form ids), for the paper's four lists.

        Where it was read (a path, or `archive:member`) names the list in errors.
        """
        wanted = {name for names in SPLIT_LISTS.values() for name in names}
        found = {
            Path(name).name: (name, read_split_list(_decode(data)))
            for name, data in _files(self.split_lists_location, lambda n: Path(n).name in wanted)
        }
        missing = sorted(wanted - set(found))
        if missing:
            raise CorpusError(self.split_lists_location, f"split lists missing: {missing}")
        return found

    def split_lists(self) -> dict[str, list[str]]:
        """List file name -> form ids, for the four lists of the paper's split."""
        return {name: forms for name, (_, forms) in self.split_list_files().items()}

    def transcription_lines(self, forms: Iterable[str]) -> dict[str, tuple[str, list[str]]]:
        """Form id -> (ascii file, its CSR text lines), for the forms that have an ascii file."""
        wanted = set(forms)

        def is_wanted(name: str) -> bool:
            match = _TRANSCRIPTION_FILE.match(Path(name).name)
            return bool(match) and match["form"] in wanted

        transcriptions = {}
        for name, data in _files(self.transcriptions, is_wanted):
            form_id = _TRANSCRIPTION_FILE.match(Path(name).name)["form"]  # type: ignore[index]
            transcriptions[form_id] = (name, read_transcription(_decode(data), name))
        return transcriptions

    def stroke_files(self, wanted_forms: Iterable[str]) -> Iterator[tuple[str, str, bytes]]:
        """(line id, file name, bytes) of each stroke file of the wanted forms, in storage order."""
        forms = set(wanted_forms)

        def is_wanted(name: str) -> bool:
            match = _STROKE_FILE.match(Path(name).name)
            return bool(match) and match["form"] in forms

        for name, data in _files(self.strokes, is_wanted):
            yield Path(name).stem, name, data


def _files(location: Path, wanted: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the files under a folder or in a .tar.gz whose name `wanted` accepts.

    Folder files are named by their path; archive members by `archive:member`.
    """
    if location.is_dir():
        for folder, subfolders, names in os.walk(location):
            subfolders.sort()
            for name in sorted(names):
                path = Path(folder) / name
                if wanted(str(path)):
                    yield str(path), path.read_bytes()
        return
    try:
        with tarfile.open(location, "r:*") as archive:
            for member in archive:
                if member.isfile() and wanted(member.name):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        yield f"{location}:{member.name}", handle.read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise CorpusError(location, f"unreadable archive ({error})") from error


# --- from strokes to features -------------------------------------------------------------------


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


def ctc_min_frames(labels: Sequence[int] | np.ndarray) -> int:
    """Frames CTC needs for `labels`: one per label plus a blank between each repeated pair."""
    labels = np.asarray(labels)
    repeats = int(np.count_nonzero(labels[1:] == labels[:-1])) if len(labels) > 1 else 0
    return len(labels) + repeats


def encode_text(text: str, alphabet: str) -> tuple[np.ndarray, Counter[str]]:
    """Class ids (1 + position in `alphabet`) of `text`, and the characters left out as unknown."""
    index = {character: position + 1 for position, character in enumerate(alphabet)}
    unknown: Counter[str] = Counter(c for c in text if c not in index)
    ids = np.array([index[c] for c in text if c in index], dtype=np.int64)
    return ids, unknown


# --- one line, in a worker ----------------------------------------------------------------------


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


# --- pairing lines with their text --------------------------------------------------------------


COUNT_NAMES = (
    "forms_with_line_count_mismatch",
    "lines_in_mismatched_forms",
    "forms_without_strokes",
    "forms_without_transcription",
    "lines_without_transcription",
    "lines_without_ink",
    "empty_transcriptions",
    "entities_decoded",
    "empty_strokes",
    "single_point_strokes",
    "outlier_points",
    "backward_timestamps",
    "unknown_characters_removed",
    "ctc_infeasible",
)
"""What the prepare step counts per split (see the module docstring for each rule)."""


@dataclass
class SplitReport:
    """What happened to one split's lines on the way to the prepared file."""

    counts: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(COUNT_NAMES, 0)))
    unknown_characters: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class TextLine:
    """A text line ready to encode: its id, text and features before standardising."""

    line_id: str
    source: str
    text: str
    features: np.ndarray


def pair_lines(
    form_id: str,
    transcription: tuple[str, list[str]] | None,
    inks: Mapping[int, LineInk],
    report: SplitReport,
) -> list[TextLine]:
    """The form's lines with their text: stroke file `-nn` takes the n-th CSR line.

    Only a form with one stroke file per CSR line, numbered 1..n, can be paired by number; any
    other form is skipped whole and named in the log, since past the first disagreement which
    text belongs to which ink is unknown. Lines without ink are skipped; all is counted in
    `report`.
    """
    if transcription is None:
        report.counts["forms_without_transcription"] += 1
        report.counts["lines_without_transcription"] += len(inks)
        logger.warning("form %s: no ascii transcription, %d lines skipped", form_id, len(inks))
        return []
    ascii_name, texts = transcription
    if sorted(inks) != list(range(1, len(texts) + 1)):
        report.counts["forms_with_line_count_mismatch"] += 1
        report.counts["lines_in_mismatched_forms"] += len(inks)
        logger.warning(
            "form %s skipped whole (%d lines): %s has CSR text lines %s but the stroke files "
            "are lines %s, so they cannot be paired by number",
            form_id,
            len(inks),
            ascii_name,
            _number_ranges(range(1, len(texts) + 1)),
            _number_ranges(sorted(inks)),
        )
        return []
    paired = []
    for number, written in enumerate(texts, start=1):
        ink = inks[number]
        if len(ink.features) == 0:
            report.counts["lines_without_ink"] += 1
            logger.warning("%s: no pen point in its <StrokeSet>, line skipped", ink.source)
            continue
        text, entities = clean_text(written)
        report.counts["entities_decoded"] += entities
        if not text:
            report.counts["empty_transcriptions"] += 1
            continue
        for key, value in ink.counts.items():
            report.counts[key] += value
        paired.append(TextLine(ink.line_id, ink.source, text, ink.features))
    return paired


def _number_ranges(numbers: Sequence[int]) -> str:
    """`1-3, 5` for [1, 2, 3, 5]: line numbers as a reader would write them."""
    ranges: list[str] = []
    start = previous = None
    for number in [*numbers, None]:
        if start is not None and number == previous + 1:  # type: ignore[operator]
            previous = number
            continue
        if start is not None:
            ranges.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    return ", ".join(ranges) or "none"


def split_lines(
    forms: Sequence[str],
    transcriptions: Mapping[str, tuple[str, list[str]]],
    inks: Mapping[str, LineInk],
    report: SplitReport,
) -> list[TextLine]:
    """Every usable text line of a split's forms, in list order then line number."""
    by_form: dict[str, dict[int, LineInk]] = defaultdict(dict)
    for line_id, ink in inks.items():
        form_id, number = line_id.rsplit("-", 1)
        by_form[form_id][int(number)] = ink
    lines = []
    for form_id in forms:
        if form_id not in by_form:
            report.counts["forms_without_strokes"] += 1
            logger.warning("form %s is listed but has no stroke files", form_id)
            continue
        lines.extend(pair_lines(form_id, transcriptions.get(form_id), by_form[form_id], report))
    return lines


# --- targets, normalisation, the prepared file ----------------------------------------------------


def encode_split(
    lines: Sequence[TextLine], alphabet: str, report: SplitReport
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Features, label ids and ids of the lines that fit CTC; the others are counted and named."""
    inputs, labels, ids = [], [], []
    for line in lines:
        encoded, unknown = encode_text(line.text, alphabet)
        report.unknown_characters.update(unknown)
        report.counts["unknown_characters_removed"] += sum(unknown.values())
        if len(encoded) == 0:
            report.counts["empty_transcriptions"] += 1
            continue
        needed = ctc_min_frames(encoded)
        if len(line.features) < needed:
            report.counts["ctc_infeasible"] += 1
            logger.warning(
                "%s: skipped, %d pen points cannot carry %r under CTC (needs %d)",
                line.source,
                len(line.features),
                line.text,
                needed,
            )
            continue
        inputs.append(line.features)
        labels.append(encoded)
        ids.append(line.line_id)
    return inputs, labels, ids


def training_alphabet(lines: Iterable[TextLine]) -> str:
    """Every character of the training transcriptions, in code-point order."""
    return "".join(sorted({character for line in lines for character in line.text}))


def standardisation(train_inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-input mean and standard deviation over all training points (std 1 where constant)."""
    stacked = np.concatenate(train_inputs).astype(np.float64)
    mean = stacked.mean(axis=0)
    std = stacked.std(axis=0)
    std[std == 0] = 1.0
    return mean, std


def _feasible_train_alphabet(lines: Sequence[TextLine]) -> str:
    """The alphabet of the training lines CTC can use (an infeasible line defines no symbol)."""
    # Training text has no unknown characters: one label per character, equal where equal.
    return training_alphabet(
        line
        for line in lines
        if len(line.features) >= ctc_min_frames([ord(character) for character in line.text])
    )


def check_listed_forms_present(
    list_files: Mapping[str, tuple[str, Sequence[str]]],
    forms_with_strokes: Iterable[str],
    forms_with_transcription: Iterable[str],
) -> None:
    """CorpusError if a listed form has neither stroke files nor a transcription.

    The error names the first list file with such forms and its forms (the first ten), and how
    many more the other lists have. `list_files` is list file name -> (where it was read, form
    ids). The task1 lists and the
    data come from one distribution: a listed form with no file at all means a partial
    extraction (or lists from another copy), which would silently shrink a split.
    """
    present = set(forms_with_strokes) | set(forms_with_transcription)
    absent = {
        list_name: [form for form in forms if form not in present]
        for list_name, (_, forms) in list_files.items()
    }
    absent = {list_name: forms for list_name, forms in absent.items() if forms}
    if not absent:
        return
    list_name, forms = next(iter(absent.items()))
    shown = ", ".join(forms[:10]) + (f" and {len(forms) - 10} more" if len(forms) > 10 else "")
    others = sum(len(forms) for forms in absent.values()) - len(forms)
    raise CorpusError(
        list_files[list_name][0],
        f"lists form{'s' if len(forms) > 1 else ''} {shown} with neither stroke files "
        f"(lineStrokes) nor a transcription (ascii): the split lists and the data are out of "
        f"sync, a partial extraction?"
        + (f" ({others} more such forms in the other lists)" if others else ""),
    )


def prepare_iam_ondb(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    offsets: bool = True,
    workers: int = 1,
    outlier_jump: float = OUTLIER_JUMP,
) -> PreparedData:
    """Read IAM-OnDB (or its stand-in) at `path` and write the prepared CTC task to `out_path`.

    See the module docstring for the split, the defect rules and the features. `workers`
    processes parse the stroke files.
    """
    started = time.perf_counter()
    corpus = CorpusParts(path)
    list_files = corpus.split_list_files()
    split_forms = paper_split({name: forms for name, (_, forms) in list_files.items()})
    listed = [form for forms in split_forms.values() for form in forms]
    transcriptions = corpus.transcription_lines(listed)
    inks = read_line_inks(
        corpus.stroke_files(listed), offsets=offsets, jump=outlier_jump, workers=workers
    )
    check_listed_forms_present(
        list_files, (line_id.rsplit("-", 1)[0] for line_id in inks), transcriptions
    )

    reports = {name: SplitReport() for name in SPLIT_NAMES}
    lines = {
        name: split_lines(split_forms[name], transcriptions, inks, reports[name])
        for name in SPLIT_NAMES
    }
    alphabet = _feasible_train_alphabet(lines["train"])
    encoded = {name: encode_split(lines[name], alphabet, reports[name]) for name in SPLIT_NAMES}
    for name in SPLIT_NAMES:
        if not encoded[name][0]:
            raise CorpusError(path, f"split {name!r} has no usable text line")

    mean, std = standardisation(encoded["train"][0])
    splits = {
        name: SplitData.from_sequences(
            [((x - mean) / std).astype(np.float32) for x in encoded[name][0]],
            encoded[name][1],
            label_sequences=True,
        )
        for name in SPLIT_NAMES
    }
    source = corpus.source
    sizes = {name: splits[name].n_sequences for name in SPLIT_NAMES}
    _log_summary(path, source, sizes, reports, alphabet, time.perf_counter() - started)
    metadata: dict[str, Any] = {
        "task_kind": "ctc",
        "source": source,
        "input_size": len(INPUT_NAMES),
        "n_classes": len(alphabet) + 1,
        "blank_index": 0,
        "alphabet": alphabet,
        "input_names": ",".join(OFFSET_INPUT_NAMES if offsets else INPUT_NAMES),
        "offsets": bool(offsets),
        "normalisation": "standardised with training-split mean and std",
        "input_mean": [float(v) for v in mean],
        "input_std": [float(v) for v in std],
        "outlier_jump": float(outlier_jump),
        "preparation_counts": json.dumps(
            {name: {key: reports[name].counts[key] for key in COUNT_NAMES} for name in SPLIT_NAMES},
            sort_keys=True,
        ),
        "unknown_characters": json.dumps(
            {name: dict(sorted(reports[name].unknown_characters.items())) for name in SPLIT_NAMES},
            sort_keys=True,
        ),
        "unknown_character_rule": "removed from the target (training defines the alphabet)",
        "split_lists": json.dumps(SPLIT_LISTS),
    }
    if source == SOURCE_REAL:
        metadata["paper_split_lines"] = json.dumps(PAPER_SPLIT_LINES)
    return write_prepared(out_path, PreparedData(splits=splits, metadata=metadata))


def _log_summary(
    path: str | os.PathLike[str],
    source: str,
    sizes: Mapping[str, int],
    reports: Mapping[str, SplitReport],
    alphabet: str,
    seconds: float,
) -> None:
    logger.info(
        "%s (%s): %s text lines, %d symbols + blank, in %.1f s",
        path,
        source,
        " / ".join(f"{name} {sizes[name]}" for name in SPLIT_NAMES),
        len(alphabet),
        seconds,
    )
    for name in SPLIT_NAMES:
        # Every rule's count, zeros too: the log shows which rules ran, not only what they hit.
        counts = ", ".join(f"{key} {reports[name].counts[key]}" for key in COUNT_NAMES)
        logger.info("%s: %s", name, counts)
        if reports[name].unknown_characters:
            logger.warning(
                "%s: characters outside the training alphabet removed from targets: %s",
                name,
                dict(reports[name].unknown_characters),
            )
    if source == SOURCE_REAL and dict(sizes) != PAPER_SPLIT_LINES:
        logger.warning(
            "%s: split sizes %s differ from the paper's %s (train / valid / test)",
            path,
            dict(sizes),
            PAPER_SPLIT_LINES,
        )


def prepare_task_data(
    data: Mapping[str, Any], corpus: Path | None, out_path: str | os.PathLike[str], workers: int
) -> PreparedData:
    """The registry's preparer: the corpus folder (FKI copy or stand-in) -> `out_path`."""
    if corpus is None:
        raise CorpusError(
            "tasks.iam_ondb.data.path", "no corpus given (set path, or source: synthetic)"
        )
    return prepare_iam_ondb(corpus, out_path, offsets=bool(data["offsets"]), workers=workers)
