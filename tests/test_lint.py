"""`make lint`'s Python checks, so CI holds the code to them too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PATHS = ["src", "tests", "benchmarks", "workflow/scripts"]


def _ruff(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *arguments, *PATHS],
        cwd=REPO,
        capture_output=True,
        text=True,
    )


def test_ruff_check_is_clean():
    result = _ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_every_file_as_it_is():
    result = _ruff("format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_imports_keep_the_layers_and_the_corpus_packages_apart():
    """The import-linter contracts in pyproject.toml (ARCHITECTURE.md's layers)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
