"""JSB Chorales as next-step prediction on an 88-key piano roll (MIDI 21..108).

Two sources give the same thing, a list of chorales per split, each chorale a list of time steps
(quarter notes), each step the set of MIDI pitches sounding:

- `boulanger`: the Boulanger-Lewandowski et al. (2012) file used by the paper (a pickle, or the
  same structure as JSON), read from a path or downloaded with a sha256 check.
- `music21`: the Bach chorales bundled with music21, preprocessed the same way (transposed to
  C major / C minor, sampled every quarter note), for working offline without that file.

A chorale becomes one sequence whose inputs are the roll's steps 0..T-2 and targets 1..T-1.
"""

from __future__ import annotations

import builtins
import codecs
import io
import json
import logging
import math
import os
import pickle
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np

from lstm_odyssey.data.download import fetch, file_sha256
from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.jsb import KIND, SOURCES
from lstm_odyssey.data.store import SPLIT_NAMES, PreparedData, SplitData, write_prepared

logger = logging.getLogger(__name__)

LOWEST_PITCH = 21  # A0, the lowest piano key
HIGHEST_PITCH = 108  # C8, the highest piano key
N_KEYS = HIGHEST_PITCH - LOWEST_PITCH + 1
# The paper's split of the 382 chorales; other corpus sizes are split in the same proportions.
PAPER_SPLIT_SIZES = {"train": 229, "valid": 76, "test": 77}
# music21 chorales with fewer quarter-note steps than this are skipped as fragments.
MIN_CHORALE_STEPS = 4

Step = frozenset[int]
Chorale = list[Step]
ChoraleSplits = dict[str, list[Chorale]]


# --- piano roll -------------------------------------------------------------------------------


def piano_roll(chorale: Sequence[Iterable[int]]) -> np.ndarray:
    """(steps, 88) float32 roll: column p - 21 is 1 where MIDI pitch p sounds."""
    roll = np.zeros((len(chorale), N_KEYS), dtype=np.float32)
    for step_index, pitches in enumerate(chorale):
        for pitch in pitches:
            if not LOWEST_PITCH <= pitch <= HIGHEST_PITCH:
                raise ValueError(f"step {step_index}: pitch {pitch} is not a piano key")
            roll[step_index, pitch - LOWEST_PITCH] = 1.0
    return roll


def next_step_pair(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets for next-step prediction: predict step t + 1 from steps up to t."""
    return roll[:-1], roll[1:]


def chorales_to_split(chorales: Sequence[Chorale]) -> SplitData:
    """One split of next-step sequences, one per chorale."""
    pairs = [next_step_pair(piano_roll(chorale)) for chorale in chorales]
    return SplitData.from_sequences([x for x, _ in pairs], [y for _, y in pairs])


def chorales_to_prepared(
    splits: Mapping[str, Sequence[Chorale]], source: str, provenance: Mapping[str, Any]
) -> PreparedData:
    """The prepared-data form of JSB: next_step task on 88 keys, no input normalisation."""
    metadata: dict[str, Any] = {
        "task_kind": KIND.name,
        "source": source,
        "input_size": N_KEYS,
        "n_classes": N_KEYS,
        "normalisation": "none",
        "lowest_pitch": LOWEST_PITCH,
        "time_step": "quarter note",
        **provenance,
    }
    return PreparedData(
        splits={name: chorales_to_split(splits[name]) for name in SPLIT_NAMES},
        metadata=metadata,
    )


# --- boulanger source -------------------------------------------------------------------------


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """The numpy callables a pickled array or scalar needs, under their old and new module names."""
    reconstruct = np.ndarray((0,)).__reduce__()[0]
    from_buffer = np.zeros(1).__reduce_ex__(5)[0]  # how protocol 5 pickles an array
    scalar = np.float64(0).__reduce__()[0]
    names: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,  # protocol 2 stores array bytes as latin-1 text
    }
    for package in ("numpy.core", "numpy._core"):
        names[(f"{package}.multiarray", "_reconstruct")] = reconstruct
        names[(f"{package}.multiarray", "scalar")] = scalar
        names[(f"{package}.numeric", "_frombuffer")] = from_buffer
    return names


_BUILTIN_CONTAINERS = {
    name: getattr(builtins, name)
    for name in ("list", "dict", "tuple", "set", "frozenset", "int", "float", "bool")
}
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **{("builtins", name): value for name, value in _BUILTIN_CONTAINERS.items()},
    **{("__builtin__", name): value for name, value in _BUILTIN_CONTAINERS.items()},
    **_numpy_globals(),
}


class _ForbiddenGlobal(pickle.UnpicklingError):
    pass


class _ContainersOnlyUnpickler(pickle.Unpickler):
    """Unpickles containers, numbers and numpy arrays only: a corpus file must not run code."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise _ForbiddenGlobal(f"refusing to unpickle {module}.{name}")
        return allowed


def _load_json_or_pickle(path: Path) -> Any:
    """The object in a JSON file or a (restricted) pickle; JSON is tried first."""
    if not path.is_file():
        raise CorpusError(path, "JSB Chorales file does not exist")
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    try:
        return _ContainersOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except _ForbiddenGlobal as error:
        raise CorpusError(path, f"unsafe pickle: {error}") from error
    except Exception as error:  # noqa: BLE001 - a bad pickle can raise nearly anything
        raise CorpusError(
            path, f"is neither JSON nor a pickle of JSB Chorales ({type(error).__name__}: {error})"
        ) from error


def read_boulanger(path: str | os.PathLike[str]) -> ChoraleSplits:
    """The train/valid/test chorales of a Boulanger-Lewandowski JSB file (pickle or JSON).

    Every pitch is checked to be an integer piano key; errors name the split, chorale, step.
    """
    path = Path(path)
    corpus = _load_json_or_pickle(path)
    if not isinstance(corpus, Mapping):
        raise CorpusError(
            path, f"expected a dict with keys {SPLIT_NAMES}, got {type(corpus).__name__}"
        )
    return {name: _read_split(path, corpus, name) for name in SPLIT_NAMES}


def _read_split(path: Path, corpus: Mapping[str, Any], split_name: str) -> list[Chorale]:
    if split_name not in corpus:
        raise CorpusError(path, f"missing split {split_name!r} (has {sorted(map(str, corpus))})")
    sequences = corpus[split_name]
    if not isinstance(sequences, (list, tuple)) or len(sequences) == 0:
        raise CorpusError(path, f"split {split_name!r} is empty or not a list of chorales")
    chorales = []
    for chorale_index, sequence in enumerate(sequences):
        where = f"split {split_name!r}, chorale {chorale_index}"
        if not isinstance(sequence, (list, tuple, np.ndarray)) or len(sequence) < 2:
            raise CorpusError(path, f"{where}: needs a list of at least 2 time steps")
        chorales.append(
            [
                _read_step(path, f"{where}, step {step}", pitches)
                for step, pitches in enumerate(sequence)
            ]
        )
    return chorales


def _read_step(path: Path, where: str, pitches: Any) -> Step:
    if not isinstance(pitches, (list, tuple, set, frozenset, np.ndarray)):
        raise CorpusError(path, f"{where}: expected a list of pitches, got {pitches!r}")
    step = set()
    for pitch in pitches:
        value = pitch.item() if isinstance(pitch, np.generic) else pitch
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CorpusError(path, f"{where}: pitch {value!r} is not a number")
        if not float(value).is_integer() or not LOWEST_PITCH <= value <= HIGHEST_PITCH:
            raise CorpusError(
                path, f"{where}: pitch {value!r} is outside MIDI {LOWEST_PITCH}..{HIGHEST_PITCH}"
            )
        step.add(int(value))
    return frozenset(step)


def boulanger_file(
    *,
    path: str | os.PathLike[str] | None,
    url: str | None,
    sha256: str | None,
    cache_dir: str | os.PathLike[str] | None,
) -> Path:
    """The local Boulanger file: `path` as is, or `url` downloaded (checked) to `path`/`cache_dir`.

    A local file is checked against `sha256` too when one is given.
    """
    if url:
        if path is not None:
            destination = Path(path)
        elif cache_dir is not None:
            name = unquote(Path(urlparse(url).path).name) or "jsb-chorales"
            destination = Path(cache_dir) / name
        else:
            raise ValueError("downloading JSB Chorales needs `path` or `cache_dir` to save it in")
        return fetch(url, destination, sha256 or "")
    if path is None:
        raise ValueError("the boulanger source needs `path` or `url`")
    local = Path(path)
    if not local.is_file():
        raise CorpusError(local, "JSB Chorales file does not exist")
    if sha256:
        actual = file_sha256(local)
        if actual != sha256.strip().lower():
            raise CorpusError(local, f"sha256 mismatch: expected {sha256}, got {actual}")
    return local


# --- music21 source ---------------------------------------------------------------------------


def music21_chorale_ids(max_chorales: int | None = None) -> list[str]:
    """Corpus paths of music21's Bach chorales in Riemenschneider order, without repeats.

    The Riemenschneider numbering lists some chorales twice; a repeat would leak across splits.
    """
    from music21 import corpus

    listed = corpus.chorales.Iterator(numberingSystem="riemenschneider", returnType="filename")
    ids = list(dict.fromkeys(listed))
    return ids if max_chorales is None else ids[:max_chorales]


def transposition_to_c(tonic_pitch_class: int) -> int:
    """Semitones that move a tonic to C by the nearer way (-5..+6)."""
    shift = (-tonic_pitch_class) % 12
    return shift - 12 if shift > 6 else shift


def score_to_chorale(score: Any) -> Chorale:
    """Quarter-note steps of a music21 score, transposed so its key's tonic is C.

    A pitch belongs to step q when its note spans offset q (rests give empty steps); pitches
    outside the piano range after transposing are dropped.
    """
    key = score.analyze("key")
    shift = transposition_to_c(key.tonic.pitchClass)
    n_steps = math.ceil(score.highestTime)
    steps: list[set[int]] = [set() for _ in range(n_steps)]
    for note in score.flatten().notes:
        start, length = note.offset, note.quarterLength
        if length <= 0:  # grace notes take no time
            continue
        for step in range(math.ceil(start), min(math.ceil(start + length), n_steps)):
            for pitch in note.pitches:
                midi = pitch.midi + shift
                if LOWEST_PITCH <= midi <= HIGHEST_PITCH:
                    steps[step].add(midi)
    return [frozenset(step) for step in steps]


def read_music21_chorales(max_chorales: int | None = None) -> dict[str, Chorale]:
    """Chorale id -> steps for music21's bundled chorales; unparsable or tiny ones are skipped."""
    from music21 import corpus

    chorales: dict[str, Chorale] = {}
    started = time.perf_counter()
    for chorale_id in music21_chorale_ids(max_chorales):
        try:
            chorale = score_to_chorale(corpus.parse(chorale_id))
        except Exception as error:  # noqa: BLE001 - skip any chorale music21 cannot handle
            logger.warning("music21 corpus %s: skipped, failed to parse (%s)", chorale_id, error)
            continue
        if len(chorale) < MIN_CHORALE_STEPS:
            logger.warning("music21 corpus %s: skipped, only %d steps", chorale_id, len(chorale))
            continue
        chorales[chorale_id] = chorale
    logger.info(
        "parsed %d music21 chorales in %.1f s", len(chorales), time.perf_counter() - started
    )
    return chorales


def split_counts(n_chorales: int) -> dict[str, int]:
    """Chorales per split in the paper's 229:76:77 proportions, each split non-empty."""
    if n_chorales < len(SPLIT_NAMES):
        raise ValueError(f"cannot split {n_chorales} chorales into {len(SPLIT_NAMES)} splits")
    total = sum(PAPER_SPLIT_SIZES.values())
    valid = max(1, round(n_chorales * PAPER_SPLIT_SIZES["valid"] / total))
    test = max(1, round(n_chorales * PAPER_SPLIT_SIZES["test"] / total))
    return {"train": n_chorales - valid - test, "valid": valid, "test": test}


def assign_splits(chorale_ids: Iterable[str], split_seed: int) -> dict[str, list[str]]:
    """A seeded permutation of the sorted ids, cut in the paper's proportions."""
    ordered = sorted(chorale_ids)
    permuted = [ordered[i] for i in np.random.default_rng(split_seed).permutation(len(ordered))]
    members: dict[str, list[str]] = {}
    start = 0
    for name, count in split_counts(len(ordered)).items():
        members[name] = sorted(permuted[start : start + count])
        start += count
    return members


def music21_splits(
    max_chorales: int | None = None, split_seed: int = 0
) -> tuple[ChoraleSplits, dict[str, list[str]]]:
    """Chorales per split from music21, and which chorale ids went where."""
    chorales = read_music21_chorales(max_chorales)
    if len(chorales) < len(SPLIT_NAMES):
        raise CorpusError("music21 corpus", f"only {len(chorales)} chorales parsed; need 3")
    members = assign_splits(chorales, split_seed)
    splits = {name: [chorales[i] for i in ids] for name, ids in members.items()}
    return splits, members


# --- the prepare step -------------------------------------------------------------------------


def prepare_jsb(
    source: str,
    out_path: str | os.PathLike[str],
    *,
    path: str | os.PathLike[str] | None = None,
    url: str | None = None,
    sha256: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    max_chorales: int | None = None,
    split_seed: int = 0,
) -> PreparedData:
    """Read JSB Chorales from `source` and write the prepared HDF5 to `out_path`.

    `path`, `url`, `sha256` and `cache_dir` locate the boulanger file (see `boulanger_file`);
    `max_chorales` and `split_seed` apply to the music21 source, whose split is not given.
    """
    if source == "boulanger":
        corpus_file = boulanger_file(path=path, url=url, sha256=sha256, cache_dir=cache_dir)
        splits = read_boulanger(corpus_file)
        provenance: dict[str, Any] = {"source_sha256": file_sha256(corpus_file)}
    elif source == "music21":
        import music21

        splits, members = music21_splits(max_chorales, split_seed)
        provenance = {
            "music21_version": music21.__version__,
            "split_seed": int(split_seed),
            "split_members": json.dumps(members),
        }
    else:
        raise ValueError(f"unknown JSB source {source!r}; expected one of {SOURCES}")
    return write_prepared(out_path, chorales_to_prepared(splits, source, provenance))


def prepare_task_data(
    data: Mapping[str, Any], corpus: Path | None, out_path: str | os.PathLike[str], workers: int
) -> PreparedData:
    """The registry's preparer: the task's `data:` section -> `out_path` (`corpus` unused: the
    Boulanger file is `data.path` or its download, music21's chorales ship with music21)."""
    options = {key: value for key, value in data.items() if key != "source"}
    return prepare_jsb(data["source"], out_path, **options)
