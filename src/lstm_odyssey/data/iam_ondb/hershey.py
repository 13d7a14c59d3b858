"""Hershey vector fonts (Debian's `hershey-fonts-data`), read from their `.jhf` files.

A `.jhf` file holds one glyph per record: a 5-character number, a 3-character count of the
coordinate pairs that follow, then the pairs, each two characters whose code minus `ord("R")` is
the coordinate. The first pair is the glyph's left and right extent; the pair " R" lifts the pen.
A long record may continue on the next physical line. In the 96-glyph fonts the records are
ASCII 32 (space) to 127 in order. Hershey's y axis points down; the baseline of the script fonts
lies at y = 9 and capitals reach y = -12.

The stand-in handwriting corpus writes its text lines with these fonts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

HERSHEY_DIRECTORY = Path("/usr/share/hershey-fonts")
INSTALL_HINT = "install the Hershey fonts: apt-get install hershey-fonts-data"
FIRST_CHARACTER = 32  # the 96-glyph fonts start at the space
BASELINE = 9.0
CAP_HEIGHT = 21.0  # baseline (9) to the top of the capitals (-12)


class MissingFontError(FileNotFoundError):
    """A Hershey font file is not installed."""


@dataclass(frozen=True)
class Glyph:
    """One character: its pen-down polylines (each (points, 2), y down) and its advance."""

    left: float
    right: float
    strokes: tuple[np.ndarray, ...]

    @property
    def advance(self) -> float:
        return self.right - self.left


Font = dict[str, Glyph]


def font_path(name: str, directory: str | os.PathLike[str] = HERSHEY_DIRECTORY) -> Path:
    """The file of font `name` (e.g. `cursive`); MissingFontError says how to install it."""
    path = Path(directory) / f"{name}.jhf"
    if not path.is_file():
        raise MissingFontError(f"{path}: Hershey font {name!r} not found; {INSTALL_HINT}")
    return path


def parse_jhf(text: str) -> list[Glyph]:
    """Every glyph of a `.jhf` file's text, in file order."""
    glyphs = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            continue
        pair_count = int(line[5:8])
        body = line[8:]
        while len(body) < 2 * pair_count and index < len(lines):
            body += lines[index]  # the record continues on the next line
            index += 1
        glyphs.append(_glyph(body[: 2 * pair_count]))
    return glyphs


def _glyph(body: str) -> Glyph:
    left, right = ord(body[0]) - ord("R"), ord(body[1]) - ord("R")
    strokes: list[np.ndarray] = []
    current: list[tuple[float, float]] = []
    for position in range(2, len(body), 2):
        pair = body[position : position + 2]
        if pair == " R":
            if current:
                strokes.append(np.asarray(current, dtype=np.float64))
            current = []
            continue
        current.append((ord(pair[0]) - ord("R"), ord(pair[1]) - ord("R")))
    if current:
        strokes.append(np.asarray(current, dtype=np.float64))
    return Glyph(float(left), float(right), tuple(strokes))


@cache
def load_font(name: str, directory: str | os.PathLike[str] = HERSHEY_DIRECTORY) -> Font:
    """Character -> glyph for a 96-glyph Hershey font (ASCII 32..127)."""
    path = font_path(name, directory)
    glyphs = parse_jhf(path.read_text(encoding="ascii"))
    if len(glyphs) < 95:
        raise ValueError(f"{path}: {len(glyphs)} glyphs; expected the 96 of ASCII 32..127")
    return {chr(FIRST_CHARACTER + i): glyph for i, glyph in enumerate(glyphs)}
