"""The one error a corpus reader raises for bad input, always naming the file at fault.

Corpus problems (a missing file, a wrong checksum, a malformed field) must be fixable from the
message alone, so the message starts with the file (or URL) and then says what is wrong.
"""

from __future__ import annotations

import os


class CorpusError(Exception):
    """Bad or missing corpus input; `source` is the file or URL, `problem` what is wrong with it."""

    def __init__(self, source: str | os.PathLike[str], problem: str) -> None:
        self.source = os.fspath(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")

    def __reduce__(self) -> tuple[type[CorpusError], tuple[str, str]]:
        # Keep the two-argument constructor working across pickling (e.g. worker processes).
        return (type(self), (self.source, self.problem))
