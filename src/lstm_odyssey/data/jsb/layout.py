"""What a configured JSB source must look like, checked before any job runs (no reading)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lstm_odyssey.data.corpus_problems import CorpusProblem, WhatElse, configured_path

FIX = (
    "put the Boulanger-Lewandowski pickle (or its JSON) at `path:`, or set `url:` with its "
    "`sha256:` to download it, or use `source: music21` (offline, bundled with music21)"
)


def corpus_problems(task: str, data: Mapping[str, Any], what_else: WhatElse) -> list[CorpusProblem]:
    """music21 needs nothing; the Boulanger file is a local file or a checked download."""
    if data["source"] != "boulanger":
        return []
    if data.get("url"):
        problems = []
        if not data.get("sha256"):
            problem = f"a download from {data['url']} needs its sha256"
            problems.append(CorpusProblem(task, "sha256", problem, FIX))
        if not (data.get("path") or data.get("cache_dir")):
            problem = "a download needs `path:` or `cache_dir:`"
            problems.append(CorpusProblem(task, "path", problem, FIX))
        return problems
    path, problems = configured_path(task, data, FIX)
    if path is None:
        return problems
    if path.is_dir():
        problem = f"{path} is a folder ({what_else(path)}); expected one file"
        return [CorpusProblem(task, "path", problem, FIX)]
    with path.open("rb") as handle:
        start = handle.read(64).lstrip()[:1]
    if start not in (b"{", b"\x80", b"(", b"}", b"]"):  # JSON, or a pickle's first opcode
        return [CorpusProblem(task, "path", f"{path} is neither a pickle nor JSON", FIX)]
    return []
