"""Helpers shared by the tests: running the workflow, small corpora and studies, tiny data.

Test files import these from here, never from one another.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from lstm_odyssey.data.store import PreparedData, SplitData, write_prepared
from lstm_odyssey.trial_spec import TrialAddress

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


def boulanger_corpus(seed: int = 0) -> dict:
    """A small JSB corpus in the Boulanger-Lewandowski JSON layout: chorales of pitch sets."""
    rng = np.random.default_rng(seed)

    def chorale():
        return [sorted({int(p) for p in rng.integers(48, 80, size=3)}) for _ in range(12)]

    return {
        split: [chorale() for _ in range(n)]
        for split, n in (("train", 8), ("valid", 4), ("test", 4))
    }


def small_jsb_study(corpus: Path, trials: int = 2) -> dict:
    return {
        "study_seed": 11,
        "variants": ["V", "NP"],
        "implementation": "reference",
        "tasks": {
            "jsb": {
                "data": {"source": "boulanger", "path": str(corpus)},
                "training": {"trials": trials, "max_epochs": 2, "patience": 2},
                "search": {
                    "hidden_size": {"distribution": "log_uniform_int", "low": 4, "high": 8},
                    "learning_rate": {"distribution": "log_uniform", "low": 1e-3, "high": 1e-2},
                    "momentum": {"distribution": "one_minus_log_uniform", "low": 0.0, "high": 0.9},
                    "input_noise": {"distribution": "uniform", "low": 0.0, "high": 0.3},
                },
            }
        },
        "analysis": {"baseline": "V", "best_fraction": 1.0, "fanova": {"trees": 4, "grid_size": 5}},
    }


def write_study_config(directory: Path, config: dict) -> None:
    (directory / "config").mkdir(exist_ok=True)
    (directory / "config" / "config.yaml").write_text(yaml.safe_dump(config))


def tiny_next_step_data(path, seed=0):
    rng = np.random.default_rng(seed)

    def split(n):
        rolls = [
            (rng.random((int(rng.integers(5, 9)), 6)) > 0.6).astype(np.float32) for _ in range(n)
        ]
        return SplitData.from_sequences([r[:-1] for r in rolls], [r[1:] for r in rolls])

    prepared = PreparedData(
        {"train": split(6), "valid": split(3), "test": split(3)},
        {
            "task_kind": "next_step",
            "source": "synthetic",
            "input_size": 6,
            "n_classes": 6,
            "normalisation": "none",
        },
    )
    write_prepared(path, prepared)
    return path


HYPERPARAMETERS = {"hidden_size": 5, "learning_rate": 1e-2, "momentum": 0.9, "input_noise": 0.1}
ADDRESS = TrialAddress("jsb", "V", 0, 1, 1234)


def outputs_and_gradients(run, layer, x, seed: int = 7) -> dict:
    """y = run(layer, x), dL/dx and dL/d(every parameter) for a fixed random L = sum(y * weights):
    what the fused kernels' tests compare against the reference, gradient by gradient."""
    import torch

    layer.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    y = run(layer, x)
    weights = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype)
    (y * weights).sum().backward()
    result = {"y": y.detach(), "x.grad": x.grad}
    result.update({f"{name}.grad": p.grad for name, p in layer.named_parameters()})
    return result


def layer_outputs_and_gradients(layer, x, lengths, implementation: str) -> dict:
    """`outputs_and_gradients` of a layer's forward pass (with `lengths`) by `implementation`."""
    layer.implementation = implementation
    return outputs_and_gradients(lambda module, inputs: module(inputs, lengths), layer, x)


def relative_error(actual, expected) -> float:
    """Largest absolute difference over the largest magnitude of `expected`."""
    return ((actual - expected).abs().max() / expected.abs().max().clamp_min(1e-30)).item()
