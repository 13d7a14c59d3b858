"""The `sequences` task's file format: one NPZ per split, read and checked field by field.

A folder holds `train.npz`, `valid.npz` and `test.npz`, each written by `numpy.savez` (or
`savez_compressed`) and read with `allow_pickle=False`: plain arrays of numbers (and strings for
`labels`), never object arrays. A split's sequences lie back to back; `lengths` cuts them apart.

    field           shape, dtype                kinds             meaning
    inputs          (frames, features) numbers  all               every sequence's frames in order
    lengths         (sequences,) integers       all               frames per sequence (sum: frames)
    targets         (frames,) integers          framewise         each frame's class, 0..n_classes-1
    targets         (labels,) integers          ctc               every sequence's labels back to
                                                                  back, 1..n_classes-1 (0: blank)
    target_lengths  (sequences,) integers       ctc               labels per sequence (sum: labels)
    n_classes       () integer                  framewise, ctc    classes (ctc: with the blank)
    labels          (n_classes,) strings        optional          a name per class (next_step: per
                                                                  input column; ctc: [0] the blank)

A `next_step` file holds no targets: the target of step t is step t + 1 of the same sequence, so
its inputs are values in 0..1 (a 0/1 roll, as JSB's piano keys) and every sequence has at least
2 steps. A CTC sequence of L labels with R repeats (the same label twice in a row, which needs a
blank between) needs at least L + R frames.

Every check raises `CorpusError(file, "field '<name>' ...")`: the file and the field at fault,
what was found and what was expected.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.sequences import SPLIT_FILES
from lstm_odyssey.tasks import TaskKind

REQUIRED_FIELDS = {
    "next_step": ("inputs", "lengths"),
    "framewise": ("inputs", "lengths", "targets", "n_classes"),
    "ctc": ("inputs", "lengths", "targets", "target_lengths", "n_classes"),
}
OPTIONAL_FIELDS = ("labels",)


@dataclass(frozen=True)
class SplitFile:
    """One split's file, checked: inputs (frames, features), lengths, targets by kind."""

    path: Path
    kind: TaskKind
    inputs: np.ndarray  # (frames, features), as stored (any real dtype)
    lengths: np.ndarray  # (sequences,) int64
    n_classes: int  # next_step: the features
    targets: np.ndarray | None = None  # framewise: (frames,); ctc: (labels,); int64
    target_lengths: np.ndarray | None = None  # ctc: (sequences,) int64
    labels: tuple[str, ...] | None = None

    @property
    def n_features(self) -> int:
        return int(self.inputs.shape[1])

    def input_sequences(self) -> list[np.ndarray]:
        return np.split(self.inputs, np.cumsum(self.lengths)[:-1])

    def target_sequences(self) -> list[np.ndarray]:
        """Each sequence's targets: framewise one class per frame, ctc its labels."""
        assert self.targets is not None
        cuts = self.lengths if self.target_lengths is None else self.target_lengths
        return np.split(self.targets, np.cumsum(cuts)[:-1])


def split_path(folder: str | os.PathLike[str], split: str) -> Path:
    return Path(folder) / SPLIT_FILES[split]


def read_splits(folder: str | os.PathLike[str], kind: TaskKind) -> dict[str, SplitFile]:
    """The three split files of `folder`, each checked, and checked against each other."""
    splits = {split: read_split(split_path(folder, split), kind) for split in SPLIT_FILES}
    check_consistent(splits)
    return splits


def read_split(path: str | os.PathLike[str], kind: TaskKind) -> SplitFile:
    """One split's file, every field checked for the task kind `kind`."""
    path = Path(path)
    fields = load_fields(path)
    _check_field_names(path, fields, kind)
    inputs = _inputs(path, fields["inputs"], kind)
    lengths = _lengths(path, fields, "lengths", len(inputs), "frames", "inputs")
    if kind.name == "next_step":
        short = np.flatnonzero(lengths < 2)
        if len(short):
            raise _field_error(
                path,
                "lengths",
                f"gives sequence {short[0]} {lengths[short[0]]} step(s); next-step prediction "
                "needs at least 2 (the target of step t is step t + 1)",
            )
        n_classes = inputs.shape[1]
        labels = _labels(path, fields, n_classes, "input columns (field 'inputs')")
        return SplitFile(path, kind, inputs, lengths, n_classes, labels=labels)
    n_classes = _n_classes(path, fields["n_classes"], kind)
    labels = _labels(path, fields, n_classes, "classes (field 'n_classes')")
    targets = _integers(path, "targets", fields["targets"], ndim=1)
    if kind.name == "framewise":
        if len(targets) != len(inputs):
            raise _field_error(
                path,
                "targets",
                f"has {len(targets)} entries for {len(inputs)} input frames (field 'inputs'); "
                "a framewise task needs one class per frame",
            )
        _check_range(path, "targets", targets, 0, n_classes, "frame")
        return SplitFile(path, kind, inputs, lengths, n_classes, targets, labels=labels)
    target_lengths = _lengths(path, fields, "target_lengths", len(targets), "labels", "targets")
    if len(target_lengths) != len(lengths):
        raise _field_error(
            path,
            "target_lengths",
            f"has {len(target_lengths)} entries for {len(lengths)} sequences (field 'lengths')",
        )
    _check_range(path, "targets", targets, 1, n_classes, "label", blank=True)
    _check_ctc_feasible(path, lengths, targets, target_lengths)
    return SplitFile(path, kind, inputs, lengths, n_classes, targets, target_lengths, labels)


def check_consistent(splits: Mapping[str, SplitFile]) -> None:
    """The splits agree on the input columns, the classes and their names (train is the norm)."""
    train = splits["train"]
    for other in splits.values():
        if other is train:
            continue
        if other.n_features != train.n_features:
            raise _field_error(
                other.path,
                "inputs",
                f"has {other.n_features} columns, {train.path.name} has {train.n_features}; "
                "every split needs the same input features",
            )
        if other.kind.name != "next_step" and other.n_classes != train.n_classes:
            raise _field_error(
                other.path,
                "n_classes",
                f"is {other.n_classes}, {train.path.name} says {train.n_classes}; "
                "every split needs the same classes",
            )
        if other.labels != train.labels:
            raise _field_error(
                other.path,
                "labels",
                f"is {_shown(other.labels)}, {train.path.name} has {_shown(train.labels)}; "
                "every split needs the same names (or none)",
            )


# --- loading ----------------------------------------------------------------------------------


def load_fields(path: Path) -> dict[str, np.ndarray]:
    """Every array of an NPZ file by name (no pickles: object arrays are refused)."""
    if not path.is_file():
        raise CorpusError(
            path,
            "split file does not exist; a sequences folder holds "
            + ", ".join(SPLIT_FILES.values()),
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise CorpusError(
            path, f"not an NPZ file (numpy.savez writes one): {type(error).__name__}: {error}"
        ) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise CorpusError(
            path, "holds one bare array (.npy), not named fields; write it with numpy.savez"
        )
    fields = {}
    with archive:
        for name in archive.files:
            try:
                fields[name] = archive[name]
            except ValueError as error:
                raise _field_error(
                    path,
                    name,
                    "is an object array (pickled Python objects, refused); store plain numbers: "
                    "every sequence back to back, with their lengths in 'lengths'",
                ) from error
            except (OSError, EOFError, zipfile.BadZipFile) as error:
                raise _field_error(path, name, f"cannot be read ({error})") from error
    return fields


def _check_field_names(path: Path, fields: Mapping[str, np.ndarray], kind: TaskKind) -> None:
    required = REQUIRED_FIELDS[kind.name]
    holds = f"a {kind.name} file holds {', '.join(required)} and optionally labels"
    missing = [name for name in required if name not in fields]
    if missing:
        raise _field_error(path, missing[0], f"is missing ({holds})")
    unexpected = sorted(set(fields) - set(required) - set(OPTIONAL_FIELDS))
    if unexpected:
        hint = ""
        if kind.name == "next_step" and "targets" in unexpected:
            hint = "; next-step targets are not stored: the target of step t is step t + 1"
        raise _field_error(path, unexpected[0], f"is not a field of this format ({holds}{hint})")


# --- the fields -------------------------------------------------------------------------------


def _field_error(path: Path, name: str, problem: str) -> CorpusError:
    return CorpusError(path, f"field {name!r} {problem}")


def _inputs(path: Path, inputs: np.ndarray, kind: TaskKind) -> np.ndarray:
    if inputs.dtype.kind not in "biuf":
        raise _field_error(path, "inputs", f"has dtype {inputs.dtype}, expected numbers (float)")
    if inputs.ndim != 2:
        hint = " (one feature per frame is shape (frames, 1))" if inputs.ndim == 1 else ""
        raise _field_error(
            path, "inputs", f"has shape {inputs.shape}, expected (frames, features){hint}"
        )
    if inputs.shape[1] == 0:
        raise _field_error(path, "inputs", f"has shape {inputs.shape}: no input feature")
    finite = np.isfinite(inputs)
    if not finite.all():
        frame, column = np.argwhere(~finite)[0]
        raise _field_error(
            path,
            "inputs",
            f"holds {inputs[frame, column]} at frame {frame}, column {column}; "
            "inputs must be finite (no NaN or infinity)",
        )
    if kind.name == "next_step":
        outside = (inputs < 0) | (inputs > 1)
        if outside.any():
            frame, column = np.argwhere(outside)[0]
            raise _field_error(
                path,
                "inputs",
                f"holds {inputs[frame, column]} at frame {frame}, column {column}; next_step "
                "inputs are also the targets of the step before, so each lies in 0..1 "
                "(a 0/1 roll, or probabilities)",
            )
    return inputs


def _integers(path: Path, name: str, array: np.ndarray, *, ndim: int) -> np.ndarray:
    if array.dtype.kind not in "iu":
        raise _field_error(path, name, f"has dtype {array.dtype}, expected integers")
    if array.ndim != ndim:
        expected = "a single number, shape ()" if ndim == 0 else "one dimension, shape (n,)"
        raise _field_error(path, name, f"has shape {array.shape}, expected {expected}")
    return array.astype(np.int64)


def _lengths(
    path: Path,
    fields: Mapping[str, np.ndarray],
    name: str,
    total: int,
    what: str,
    of_field: str,
) -> np.ndarray:
    """Lengths of the sequences' `what` (frames, labels), which must sum to `total`."""
    lengths = _integers(path, name, fields[name], ndim=1)
    if len(lengths) == 0:
        raise _field_error(path, name, "is empty: the split holds no sequence (it needs one)")
    negative = np.flatnonzero(lengths < (0 if what == "labels" else 1))
    if len(negative):
        raise _field_error(
            path,
            name,
            f"gives sequence {negative[0]} {lengths[negative[0]]} {what}; "
            f"expected {'0 or more' if what == 'labels' else 'at least 1'}",
        )
    if lengths.sum() != total:
        raise _field_error(
            path,
            name,
            f"sums to {lengths.sum()} {what}, but field {of_field!r} has {total}",
        )
    return lengths


def _n_classes(path: Path, array: np.ndarray, kind: TaskKind) -> int:
    n_classes = int(_integers(path, "n_classes", array, ndim=0))
    if n_classes < 2:
        needs = "the blank (0) and at least one label" if kind.name == "ctc" else "2 classes"
        raise _field_error(path, "n_classes", f"is {n_classes}; a {kind.name} task needs {needs}")
    return n_classes


def _labels(
    path: Path, fields: Mapping[str, np.ndarray], count: int, of_what: str
) -> tuple[str, ...] | None:
    if "labels" not in fields:
        return None
    labels = fields["labels"]
    if labels.dtype.kind not in "US" or labels.ndim != 1:
        raise _field_error(
            path, "labels", f"is {labels.dtype} {labels.shape}, expected strings, shape (n,)"
        )
    if len(labels) != count:
        raise _field_error(path, "labels", f"names {len(labels)}, for {count} {of_what}")
    return tuple(label.decode() if isinstance(label, bytes) else str(label) for label in labels)


def _check_range(
    path: Path,
    name: str,
    ids: np.ndarray,
    low: int,
    n_classes: int,
    unit: str,
    *,
    blank: bool = False,
) -> None:
    outside = np.flatnonzero((ids < low) | (ids >= n_classes))
    if len(outside):
        index = outside[0]
        note = "; 0 is the CTC blank, never a label" if blank else ""
        raise _field_error(
            path,
            name,
            f"holds {ids[index]} at {unit} {index}, outside {low}..{n_classes - 1} "
            f"(field 'n_classes' is {n_classes}){note}",
        )


def _check_ctc_feasible(
    path: Path, lengths: np.ndarray, targets: np.ndarray, target_lengths: np.ndarray
) -> None:
    """CTC emits a sequence's L labels in at least L + R frames (R: labels repeated in a row)."""
    starts = np.concatenate([[0], np.cumsum(target_lengths)[:-1]])
    for index, (start, count, frames) in enumerate(
        zip(starts, target_lengths, lengths, strict=True)
    ):
        labels = targets[start : start + count]
        repeats = int(np.count_nonzero(labels[1:] == labels[:-1]))
        if count + repeats > frames:
            raise _field_error(
                path,
                "targets",
                f"gives sequence {index} {count} labels ({repeats} repeated in a row, each "
                f"needing a blank between), which need at least {count + repeats} frames; its "
                f"input has {frames} (field 'lengths')",
            )


def _shown(labels: tuple[str, ...] | None) -> str:
    if labels is None:
        return "absent"
    return "[" + ", ".join(labels[:6]) + (", ..." if len(labels) > 6 else "") + "]"
