"""TIMIT (LDC93S1) as the paper's framewise task: 39 MFCC inputs, one of 61 phones per frame.

The corpus as LDC ships it, and the copies found in the wild:

- `TRAIN|TEST/DR1..DR8/<speaker>/<utterance>.{WAV,PHN,WRD,TXT}` anywhere under the configured
  path (`timit/TIMIT/TRAIN/...` on the disc), names in any case (`train/dr1/fcjf0/sa1.wav`).
- `.WAV` files that are NIST SPHERE (the original) or RIFF (a converted copy under the same
  name); both side by side (`SA1.WAV` and `SA1.WAV.wav`): the original is read, unless it is
  shorten-compressed and a converted copy is there. See `sphere` for what an audio file must be.
- PHN: one `start stop phone` line per segment, sample offsets at 16 kHz, the 61 TIMIT phones.
  WRD (`start stop word`) and TXT (`start stop text`) are checked to parse. A line that does not
  parse, an unknown phone, or a segment past the audio's end is a CorpusError naming
  `file:line`.

The standard split (Halberstadt 1998), as the paper used it: the SA sentences (read by every
speaker) are dropped; train = the SI and SX sentences of the 462 speakers under TRAIN (3696
utterances); test = the core test set (24 speakers under TEST, 192 utterances); validation =
the 50-speaker development set (400 utterances), from the remaining TEST speakers. Both speaker
lists are in `resources/timit_speakers.json` with their sources. A complete corpus gives exactly
these counts; any other count is logged as a warning and stored (`split_report`).

Features (see `features`): 39 per 10 ms frame, standardised with the training frames' mean and
standard deviation (stored as `input_mean`, `input_std`, applied to all splits); the target is
the index in `TIMIT_PHONES` of the phone whose segment covers the frame's centre. Frames that no
segment covers take the nearest segment's phone and are counted (`uncovered_frames`).

Extraction runs over utterances in `workers` processes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.standardise import standardise, training_statistics
from lstm_odyssey.data.store import SPLIT_NAMES, PreparedData, SplitData, write_prepared
from lstm_odyssey.data.timit import KIND, SOURCE_REAL, STAND_IN, STAND_IN_MARKER
from lstm_odyssey.data.timit.features import (
    TIMIT_FEATURES,
    feature_names,
    frame_labels,
    mfcc_features,
    n_frames,
)
from lstm_odyssey.data.timit.layout import (
    DIALECT_FOLDER,
    SPEAKER_FOLDER,
    SPLIT_FOLDER,
    UTTERANCE_FILE,
)
from lstm_odyssey.data.timit.sphere import read_audio, sphere_coding

logger = logging.getLogger(__name__)

SPEAKERS_RESOURCE = "timit_speakers.json"

TIMIT_PHONES: tuple[str, ...] = tuple(
    sorted(
        """b d g p t k dx q jh ch s sh z zh f th v dh m n ng em en eng nx l r w y hh hv el
        iy ih eh ey ae aa aw ay ah ao oy ow uh uw ux er ax ix axr ax-h pau epi h#
        bcl dcl gcl pcl tcl kcl""".split()
    )
)
"""The 61 phone labels of TIMIT's PHN files; a frame's class is its phone's index here."""
PHONE_INDEX = {phone: index for index, phone in enumerate(TIMIT_PHONES)}

PAPER_SPLIT_UTTERANCES = {"train": 3696, "valid": 400, "test": 192}
"""Utterances per split of the standard split on the complete corpus."""

SAMPLE_RATE = 16000


@dataclass
class UtteranceFiles:
    """The files of one utterance, wherever and in whatever case they were found."""

    folder: str  # "train" or "test" (the corpus's own folder)
    dialect_region: str  # "dr1".."dr8"
    speaker: str  # lower case, e.g. "fcjf0"
    utterance: str  # lower case, e.g. "si1027"
    files: dict[str, Path] = field(default_factory=dict)  # "wav", "wav.wav", "phn", "wrd", "txt"

    @property
    def key(self) -> str:
        return f"{self.speaker}_{self.utterance}"

    @property
    def sentence_type(self) -> str:
        """'sa' (dialect), 'sx' (phonetically compact) or 'si' (phonetically diverse)."""
        return self.utterance[:2]

    def audio_path(self) -> Path:
        """The original `.WAV`; its converted `.WAV.wav` copy only where the original is shorten."""
        original, converted = self.files.get("wav"), self.files.get("wav.wav")
        if original is None and converted is None:
            raise CorpusError(self.files["phn"], f"utterance {self.key} has no audio (.WAV) file")
        if original is None:
            return converted  # type: ignore[return-value]
        if converted is not None and "shorten" in (sphere_coding(original) or ""):
            return converted
        return original


@cache
def _speaker_resource() -> dict[str, Any]:
    text = (
        resources.files("lstm_odyssey.data.timit")
        .joinpath("resources", SPEAKERS_RESOURCE)
        .read_text()
    )
    return json.loads(text)


def speaker_lists() -> dict[str, frozenset[str]]:
    """The standard split's test (core) and validation (development) speakers."""
    data = _speaker_resource()
    core = frozenset(s for speakers in data["core_test"].values() for s in speakers)
    return {"test": core, "valid": frozenset(data["development"])}


def core_test_dialect_regions() -> dict[str, str]:
    """speaker -> dialect region folder (dr1..dr8) of the core test speakers."""
    core = _speaker_resource()["core_test"]
    return {speaker: region for region, speakers in core.items() for speaker in speakers}


def development_speakers() -> list[str]:
    """The development speakers in the list's order."""
    return list(_speaker_resource()["development"])


def discover_utterances(root: str | os.PathLike[str]) -> list[UtteranceFiles]:
    """Every utterance under `root` in the TIMIT layout, matched case-insensitively."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(root, "TIMIT corpus directory not found (set tasks.timit.data.path)")
    found: dict[tuple[str, str, str], UtteranceFiles] = {}
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        path = Path(folder)
        if len(path.parts) < 3:
            continue
        split, region, speaker = path.parts[-3:]
        if not (
            SPLIT_FOLDER.match(split)
            and DIALECT_FOLDER.match(region)
            and SPEAKER_FOLDER.match(speaker)
        ):
            continue
        for name in sorted(names):
            match = UTTERANCE_FILE.match(name)
            if match is None:
                continue
            utterance, extension = match.group(1).lower(), match.group(2).lower()
            key = (split.lower(), speaker.lower(), utterance)
            files = found.setdefault(
                key, UtteranceFiles(split.lower(), region.lower(), speaker.lower(), utterance)
            )
            if files.dialect_region != region.lower() or (
                extension in files.files and files.files[extension].parent != path
            ):
                other = next(iter(files.files.values()))
                raise CorpusError(
                    path / name,
                    f"utterance {files.key} is also at {other.parent}: two copies of the corpus "
                    "under one path",
                )
            if extension in files.files:
                raise CorpusError(path / name, f"a second .{extension} file for {files.key}")
            files.files[extension] = path / name
    if not found:
        raise CorpusError(
            root, "no TIMIT utterances found (expected TRAIN|TEST/DR1..DR8/<speaker>/<utt>.PHN)"
        )
    return [found[key] for key in sorted(found)]


@dataclass
class SplitReport:
    """What the split kept and left out; logged and stored with the prepared data."""

    utterances: dict[str, int] = field(default_factory=dict)
    speakers: dict[str, int] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)
    missing_speakers: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> str:
        return json.dumps(
            {
                "utterances": self.utterances,
                "speakers": self.speakers,
                "counts": dict(sorted(self.counts.items())),
                "missing_speakers": self.missing_speakers,
            },
            sort_keys=True,
        )


def standard_split(
    utterances: Iterable[UtteranceFiles],
    lists: Mapping[str, frozenset[str]] | None = None,
) -> tuple[dict[str, list[UtteranceFiles]], SplitReport]:
    """Halberstadt's split of the utterances: train, valid (development), test (core)."""
    lists = speaker_lists() if lists is None else lists
    split: dict[str, list[UtteranceFiles]] = {name: [] for name in SPLIT_NAMES}
    report = SplitReport()
    seen: dict[str, set[str]] = defaultdict(set)
    for files in utterances:
        if files.sentence_type == "sa":
            report.counts["sa_dropped"] += 1
            continue
        if files.folder == "train":
            for name in ("valid", "test"):
                if files.speaker in lists[name]:
                    raise CorpusError(
                        files.files.get("phn", next(iter(files.files.values()))),
                        f"speaker {files.speaker} of the {name} list is under TRAIN; "
                        "the corpus's folders are mixed up",
                    )
            name = "train"
        elif files.speaker in lists["test"]:
            name = "test"
        elif files.speaker in lists["valid"]:
            name = "valid"
        else:
            report.counts["unused_test_utterances"] += 1
            continue
        split[name].append(files)
        seen[name].add(files.speaker)
    for name in SPLIT_NAMES:
        report.utterances[name] = len(split[name])
        report.speakers[name] = len(seen[name])
    for name in ("valid", "test"):
        missing = sorted(lists[name] - seen[name])
        if missing:
            report.missing_speakers[name] = missing
    return split, report


def _parse_lines(path: Path, minimum_fields: int) -> list[tuple[int, int, int, list[str]]]:
    """(line number, start, stop, rest) of each non-empty line of a PHN/WRD/TXT file."""
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as error:
        raise CorpusError(path, f"not ASCII text (byte {error.start})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(None, 2)
        try:
            start, stop = int(fields[0]), int(fields[1])
        except (ValueError, IndexError):
            raise CorpusError(
                f"{path}:{number}", f"expected `start stop ...` sample offsets, got {line!r}"
            ) from None
        rest = fields[2].split() if len(fields) > 2 else []
        if len(fields) < minimum_fields or (minimum_fields == 3 and len(rest) != 1):
            raise CorpusError(f"{path}:{number}", f"expected `start stop label`, got {line!r}")
        if start < 0 or stop < start:
            raise CorpusError(f"{path}:{number}", f"segment {start}..{stop} is not a time span")
        rows.append((number, start, stop, rest))
    return rows


def read_phone_segments(path: str | os.PathLike[str], n_samples: int) -> list[tuple[int, int, int]]:
    """(start, stop, class index) of each PHN segment; errors name `file:line`."""
    path = Path(path)
    segments = []
    previous_start = -1
    for number, start, stop, (phone,) in _parse_lines(path, 3):
        label = phone.lower()
        if label not in PHONE_INDEX:
            raise CorpusError(f"{path}:{number}", f"{phone!r} is not one of the 61 TIMIT phones")
        if stop > n_samples:
            raise CorpusError(
                f"{path}:{number}",
                f"segment ends at sample {stop}, beyond the audio's {n_samples} samples",
            )
        if start < previous_start:
            raise CorpusError(f"{path}:{number}", "segments are not in time order")
        previous_start = start
        segments.append((start, stop, PHONE_INDEX[label]))
    if not segments:
        raise CorpusError(path, "no phone segments")
    return segments


def check_word_file(path: str | os.PathLike[str], n_samples: int) -> None:
    for number, _, stop, _ in _parse_lines(Path(path), 3):
        if stop > n_samples:
            raise CorpusError(
                f"{path}:{number}",
                f"word ends at sample {stop}, beyond the audio's {n_samples} samples",
            )


def check_text_file(path: str | os.PathLike[str]) -> None:
    if not _parse_lines(Path(path), 2):
        raise CorpusError(path, "empty transcription")


@dataclass(frozen=True)
class UtteranceFeatures:
    inputs: np.ndarray  # (frames, 39) float32, not yet standardised
    labels: np.ndarray  # (frames,) int64
    uncovered_frames: int


def utterance_features(files: UtteranceFiles) -> UtteranceFeatures:
    """Read one utterance's audio and labels and compute its features (runs in a worker)."""
    if "phn" not in files.files:
        raise CorpusError(next(iter(files.files.values())), f"utterance {files.key} has no .PHN")
    path = files.audio_path()
    audio = read_audio(path)
    if audio.sample_rate != SAMPLE_RATE:
        raise CorpusError(path, f"sample rate {audio.sample_rate} Hz; TIMIT is {SAMPLE_RATE} Hz")
    segments = read_phone_segments(files.files["phn"], audio.samples.size)
    if "wrd" in files.files:
        check_word_file(files.files["wrd"], audio.samples.size)
    if "txt" in files.files:
        check_text_file(files.files["txt"])
    if n_frames(audio.samples.size, TIMIT_FEATURES) < 1:
        raise CorpusError(path, f"{audio.samples.size} samples: shorter than one analysis window")
    inputs = mfcc_features(audio.samples, TIMIT_FEATURES)
    labels, uncovered = frame_labels(segments, len(inputs), TIMIT_FEATURES)
    return UtteranceFeatures(inputs, labels, uncovered)


def _one_thread_per_worker() -> None:
    """Each worker computes with one BLAS thread: N workers x N threads slow every one down."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def extract_features(utterances: Sequence[UtteranceFiles], workers: int) -> list[UtteranceFeatures]:
    """Features of every utterance, in order, computed by `workers` processes."""
    if workers <= 1 or len(utterances) < 2:
        return [utterance_features(files) for files in utterances]
    chunk = max(1, min(64, len(utterances) // (4 * workers)))
    with ProcessPoolExecutor(max_workers=workers, initializer=_one_thread_per_worker) as pool:
        return list(pool.map(utterance_features, utterances, chunksize=chunk))


def corpus_source(root: str | os.PathLike[str]) -> str:
    return STAND_IN if (Path(root) / STAND_IN_MARKER).exists() else SOURCE_REAL


def prepare_timit(
    path: str | os.PathLike[str], out_path: str | os.PathLike[str], *, workers: int = 1
) -> PreparedData:
    """Read TIMIT (or its stand-in) at `path`; write the prepared framewise task to `out_path`."""
    started = time.perf_counter()
    split, report = standard_split(discover_utterances(path))
    for name in SPLIT_NAMES:
        if not split[name]:
            raise CorpusError(
                path,
                f"split {name!r} has no utterance (found {report.utterances}); is this a TIMIT "
                "copy with TRAIN and TEST?",
            )
    ordered = [files for name in SPLIT_NAMES for files in split[name]]
    features = extract_features(ordered, workers)
    by_split: dict[str, list[UtteranceFeatures]] = {}
    position = 0
    for name in SPLIT_NAMES:
        by_split[name] = features[position : position + len(split[name])]
        position += len(split[name])
        report.counts[f"uncovered_frames_{name}"] = sum(f.uncovered_frames for f in by_split[name])

    mean, std = training_statistics([f.inputs for f in by_split["train"]])
    splits = {
        name: SplitData.from_sequences(
            [standardise(f.inputs, mean, std) for f in by_split[name]],
            [f.labels for f in by_split[name]],
        )
        for name in SPLIT_NAMES
    }
    source = corpus_source(path)
    elapsed = time.perf_counter() - started
    logger.info(
        "%s (%s): %s utterances (train/valid/test), %d frames, %.1f s with %d workers (%.1f utt/s)",
        path,
        source,
        "/".join(str(report.utterances[n]) for n in SPLIT_NAMES),
        sum(s.n_frames for s in splits.values()),
        elapsed,
        workers,
        len(ordered) / elapsed,
    )
    if report.utterances != PAPER_SPLIT_UTTERANCES:
        logger.warning(
            "%s: a partial TIMIT: %s utterances per split, the complete corpus gives %s%s",
            path,
            report.utterances,
            PAPER_SPLIT_UTTERANCES,
            "".join(
                f"; {len(missing)} {name} speakers not found ({', '.join(missing[:8])}"
                f"{', ...' if len(missing) > 8 else ''})"
                for name, missing in report.missing_speakers.items()
            ),
        )
    metadata: dict[str, Any] = {
        "task_kind": KIND.name,
        "source": source,
        "input_size": TIMIT_FEATURES.n_features,
        "n_classes": len(TIMIT_PHONES),
        "phones": json.dumps(TIMIT_PHONES),
        "input_names": ",".join(feature_names(TIMIT_FEATURES)),
        "features": json.dumps(TIMIT_FEATURES.describe(), sort_keys=True),
        "normalisation": "standardised with training-split mean and std",
        "input_mean": [float(v) for v in mean],
        "input_std": [float(v) for v in std],
        "split_rule": "Halberstadt: no SA; train SI+SX; test core (24); valid development (50)",
        "split_report": report.as_json(),
        "paper_split_utterances": json.dumps(PAPER_SPLIT_UTTERANCES),
    }
    return write_prepared(out_path, PreparedData(splits=splits, metadata=metadata))


def prepare_task_data(
    data: Mapping[str, Any], corpus: Path | None, out_path: str | os.PathLike[str], workers: int
) -> PreparedData:
    """The registry's preparer: the corpus folder (LDC copy or stand-in) -> `out_path`."""
    if corpus is None:
        raise CorpusError(
            "tasks.timit.data.path", "no corpus given (set path, or source: synthetic)"
        )
    return prepare_timit(corpus, out_path, workers=workers)
