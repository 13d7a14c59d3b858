"""Running the repository's workflow from a test: real `snakemake` in a working directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def run_snakemake(
    directory: Path, *arguments: str, cores: int = 2, timeout: int = 900
) -> subprocess.CompletedProcess:
    """`snakemake --cores N ARGUMENTS` in `directory`, output captured."""
    return subprocess.run(
        [*SNAKEMAKE, "--cores", str(cores), *arguments],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def planned_jobs(directory: Path, *arguments: str) -> dict[str, int]:
    """Rule -> job count of a dry run (the summary table Snakemake prints)."""
    result = run_snakemake(directory, "--dry-run", "--quiet", "rules", *arguments)
    assert result.returncode == 0, result.stdout + result.stderr
    counts = {}
    for line in (result.stdout + result.stderr).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
            counts[parts[0]] = int(parts[1])
    return counts
