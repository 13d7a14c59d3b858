"""envs/lstm-odyssey.yaml (`snakemake --use-conda`) holds everything the jobs import.

A conda user's job fails on the cluster, hours in, at the first import the environment lacks;
this test fails here instead. It reads every import of the library and the job scripts (module
level and inside functions), maps each third-party module to its distribution through the
installed packages (`importlib.metadata.packages_distributions`: `sklearn` is scikit-learn,
`yaml` is PyYAML) and asks the environment file for it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
ENVIRONMENT = REPO / "envs" / "lstm-odyssey.yaml"
SOURCES = [REPO / "src" / "lstm_odyssey", REPO / "workflow" / "scripts"]


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return normalised(re.split(r"[=<>!~\[ ;]", requirement.strip(), maxsplit=1)[0])


def environment() -> tuple[dict[str, str], dict[str, str]]:
    """(conda packages, pip packages): normalised name -> the requirement as written."""
    conda, pip = {}, {}
    for entry in yaml.safe_load(ENVIRONMENT.read_text())["dependencies"]:
        if isinstance(entry, dict):
            pip |= {requirement_name(r): r for r in entry["pip"] if not r.startswith("-")}
        else:
            conda[requirement_name(entry)] = entry
    return conda, pip


def imported_modules() -> dict[str, set[str]]:
    """Top-level module name -> the files importing it, for every absolute import."""
    modules: dict[str, set[str]] = {}
    for source in SOURCES:
        for path in source.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    modules.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return modules


def third_party_modules() -> dict[str, set[str]]:
    return {
        module: files
        for module, files in imported_modules().items()
        if module not in sys.stdlib_module_names and module not in ("lstm_odyssey", "__future__")
    }


def test_the_scan_finds_imports_at_module_level_and_inside_functions():
    modules = third_party_modules()
    assert "src/lstm_odyssey/training/objectives.py" in modules["rapidfuzz"]  # module level
    assert "src/lstm_odyssey/recovery.py" in modules["h5py"]  # inside a function
    assert "workflow/scripts/concatenate_tables.py" in modules["pandas"]  # a job script


def test_every_third_party_import_is_in_the_conda_environment():
    conda, pip = environment()
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for module, files in sorted(third_party_modules().items()):
        names = {normalised(d) for d in distributions.get(module, [])}
        if not names:
            problems.append(f"{module} (imported by {sorted(files)[0]}) is not installed here")
        elif not names & (set(conda) | set(pip)):
            problems.append(f"{module}: add {' or '.join(sorted(names))} (for {sorted(files)[0]})")
    assert not problems, f"{ENVIRONMENT.relative_to(REPO)} lacks:\n  " + "\n  ".join(problems)


def test_the_environment_builds_the_kernel_and_pins_like_the_project():
    conda, pip = environment()
    assert {"cxx-compiler", "ninja"} <= set(conda)  # torch.utils.cpp_extension on the job's node
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (torch,) = [r for r in project if requirement_name(r) == "torch"]
    assert pip["torch"] == torch
    python = conda["python"].split("=")[1]
    assert (
        tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
        == f">={python}"
    )
    locked = {
        requirement_name(line): line.split("==")[1].strip()
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for name, requirement in pip.items():
        if "==" in requirement:
            assert requirement.split("==")[1] == locked[name], (requirement, locked[name])
