"""Where and with what a result was computed: host, versions, the project's commit, the job.

Every trial record carries this, so a number in a table can be traced to the code and machine
that produced it.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any


def _git_output(*arguments: str) -> str | None:
    """stdout of a git command run in the package's checkout; None outside one."""
    try:
        result = subprocess.run(
            ["git", *arguments],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def git_commit() -> str | None:
    """The project's commit, from $LSTM_ODYSSEY_GIT_COMMIT or `git rev-parse` (None if unknown)."""
    if os.environ.get("LSTM_ODYSSEY_GIT_COMMIT"):
        return os.environ["LSTM_ODYSSEY_GIT_COMMIT"]
    return _git_output("rev-parse", "HEAD") or None


def git_dirty() -> bool | None:
    """Whether the project's checkout has uncommitted changes (None if unknown)."""
    status = _git_output("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def version_of(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's model name: timings differ 5-20x between machines, so every benchmark says it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def runtime_provenance() -> dict[str, Any]:
    """Host, scheduler job, code version and library versions of this process."""
    import numpy
    import torch

    return {
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        # The SLURM job this ran in (None outside SLURM): links a result to its job's logs.
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "configspace": version_of("ConfigSpace"),
    }
