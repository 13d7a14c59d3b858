"""An offline stand-in for IAM-OnDB: synthetic handwriting in exactly the real corpus's layout.

The real corpus needs a licence; this generator writes a small corpus that the real reader
(`iam_ondb.prepare.prepare_iam_ondb`) processes unchanged:
`lineStrokes/<s00>/<s00-000>/<s00-000w-01>.xml` stroke files,
`ascii/<s00>/<s00-000>/<s00-000w>.txt` transcriptions with their `CSR:` section, and the four
split lists in `task1/`. A marker file at the root (`synthetic-iamondb.json`, with
the generator's settings) makes everything prepared from it say `synthetic-iamondb`.

How a line is written: the text is set in a Hershey vector font (Debian's `hershey-fonts-data`:
the connected `cursive` font and the `scripts` script font), then each writer's hand bends it:
a slant, a size, a letter spacing, a baseline that drifts (a slope plus a slow wave) and jitter
on every point. Touching strokes within a word are joined, as a pen would not lift there. The
strokes are resampled into points one `time_step` apart at the writer's pen speed, with pen-up
pauses between strokes; coordinates are whole whiteboard units, times seconds.

The text: traditional English proverbs (public domain, `resources/proverbs.json`), cut at word
boundaries into lines of `min_characters`..`max_characters` characters. Each writer writes
`lines_per_writer` of them in forms of up to 8 lines; writers are disjoint across splits
(train -> trainset, validation -> testset_v and testset_t alternately, test -> testset_f).

Everything follows from `seed`, and the corpus appears at `out_dir` only once complete.
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstm_odyssey.data.iam_ondb import STAND_IN, STAND_IN_MARKER
from lstm_odyssey.data.iam_ondb.hershey import (
    BASELINE,
    CAP_HEIGHT,
    HERSHEY_DIRECTORY,
    Font,
    load_font,
)
from lstm_odyssey.data.proverbs import PROVERBS_RESOURCE, proverbs
from lstm_odyssey.io import atomic_directory

DEFAULT_FONTS = ("cursive", "scripts")
LINES_PER_FORM = 8
JOIN_DISTANCE = 1.5  # Hershey units: strokes of a word closer than this are one pen-down trace


@dataclass(frozen=True)
class WriterStyle:
    """One writer's hand: how the font's strokes are bent into this writer's ink."""

    font: str
    cap_height: float  # whiteboard units from baseline to the top of a capital
    slant: float  # horizontal shift per unit of height (positive leans right)
    letter_spacing: float  # factor on each glyph's advance
    word_spacing: float  # factor on the space's advance
    baseline_slope: float  # vertical drift per unit of horizontal distance
    baseline_wave: float  # amplitude (whiteboard units) of a slow wave on the baseline
    wave_length: float  # whiteboard units
    wave_phase: float
    jitter: float  # standard deviation of point noise, whiteboard units
    point_spacing: float  # whiteboard units the pen moves per time step while writing
    pause: float  # seconds the pen rests on a pen-up, on top of moving across

    @property
    def scale(self) -> float:
        """Whiteboard units per Hershey unit."""
        return self.cap_height / CAP_HEIGHT


def draw_writer_style(
    rng: np.random.Generator, fonts: Sequence[str], point_spacing: float
) -> WriterStyle:
    """A random writer: each trait drawn around a typical whiteboard hand."""
    return WriterStyle(
        font=str(fonts[int(rng.integers(len(fonts)))]),
        cap_height=float(rng.uniform(90.0, 150.0)),
        slant=float(rng.uniform(-0.1, 0.45)),
        letter_spacing=float(rng.uniform(0.9, 1.2)),
        word_spacing=float(rng.uniform(0.8, 1.4)),
        baseline_slope=float(rng.normal(0.0, 0.02)),
        baseline_wave=float(rng.uniform(0.0, 12.0)),
        wave_length=float(rng.uniform(600.0, 1500.0)),
        wave_phase=float(rng.uniform(0.0, 2 * math.pi)),
        jitter=float(rng.uniform(0.5, 2.0)),
        point_spacing=float(point_spacing * rng.uniform(0.8, 1.25)),
        pause=float(rng.uniform(0.05, 0.2)),
    )


# --- from text to strokes -----------------------------------------------------------------------


def set_text(text: str, font: Font, style: WriterStyle) -> list[np.ndarray]:
    """The pen-down polylines of `text` in font units (y down, baseline at 0), in writing order.

    Strokes of one word that touch (end within JOIN_DISTANCE of the next start) become one.
    """
    strokes: list[np.ndarray] = []
    cursor = 0.0
    word_start = 0
    for character in text:
        if character not in font:
            raise ValueError(f"character {character!r} has no glyph in the Hershey font")
        glyph = font[character]
        if character == " ":
            cursor += glyph.advance * style.word_spacing
            word_start = len(strokes)
            continue
        for polyline in glyph.strokes:
            placed = polyline - np.array([glyph.left - cursor, BASELINE])
            if (
                len(strokes) > word_start
                and np.linalg.norm(strokes[-1][-1] - placed[0]) < JOIN_DISTANCE
            ):
                strokes[-1] = np.concatenate([strokes[-1], placed[1:]])
            else:
                strokes.append(placed)
        cursor += glyph.advance * style.letter_spacing
    return strokes


def to_whiteboard(
    strokes: Sequence[np.ndarray], style: WriterStyle, origin: tuple[float, float]
) -> list[np.ndarray]:
    """Font-unit polylines scaled, slanted and placed on a drifting baseline at `origin`."""
    placed = []
    for stroke in strokes:
        x = origin[0] + style.scale * (stroke[:, 0] - style.slant * stroke[:, 1])
        drift = style.baseline_slope * (x - origin[0]) + style.baseline_wave * np.sin(
            2 * math.pi * (x - origin[0]) / style.wave_length + style.wave_phase
        )
        y = origin[1] + style.scale * stroke[:, 1] + drift
        placed.append(np.column_stack([x, y]))
    return placed


def resample(polyline: np.ndarray, spacing: float) -> np.ndarray:
    """Points evenly spaced along the polyline, about `spacing` apart, both ends kept."""
    steps = np.linalg.norm(np.diff(polyline, axis=0), axis=1)
    length = float(steps.sum())
    if length == 0.0:
        return polyline[:1].copy()
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    positions = np.linspace(0.0, length, max(2, math.ceil(length / spacing) + 1))
    return np.column_stack(
        [np.interp(positions, arc, polyline[:, 0]), np.interp(positions, arc, polyline[:, 1])]
    )


def pen_trace(
    strokes: Sequence[np.ndarray],
    style: WriterStyle,
    rng: np.random.Generator,
    *,
    start_time: float,
    time_step: float,
) -> list[np.ndarray]:
    """Timed points (x, y, time) per stroke: one `time_step` apart, pen-up pauses between.

    Coordinates get the writer's jitter and are rounded to whole units, as the tablet reports.
    """
    timed = []
    now = start_time
    previous_end: np.ndarray | None = None
    for stroke in strokes:
        points = resample(stroke, style.point_spacing)
        if previous_end is not None:
            travel = float(np.linalg.norm(points[0] - previous_end)) / style.point_spacing
            now += (travel + 1.0) * time_step + style.pause * rng.uniform(0.5, 1.5)
        noisy = np.rint(points + rng.normal(0.0, style.jitter, points.shape))
        times = now + time_step * np.arange(len(points))
        timed.append(np.column_stack([noisy, times]))
        now = float(times[-1])
        previous_end = points[-1]
    return timed


# --- the corpus files ---------------------------------------------------------------------------


def text_lines(min_characters: int, max_characters: int) -> list[str]:
    """The bundled proverbs cut at word boundaries into lines of the allowed lengths."""
    lines = []
    for proverb in proverbs():
        current = ""
        for word in proverb.split():
            candidate = f"{current} {word}" if current else word
            if len(candidate) > max_characters and current:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
    return [line for line in lines if min_characters <= len(line) <= max_characters]


def stroke_xml(strokes: Sequence[np.ndarray]) -> bytes:
    """A lineStrokes file: whiteboard description, then the strokes of one text line."""
    root = ElementTree.Element("WhiteboardCaptureSession")
    description = ElementTree.SubElement(root, "WhiteboardDescription")
    ElementTree.SubElement(description, "SensorLocation", corner="top_left")
    ElementTree.SubElement(description, "DiagonallyOppositeCoords", x="6512", y="1376")
    ElementTree.SubElement(description, "VerticallyOppositeCoords", x="966", y="1376")
    ElementTree.SubElement(description, "HorizontallyOppositeCoords", x="6512", y="787")
    stroke_set = ElementTree.SubElement(root, "StrokeSet")
    for stroke in strokes:
        element = ElementTree.SubElement(
            stroke_set,
            "Stroke",
            colour="black",
            start_time=f"{stroke[0, 2]:.3f}",
            end_time=f"{stroke[-1, 2]:.3f}",
        )
        for x, y, t in stroke:
            ElementTree.SubElement(element, "Point", x=str(int(x)), y=str(int(y)), time=f"{t:.3f}")
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="ISO-8859-1", xml_declaration=True)


def transcription_text(form_id: str, writer_id: int, lines: Sequence[str]) -> str:
    """An ascii file as the distribution has it: header, OCR section, then the CSR section."""
    body = "\n".join(lines)
    return (
        f"Writer ID: {writer_id}\n"
        f"Form: {form_id} ({STAND_IN}, generated)\n"
        f"\nOCR:\n\n{body}\n\nCSR:\n\n{body}\n"
    )


def form_id_of(writer_index: int, form_number: int) -> str:
    """`s00-000w`-style ids: a letter and two digits per writer, the form number, a suffix."""
    prefix = chr(ord("s") + writer_index // 100) if writer_index < 700 else None
    if prefix is None:
        raise ValueError("the stand-in supports at most 700 writers")
    return f"{prefix}{writer_index % 100:02d}-{form_number:03d}w"


@dataclass(frozen=True)
class SyntheticSettings:
    """Everything the stand-in depends on (written into its marker file)."""

    seed: int
    train_writers: int
    valid_writers: int
    test_writers: int
    lines_per_writer: int
    time_step: float
    point_spacing: float
    min_characters: int
    max_characters: int
    fonts: tuple[str, ...]


def _writer_split_lists(settings: SyntheticSettings) -> list[tuple[str, str]]:
    """(split, task1 list) of each writer in order: validation alternates testset_v/_t."""
    assignment = [("train", "trainset.txt")] * settings.train_writers
    assignment += [
        ("valid", "testset_v.txt" if i % 2 == 0 else "testset_t.txt")
        for i in range(settings.valid_writers)
    ]
    assignment += [("test", "testset_f.txt")] * settings.test_writers
    return assignment


def _write_corpus(root: Path, settings: SyntheticSettings, font_directory: Path) -> dict[str, Any]:
    fonts = {name: load_font(name, font_directory) for name in settings.fonts}
    pool = text_lines(settings.min_characters, settings.max_characters)
    if not pool:
        raise ValueError("no text line fits between min_characters and max_characters")
    lists: dict[str, list[str]] = {
        "trainset.txt": [],
        "testset_v.txt": [],
        "testset_t.txt": [],
        "testset_f.txt": [],
    }
    writers: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    points = []
    for writer_index, (split, list_name) in enumerate(_writer_split_lists(settings)):
        rng = np.random.default_rng([settings.seed, writer_index])
        style = draw_writer_style(rng, settings.fonts, settings.point_spacing)
        writer_id = 90000 + writer_index
        writers[split].append(writer_id)
        chosen = rng.choice(
            len(pool), settings.lines_per_writer, replace=settings.lines_per_writer > len(pool)
        )
        texts = [pool[i] for i in chosen]
        clock = float(rng.uniform(1.0e7, 2.0e7))  # the tablet's clock, seconds
        for form_number, first in enumerate(range(0, len(texts), LINES_PER_FORM)):
            form_id = form_id_of(writer_index, form_number)
            lists[list_name].append(form_id)
            form_lines = texts[first : first + LINES_PER_FORM]
            folder = form_id.split("-")[0] + "/" + form_id[:7]
            ascii_file = root / "ascii" / folder / f"{form_id}.txt"
            ascii_file.parent.mkdir(parents=True, exist_ok=True)
            ascii_file.write_text(transcription_text(form_id, writer_id, form_lines))
            for line_number, text in enumerate(form_lines, start=1):
                origin = (
                    float(rng.uniform(400, 900)),
                    500.0 + 1.8 * style.cap_height * line_number,
                )
                shapes = to_whiteboard(set_text(text, fonts[style.font], style), style, origin)
                trace = pen_trace(
                    shapes, style, rng, start_time=clock, time_step=settings.time_step
                )
                clock = float(trace[-1][-1, 2]) + float(rng.uniform(1.0, 3.0))
                points.append(sum(len(stroke) for stroke in trace))
                stroke_file = root / "lineStrokes" / folder / f"{form_id}-{line_number:02d}.xml"
                stroke_file.parent.mkdir(parents=True, exist_ok=True)
                stroke_file.write_bytes(stroke_xml(trace))
    task1 = root / "task1"
    task1.mkdir()
    for list_name, forms in lists.items():
        (task1 / list_name).write_text("".join(f"{form}\n" for form in forms))
    return {
        "writers": writers,
        "lines": {split: len(ids) * settings.lines_per_writer for split, ids in writers.items()},
        "points_per_line": {
            "mean": float(np.mean(points)),
            "min": int(np.min(points)),
            "max": int(np.max(points)),
        },
    }


def generate_synthetic_iamondb(
    out_dir: str | os.PathLike[str],
    *,
    seed: int,
    train_writers: int,
    valid_writers: int,
    test_writers: int,
    lines_per_writer: int,
    time_step: float = 0.01,
    point_spacing: float = 20.0,
    min_characters: int = 10,
    max_characters: int = 30,
    fonts: Sequence[str] = DEFAULT_FONTS,
    font_directory: str | os.PathLike[str] = HERSHEY_DIRECTORY,
) -> Path:
    """Write the stand-in corpus to `out_dir` (replacing it whole) and return its path.

    `time_step` is the seconds between pen points, `point_spacing` the mean whiteboard units
    between them (each writer's pen is 0.8..1.25 times that); together they set how many points
    a line has. A missing Hershey font raises MissingFontError saying what to install.
    """
    for name, value in (
        ("train_writers", train_writers),
        ("valid_writers", valid_writers),
        ("test_writers", test_writers),
        ("lines_per_writer", lines_per_writer),
    ):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if time_step <= 0 or point_spacing <= 0:
        raise ValueError("time_step and point_spacing must be positive")
    settings = SyntheticSettings(
        seed=int(seed),
        train_writers=int(train_writers),
        valid_writers=int(valid_writers),
        test_writers=int(test_writers),
        lines_per_writer=int(lines_per_writer),
        time_step=float(time_step),
        point_spacing=float(point_spacing),
        min_characters=int(min_characters),
        max_characters=int(max_characters),
        fonts=tuple(fonts),
    )
    for name in settings.fonts:  # fail before writing anything
        load_font(name, font_directory)
    target = Path(out_dir)
    with atomic_directory(target) as building:
        summary = _write_corpus(building, settings, Path(font_directory))
        marker = {
            "source": STAND_IN,
            "generator": __name__,
            "settings": asdict(settings),
            "text": "traditional English proverbs (public domain), " + PROVERBS_RESOURCE,
            "fonts": "Hershey vector fonts, Debian package hershey-fonts-data",
            **summary,
        }
        (building / STAND_IN_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return target
