"""Reading IAM-OnDB's three parts, each a folder or its archive: stroke XML, CSR text, split lists.

- `lineStrokes`: one XML file per written text line, `lineStrokes/a01/a01-000/a01-000u-01.xml`,
  a `<WhiteboardCaptureSession>` holding a `<WhiteboardDescription>` and a `<StrokeSet>` of
  `<Stroke>`s of `<Point x= y= time=>` (whiteboard units; time in seconds).
- `ascii`: one transcription per form, `ascii/a01/a01-000/a01-000u.txt`: header lines, an `OCR:`
  section, then `CSR:`; the n-th non-empty line after `CSR:` is the text of stroke file `-nn`.
- `task1`: the split lists `trainset.txt`, `testset_v.txt`, `testset_t.txt`, `testset_f.txt`,
  one form id (`a01-000u`) per line.

A malformed or empty XML file, a file without `<StrokeSet>`, a point without numeric x/y/time,
an ascii file without `CSR:`: CorpusError naming the file (broken copies, not corpus defects).
"""

from __future__ import annotations

import html
import os
import re
import tarfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.iam_ondb import SOURCE_REAL, STAND_IN, STAND_IN_MARKER
from lstm_odyssey.data.iam_ondb.layout import SPLIT_LISTS_PART, STROKES_PART, TRANSCRIPTIONS_PART

SPLIT_LISTS: dict[str, tuple[str, ...]] = {
    "train": ("trainset.txt",),
    "valid": ("testset_v.txt", "testset_t.txt"),
    "test": ("testset_f.txt",),
}
"""The paper's split: which of the distribution's task1 lists make each split."""

_STROKE_FILE = re.compile(r"^(?P<form>.+)-(?P<number>\d+)\.xml$")
_TRANSCRIPTION_FILE = re.compile(r"^(?P<form>.+)\.txt$")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+\d*);")

Stroke = np.ndarray
"""(points, 3) float64: x, y, time (seconds) of one pen-down trace."""


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
        return STAND_IN if (self.root / STAND_IN_MARKER).is_file() else SOURCE_REAL

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
