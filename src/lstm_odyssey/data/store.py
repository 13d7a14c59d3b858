"""Prepared data in and out of HDF5: the one file per task that every training job reads.

Layout (the contract between the prepare_* rules and training):

    /                     attributes: task_kind, source, input_size, n_classes, normalisation,
                          [input_mean, input_std], split_sizes (JSON), content_hash, extras
    /train, /valid, /test attribute n_sequences; datasets
        inputs          (frames, input_size) float32, all sequences of the split back to back
        targets         (frames, n_classes) float32 (multi-label / next step),
                        (frames,) int64 class ids (framewise), or
                        (labels,) int64 label ids (ctc)
        offsets         (n_sequences + 1,) int64: sequence i is frames offsets[i]:offsets[i+1]
        target_offsets  (n_sequences + 1,) int64, only where targets have their own lengths (ctc)

Writes are atomic (a temp file in the same folder, then a rename), so a crashed job never leaves
a file that Snakemake would take as finished. Reads validate the layout and raise CorpusError
naming the file and the field, since a prepared file is an input boundary for training.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.io import atomic_path
from lstm_odyssey.tasks import TASK_KINDS, task_kind

SPLIT_NAMES = ("train", "valid", "test")
REQUIRED_ATTRIBUTES = ("task_kind", "source", "input_size", "n_classes", "normalisation")
# Written by write_prepared itself, never taken from the caller's metadata.
DERIVED_ATTRIBUTES = ("split_sizes", "content_hash")


@dataclass(frozen=True)
class SplitData:
    """One split: every sequence's frames back to back, with offsets marking where each starts."""

    inputs: np.ndarray
    targets: np.ndarray
    offsets: np.ndarray
    target_offsets: np.ndarray | None = None

    @property
    def n_sequences(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_frames(self) -> int:
        return int(self.offsets[-1])

    def sequence(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and targets of sequence `index` (views, not copies)."""
        start, stop = int(self.offsets[index]), int(self.offsets[index + 1])
        label_offsets = self.offsets if self.target_offsets is None else self.target_offsets
        label_start, label_stop = int(label_offsets[index]), int(label_offsets[index + 1])
        return self.inputs[start:stop], self.targets[label_start:label_stop]

    @classmethod
    def from_sequences(
        cls,
        inputs_list: Sequence[np.ndarray],
        targets_list: Sequence[np.ndarray],
        *,
        label_sequences: bool = False,
    ) -> SplitData:
        """Concatenate per-sequence arrays into one split.

        With `label_sequences` (CTC) the targets of a sequence may be shorter than its inputs and
        get their own offsets; otherwise every sequence needs one target per input frame.
        """
        if len(inputs_list) != len(targets_list):
            raise ValueError(
                f"{len(inputs_list)} input sequences but {len(targets_list)} target sequences"
            )
        if not inputs_list:
            raise ValueError("a split needs at least one sequence")
        inputs = [np.asarray(x, dtype=np.float32) for x in inputs_list]
        targets = [np.asarray(y) for y in targets_list]
        offsets = _offsets_from_lengths([len(x) for x in inputs])
        target_offsets = None
        if label_sequences:
            target_offsets = _offsets_from_lengths([len(y) for y in targets])
        else:
            for index, (x, y) in enumerate(zip(inputs, targets, strict=True)):
                if len(x) != len(y):
                    raise ValueError(
                        f"sequence {index}: {len(x)} input frames but {len(y)} target frames"
                    )
        target_dtype = np.float32 if np.issubdtype(targets[0].dtype, np.floating) else np.int64
        return cls(
            inputs=np.concatenate(inputs).astype(np.float32, copy=False),
            targets=np.concatenate(targets).astype(target_dtype, copy=False),
            offsets=offsets,
            target_offsets=target_offsets,
        )


@dataclass(frozen=True)
class PreparedData:
    """The splits of one task plus the file attributes (task_kind, source, input_size, ...)."""

    splits: dict[str, SplitData]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def task_kind(self) -> str:
        return str(self.metadata["task_kind"])

    @property
    def input_size(self) -> int:
        return int(self.metadata["input_size"])

    @property
    def n_classes(self) -> int:
        return int(self.metadata["n_classes"])

    @property
    def content_hash(self) -> str | None:
        return self.metadata.get("content_hash")

    def split_sizes(self) -> dict[str, int]:
        return {name: split.n_sequences for name, split in self.splits.items()}


def _offsets_from_lengths(lengths: Sequence[int]) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lengths, dtype=np.int64), out=offsets[1:])
    return offsets


def _split_arrays(split: SplitData) -> dict[str, np.ndarray]:
    arrays = {"inputs": split.inputs, "targets": split.targets, "offsets": split.offsets}
    if split.target_offsets is not None:
        arrays["target_offsets"] = split.target_offsets
    return arrays


def _attribute_json(value: Any) -> Any:
    """A JSON-able form of an attribute value, for hashing; equal before writing and after reading.

    HDF5 turns lists into arrays and Python numbers into numpy scalars, so both forms map to the
    same plain values here.
    """
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_attribute_json(v) for v in value]
    return value


def compute_content_hash(prepared: PreparedData) -> str:
    """sha256 over the metadata and every array (name, dtype, shape, bytes) in a fixed order.

    Independent of HDF5 chunking or compression, so equal data always gives an equal hash.
    """
    digest = hashlib.sha256()
    metadata = {
        key: _attribute_json(value)
        for key, value in sorted(prepared.metadata.items())
        if key not in DERIVED_ATTRIBUTES
    }
    digest.update(json.dumps(metadata, sort_keys=True).encode())
    for split_name in sorted(prepared.splits):
        for array_name, array in sorted(_split_arrays(prepared.splits[split_name]).items()):
            contiguous = np.ascontiguousarray(array)
            header = f"{split_name}/{array_name}:{contiguous.dtype.str}:{contiguous.shape}"
            digest.update(header.encode())
            digest.update(contiguous.tobytes())
    return digest.hexdigest()


def _check_before_write(prepared: PreparedData) -> None:
    missing = [key for key in REQUIRED_ATTRIBUTES if key not in prepared.metadata]
    if missing:
        raise ValueError(f"prepared data lacks metadata {missing}")
    if prepared.task_kind not in TASK_KINDS:
        raise ValueError(f"task_kind {prepared.task_kind!r} is not one of {sorted(TASK_KINDS)}")
    if set(prepared.splits) != set(SPLIT_NAMES):
        raise ValueError(f"splits must be exactly {SPLIT_NAMES}, got {sorted(prepared.splits)}")


def write_prepared(
    path: str | os.PathLike[str], prepared: PreparedData, *, compression: str | None = "gzip"
) -> PreparedData:
    """Write `prepared` to `path` atomically; returns it with split_sizes and content_hash set.

    The file appears at `path` only once complete: on any exception the temp file is removed
    and whatever was at `path` before is left untouched. Frame arrays are gzip-compressed by
    default (piano rolls and one-hot targets shrink many times over); the hash ignores this.
    """
    _check_before_write(prepared)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    metadata = {k: v for k, v in prepared.metadata.items() if k not in DERIVED_ATTRIBUTES}
    written = replace(prepared, metadata=metadata)
    metadata["split_sizes"] = written.split_sizes()
    metadata["content_hash"] = compute_content_hash(written)

    with atomic_path(target) as temporary, h5py.File(temporary, "w") as h5:
        for key, value in metadata.items():
            h5.attrs[key] = json.dumps(value) if key == "split_sizes" else value
        for split_name in SPLIT_NAMES:
            _write_split(h5, split_name, written.splits[split_name], compression)
    return written


def _write_split(h5: h5py.File, split_name: str, split: SplitData, compression: str | None) -> None:
    group = h5.create_group(split_name)
    group.attrs["n_sequences"] = split.n_sequences
    for array_name, array in _split_arrays(split).items():
        if compression and array.size > 0 and array_name in ("inputs", "targets"):
            group.create_dataset(array_name, data=array, compression=compression, shuffle=True)
        else:
            group.create_dataset(array_name, data=array)


def content_hash(path: str | os.PathLike[str]) -> str:
    """The content hash stored in a prepared file, read without loading any array."""
    with _open_for_reading(path) as h5:
        if "content_hash" not in h5.attrs:
            raise CorpusError(path, "missing file attribute 'content_hash'")
        return _attribute_value(h5.attrs["content_hash"])


def _open_for_reading(path: str | os.PathLike[str]) -> h5py.File:
    if not Path(path).is_file():
        raise CorpusError(path, "prepared data file does not exist")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise CorpusError(path, f"not a readable HDF5 file ({error})") from error


def _attribute_value(value: Any) -> Any:
    """HDF5 attribute -> plain Python (str, int, float, list of str) or a numpy array."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in value.tolist()]
    return value


def read_prepared(
    path: str | os.PathLike[str],
    *,
    splits: Sequence[str] = SPLIT_NAMES,
    verify_hash: bool = True,
) -> PreparedData:
    """Load a prepared file, checking its layout; CorpusError names the file and the bad field.

    With `verify_hash` (and all splits read) the stored content_hash is recomputed, which catches
    silent corruption at the cost of one pass over the data.
    """
    try:
        with _open_for_reading(path) as h5:
            metadata = _read_metadata(path, h5)
            loaded = {name: _read_split(path, h5, name, metadata) for name in splits}
    except CorpusError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as error:
        # h5py reports truncated or damaged files lazily, as any of these.
        raise CorpusError(path, f"damaged HDF5 file ({type(error).__name__}: {error})") from error
    prepared = PreparedData(splits=loaded, metadata=metadata)
    if verify_hash and set(splits) == set(SPLIT_NAMES):
        actual = compute_content_hash(prepared)
        if actual != metadata["content_hash"]:
            raise CorpusError(
                path,
                f"content_hash mismatch: attribute says {metadata['content_hash']}, "
                f"data hashes to {actual}",
            )
    return prepared


def _read_metadata(path: str | os.PathLike[str], h5: h5py.File) -> dict[str, Any]:
    metadata = {key: _attribute_value(value) for key, value in h5.attrs.items()}
    for key in (*REQUIRED_ATTRIBUTES, *DERIVED_ATTRIBUTES):
        if key not in metadata:
            raise CorpusError(path, f"missing file attribute {key!r}")
    if metadata["task_kind"] not in TASK_KINDS:
        raise CorpusError(
            path,
            f"file attribute task_kind is {metadata['task_kind']!r}, "
            f"not one of {sorted(TASK_KINDS)}",
        )
    try:
        metadata["split_sizes"] = json.loads(metadata["split_sizes"])
    except (TypeError, json.JSONDecodeError) as error:
        raise CorpusError(path, f"file attribute split_sizes is not JSON ({error})") from error
    if metadata["normalisation"] != "none":
        for key in ("input_mean", "input_std"):
            value = np.asarray(metadata.get(key, []))
            if value.shape != (metadata["input_size"],):
                raise CorpusError(
                    path,
                    f"normalisation is {metadata['normalisation']!r} but file attribute {key!r} "
                    f"has shape {value.shape}, expected ({metadata['input_size']},)",
                )
    return metadata


def _read_split(
    path: str | os.PathLike[str], h5: h5py.File, split_name: str, metadata: Mapping[str, Any]
) -> SplitData:
    if split_name not in h5:
        raise CorpusError(path, f"missing group {split_name!r}")
    group = h5[split_name]
    where = f"{split_name}/"
    arrays: dict[str, np.ndarray] = {}
    needed = ["inputs", "targets", "offsets"]
    if task_kind(metadata["task_kind"]).label_sequences:
        needed.append("target_offsets")
    for name in needed:
        if name not in group:
            raise CorpusError(path, f"missing dataset {where}{name}")
        arrays[name] = group[name][()]
    if "target_offsets" in group:
        arrays["target_offsets"] = group["target_offsets"][()]

    inputs, targets = arrays["inputs"], arrays["targets"]
    if inputs.dtype != np.float32 or inputs.ndim != 2 or inputs.shape[1] != metadata["input_size"]:
        raise CorpusError(
            path,
            f"dataset {where}inputs is {inputs.dtype} {inputs.shape}, "
            f"expected float32 (frames, {metadata['input_size']})",
        )
    offsets = _checked_offsets(path, where + "offsets", arrays["offsets"], len(inputs))
    if (
        split_name in metadata["split_sizes"]
        and metadata["split_sizes"][split_name] != len(offsets) - 1
    ):
        raise CorpusError(
            path,
            f"dataset {where}offsets holds {len(offsets) - 1} sequences but split_sizes says "
            f"{metadata['split_sizes'][split_name]}",
        )
    target_offsets = None
    if "target_offsets" in arrays:
        target_offsets = _checked_offsets(
            path, where + "target_offsets", arrays["target_offsets"], len(targets)
        )
        if len(target_offsets) != len(offsets):
            raise CorpusError(
                path, f"dataset {where}target_offsets has a different sequence count from offsets"
            )
    elif len(targets) != len(inputs):
        raise CorpusError(
            path,
            f"dataset {where}targets has {len(targets)} rows for {len(inputs)} input frames",
        )
    _check_targets(path, where + "targets", targets, metadata)
    return SplitData(inputs, targets, offsets, target_offsets)


def _checked_offsets(
    path: str | os.PathLike[str], name: str, offsets: np.ndarray, n_rows: int
) -> np.ndarray:
    if offsets.dtype != np.int64 or offsets.ndim != 1 or len(offsets) < 2:
        raise CorpusError(
            path, f"dataset {name} is {offsets.dtype} {offsets.shape}, expected int64 (n + 1,)"
        )
    if offsets[0] != 0 or offsets[-1] != n_rows or np.any(np.diff(offsets) < 0):
        raise CorpusError(
            path,
            f"dataset {name} must rise from 0 to {n_rows} without decreasing, "
            f"got {offsets[0]}..{offsets[-1]}",
        )
    return offsets


def _check_targets(
    path: str | os.PathLike[str], name: str, targets: np.ndarray, metadata: Mapping[str, Any]
) -> None:
    """Targets in the layout of the file's task kind, ids within the classes."""
    n_classes = metadata["n_classes"]
    kind = task_kind(metadata["task_kind"])
    if kind.target_layout == "multi_label":
        if targets.dtype != np.float32 or targets.ndim != 2 or targets.shape[1] != n_classes:
            raise CorpusError(
                path,
                f"dataset {name} is {targets.dtype} {targets.shape}, "
                f"expected float32 (frames, {n_classes}) for a {kind.name} task",
            )
        return
    if targets.ndim != 1 or targets.dtype != np.int64:
        raise CorpusError(
            path,
            f"dataset {name} is {targets.dtype} {targets.shape}, "
            f"expected int64 (n,) for a {kind.name} task",
        )
    # CTC labels never use id 0: it is the blank.
    lowest = 1 if kind.label_sequences else 0
    if len(targets) and (targets.min() < lowest or targets.max() >= n_classes):
        raise CorpusError(
            path,
            f"dataset {name} holds ids {targets.min()}..{targets.max()}, "
            f"outside {lowest}..{n_classes - 1}",
        )
