"""The study's tasks, each declared once: its kind, its config section, its corpus and stand-in.

Everything that depends on which task it is asks here: the config check (which sections a study
may have), the corpus checks before any job runs, the stand-in and preparation rules, and the
preparation itself. A task's corpus package (`data/jsb`, `data/timit`, `data/iam_ondb`,
`data/sequences`) states its facts in its `__init__` and checks a configured path in its `layout`
module (both light); the heavy functions (preparation, stand-in generation) are named here as
`module:function` and imported only when called, so the Snakefile's parse reads this module
without reading a corpus reader. Adding a task is one corpus package plus one entry in `TASKS`
(and its config section in the schema); see docs/architecture.md. A task's kind is usually its
corpus's; `sequences` (your own files) takes it from its `data:` section, so ask
`task_kind(name, data)`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstm_odyssey.data import iam_ondb, jsb, sequences, timit
from lstm_odyssey.data.corpus_problems import (
    CorpusProblem,
    WhatElse,
    describe_entries,
    raise_if_any,
)
from lstm_odyssey.data.iam_ondb import layout as iam_ondb_layout
from lstm_odyssey.data.jsb import layout as jsb_layout
from lstm_odyssey.data.sequences import layout as sequences_layout
from lstm_odyssey.data.timit import layout as timit_layout
from lstm_odyssey.tasks import TaskKind

if TYPE_CHECKING:
    from lstm_odyssey.data.store import PreparedData


@dataclass(frozen=True)
class Task:
    """One task: what it is, where its corpus comes from and how it is prepared."""

    name: str  # the config's `tasks:` key
    kind: TaskKind | None  # None: the config's `data:` section chooses it (`kind_of`)
    schema_definition: str  # the config schema's `$defs` entry for the task's section
    # "module:function" (data section, corpus folder or None, out_path, workers) -> PreparedData
    prepare: str
    corpus_problems: Callable[[str, Mapping[str, Any], WhatElse], list[CorpusProblem]]
    # Says "it holds <corpus>" for a folder of this corpus (a path at the wrong task is named).
    recognise: Callable[[Path], str | None] | None = None
    stand_in: str | None = None  # the generated stand-in's name, for `source: synthetic`
    generate_stand_in: str | None = None  # "module:function" (out_directory, **options)
    # "module:function" () -> what preparation does, as data (a change reruns the preparation)
    recipe: str | None = None
    # The kind a `data:` section chooses, for a task whose kind is the config's (`kind` None).
    kind_of: Callable[[Mapping[str, Any]], TaskKind] | None = None

    def __post_init__(self) -> None:
        if (self.kind is None) == (self.kind_of is None):
            raise ValueError(f"task {self.name!r}: give exactly one of `kind` and `kind_of`")

    def kind_in(self, data: Mapping[str, Any]) -> TaskKind:
        """The task's kind: its own, or the one its (validated) `data:` section chooses."""
        if self.kind is not None:
            return self.kind
        assert self.kind_of is not None
        return self.kind_of(data)


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "jsb",
            jsb.KIND,
            "jsb_task",
            prepare="lstm_odyssey.data.jsb.chorales:prepare_task_data",
            corpus_problems=jsb_layout.corpus_problems,
        ),
        Task(
            "timit",
            timit.KIND,
            "timit_task",
            prepare="lstm_odyssey.data.timit.corpus:prepare_task_data",
            corpus_problems=timit_layout.corpus_problems,
            recognise=timit_layout.recognise,
            stand_in=timit.STAND_IN,
            generate_stand_in="lstm_odyssey.data.timit.stand_in:generate_synthetic_timit",
            recipe="lstm_odyssey.data.timit.features:preparation_recipe",
        ),
        Task(
            "iam_ondb",
            iam_ondb.KIND,
            "iam_ondb_task",
            prepare="lstm_odyssey.data.iam_ondb.prepare:prepare_task_data",
            corpus_problems=iam_ondb_layout.corpus_problems,
            recognise=iam_ondb_layout.recognise,
            stand_in=iam_ondb.STAND_IN,
            generate_stand_in="lstm_odyssey.data.iam_ondb.stand_in:generate_synthetic_iamondb",
            recipe="lstm_odyssey.data.iam_ondb.recipe:preparation_recipe",
        ),
        Task(
            "sequences",
            None,
            "sequences_task",
            prepare="lstm_odyssey.data.sequences.prepare:prepare_task_data",
            corpus_problems=sequences_layout.corpus_problems,
            recognise=sequences_layout.recognise,
            recipe="lstm_odyssey.data.sequences:preparation_recipe",
            kind_of=sequences.kind_of,
        ),
    )
}


def task(name: str) -> Task:
    """The task called `name` (a config's `tasks:` key)."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known: {sorted(TASKS)}") from None


def task_kind(name: str, data: Mapping[str, Any]) -> TaskKind:
    """The kind of the task called `name`, whose (validated) `data:` section is `data`."""
    return task(name).kind_in(data)


def _resolve(reference: str) -> Callable[..., Any]:
    module, function = reference.split(":")
    return getattr(importlib.import_module(module), function)


def uses_stand_in(name: str, data: Mapping[str, Any]) -> bool:
    """Whether the task reads its generated stand-in (`source: synthetic`)."""
    return task(name).stand_in is not None and data.get("source") == "synthetic"


def stand_in_task(stand_in: str) -> str:
    """The task whose generated stand-in is called `stand_in`."""
    for entry in TASKS.values():
        if entry.stand_in == stand_in:
            return entry.name
    raise ValueError(f"no task has a stand-in called {stand_in!r}")


def corpus_location(
    name: str, data: Mapping[str, Any], stand_in: str | os.PathLike[str] | None = None
) -> Path | None:
    """The corpus a task reads: its generated stand-in (at `stand_in`, where the study keeps
    it: `StudyPaths.corpus`), or the configured `path` (if any)."""
    if uses_stand_in(name, data):
        if stand_in is None:
            raise ValueError(f"task {name!r} reads a generated stand-in: say where it is")
        return Path(stand_in)
    return Path(data["path"]) if data.get("path") else None


def generate_stand_in(
    name: str, options: Mapping[str, Any], out_directory: str | os.PathLike[str]
) -> Path:
    """Generate the task's stand-in corpus in the real corpus's layout and formats."""
    entry = task(name)
    if entry.generate_stand_in is None:
        raise ValueError(f"task {name!r} has no generated stand-in")
    _resolve(entry.generate_stand_in)(out_directory, **options)
    return Path(out_directory)


def prepare_data(
    name: str,
    data: Mapping[str, Any],
    corpus: Path | None,
    out_path: str | os.PathLike[str],
    workers: int,
) -> PreparedData:
    """Run the task's preparer: its corpus to the prepared HDF5 at `out_path`."""
    return _resolve(task(name).prepare)(data, corpus, out_path, workers)


def preparation_recipe(name: str) -> dict[str, Any] | None:
    """What the code does to the task's corpus, as its package states it (None: not stated).

    A Snakemake param of the preparation: a new feature recipe or new preparation rules rerun
    it (Snakemake sees changes to a rule's own script, not to the modules it imports); the
    trials then rerun only where the prepared data's content changed (their key holds it).
    """
    recipe = task(name).recipe
    return None if recipe is None else _resolve(recipe)()


def what_else(folder: Path) -> str:
    """What a folder holds instead of the expected corpus, in words."""
    for entry in TASKS.values():
        said = entry.recognise(folder) if entry.recognise else None
        if said:
            return said
    return describe_entries(folder)


def corpus_problems(config: Mapping[str, Any]) -> list[CorpusProblem]:
    """The problems of every corpus the (validated) study config names, in task order."""
    problems = []
    for name, settings in config["tasks"].items():
        data = settings["data"]
        if not uses_stand_in(name, data):
            problems += task(name).corpus_problems(name, data, what_else)
    return problems


def check_study_corpora(config: Mapping[str, Any], source: str | os.PathLike[str]) -> None:
    """Raise one `StudyCorporaError` listing every corpus problem of the study (if any)."""
    raise_if_any(corpus_problems(config), source)
