"""TIMIT's folder layout as LDC ships it, and the check of a configured TIMIT path (no reading).

`TRAIN|TEST/DR1..DR8/<speaker>/<utterance>.{WAV,PHN,WRD,TXT}`, names in any case, anywhere under
the configured path (`timit/TIMIT/TRAIN/...` on the disc). The reader (`corpus`) walks it with
the same patterns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lstm_odyssey.data.corpus_problems import (
    CorpusProblem,
    WhatElse,
    configured_folder,
    subfolders,
)

SPLIT_FOLDER = re.compile(r"^(train|test)$", re.IGNORECASE)
DIALECT_FOLDER = re.compile(r"^dr[1-8]$", re.IGNORECASE)
SPEAKER_FOLDER = re.compile(r"^[mf][a-z]{3}[0-9]$", re.IGNORECASE)
UTTERANCE_FILE = re.compile(r"^(s[aix]\d+)\.(wav\.wav|wav|phn|wrd|txt)$", re.IGNORECASE)
SEARCH_DEPTH = 3
"""Folders below `path` searched for TRAIN/ and TEST/ (copies nest them, e.g. timit/TIMIT/)."""

FIX = (
    "point `path:` at your TIMIT (LDC93S1), the folder holding TRAIN/ and TEST/, or use "
    "`source: synthetic` (the generated stand-in)"
)


def recognise(folder: Path) -> str | None:
    """'it holds TIMIT' where a TRAIN or TEST folder holds DR1..DR8 within `SEARCH_DEPTH`."""
    level = [folder]
    for _ in range(SEARCH_DEPTH):
        below = []
        for parent in level:
            for child in subfolders(parent):
                if SPLIT_FOLDER.match(child.name) and any(
                    DIALECT_FOLDER.match(grandchild.name) for grandchild in subfolders(child)
                ):
                    return "it holds TIMIT (TRAIN/, TEST/)"
                below.append(child)
        level = below
    return None


def corpus_problems(task: str, data: Mapping[str, Any], what_else: WhatElse) -> list[CorpusProblem]:
    """A folder with TRAIN/ and TEST/ (any case) somewhere below."""
    path, problems = configured_folder(task, data, "TIMIT", FIX)
    if path is None or recognise(path):
        return problems
    what = f"no TRAIN/ or TEST/ folder with DR1..DR8 in it; {what_else(path)}"
    return [CorpusProblem(task, "path", f"{path} is not TIMIT: {what}", FIX)]
