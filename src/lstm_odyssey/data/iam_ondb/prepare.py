"""IAM-OnDB (Liwicki & Bunke 2005) as the paper's CTC task: pen points in, characters out.

The corpus as the FKI distributes it, each part an unpacked folder or its original archive:

- `lineStrokes/` or `lineStrokes-all.tar.gz`: one XML file per written text line,
  `lineStrokes/a01/a01-000/a01-000u-01.xml`, a `<WhiteboardCaptureSession>` holding a
  `<WhiteboardDescription>` and a `<StrokeSet>` of `<Stroke>`s of `<Point x= y= time=>`
  (whiteboard units; time in seconds).
- `ascii/` or `ascii-all.tar.gz`: one transcription per form, `ascii/a01/a01-000/a01-000u.txt`:
  header lines, an `OCR:` section, then `CSR:`; the n-th non-empty line after `CSR:` is the text
  of stroke file `-nn` (`a01-000u-01.xml` is line 1).
- `task1/` or `task1.tar.gz`: the split lists `trainset.txt`, `testset_v.txt`, `testset_t.txt`,
  `testset_f.txt`, one form id (`a01-000u`) per line.

The paper's split: train = trainset, validation = testset_v + testset_t, test = testset_f, one
text line per sequence (5355 / 2956 / 3859 lines on the complete corpus).

The rules for what the real corpus gets wrong (each counted per split in the prepare log and in
the HDF5 attribute `preparation_counts`, never silent):

- Pairing: stroke file `-nn` takes the n-th CSR text line, which is sound only when a form has
  one stroke file per CSR line, numbered 1..n. A form whose stroke files and CSR lines disagree
  (in number, or with a gap in the numbering) cannot be aligned by number: which text belongs to
  which ink past the first disagreement is unknown, so the form is skipped whole
  (`forms_with_line_count_mismatch`, its stroke files in `lines_in_mismatched_forms`), each
  named in the log. On the real corpus this is `a08-551z` (9 stroke files, 8 CSR lines; without
  it trainset gives the paper's 5355 lines) and `z01-000z` (8 stroke files, a placeholder text;
  in no list).
- A listed form with stroke files but no ascii file has its lines skipped
  (`forms_without_transcription`, `lines_without_transcription`); one with an ascii file but no
  stroke file is counted (`forms_without_strokes`). A listed form with neither is a CorpusError
  naming the form and its list file: the task1 lists and the data are out of sync (a partial
  extraction, or lists from another copy), which would silently shrink a split.
- Lines without ink: a stroke file whose `<StrokeSet>` holds no point (or none left after the
  outlier rule) is skipped (`lines_without_ink`).
- Backward timestamps: inside a stroke the tablet's clock sometimes goes back, by tens of
  milliseconds (points stamped out of order, e.g. `a01-020x-03`, `-04`) or by hundreds to
  thousands of seconds for a few points before it returns to the true clock (e.g.
  `a01-053-03`). Before any time feature is taken, each point's time becomes the running
  maximum of the timestamps along the line (`monotone_time`): a point stamped earlier than one
  before it takes the latest time so far (`backward_timestamps` counts those points). Later
  points keep their own timestamps, so a glitch never shifts the rest of the line (clamping
  each time step at 0 instead would add the whole jump back when the clock recovers), and time
  never runs backwards along a line or inside a stroke.
- Text: HTML entities (`&quot;` and the like) are decoded (`entities_decoded`) and runs of white
  space become one space. A line left empty is skipped (`empty_transcriptions`).
- Outlier points: a point of a stroke (of 3 or more points) that lies more than `OUTLIER_JUMP`
  whiteboard units from every neighbour it has in its stroke is dropped (`outlier_points`): the
  tablet occasionally reports a single point hundreds of units away. Pen-up moves between
  strokes are never outliers.
- Empty strokes are dropped (`empty_strokes`); one-point strokes are kept (a dot, e.g. on an
  `i`, is real writing) and counted (`single_point_strokes`).
- Characters of validation/test lines outside the training alphabet are removed from the target
  and counted per character (`unknown_characters`); training defines the alphabet.
- CTC feasibility: a target of L labels with r adjacent repeats needs at least L + r frames; a
  line with fewer points is skipped at prepare time (`ctc_infeasible`, each named in the log),
  so it can never reach training as a diverging trial.
- A malformed or empty XML file, a file without `<StrokeSet>`, a point without numeric x/y/time,
  an ascii file without `CSR:`: CorpusError naming the file (these are broken copies, not
  defects of the corpus).
- A form named in two split lists: CorpusError (it would leak between splits).

Features, four per point. By default (`offsets`, the paper's inputs): the pen's step dx, dy from
the previous point (0 for the line's first point; a step across a pen-up counts too), the time
since the first point of the point's stroke, and pen-up (1 on a stroke's last point, where the
pen leaves the board). With `offsets` off: pen x, y and time from the line's origin (its first
point is x = y = 0, time = 0), and pen-up. All four inputs are then standardised with the
training split's mean and standard deviation (stored as `input_mean`, `input_std`; a constant
input keeps std 1).

Targets: class 0 is the CTC blank; class i >= 1 is the i-th character of `alphabet` (the
training transcriptions' characters in code-point order).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.iam_ondb import KIND, SOURCE_REAL
from lstm_odyssey.data.iam_ondb.pairing import (
    COUNT_NAMES,
    PAPER_SPLIT_LINES,
    SplitReport,
    TextLine,
    check_listed_forms_present,
    paper_split,
    split_lines,
)
from lstm_odyssey.data.iam_ondb.pen_features import read_line_inks
from lstm_odyssey.data.iam_ondb.recipe import INPUT_NAMES, OFFSET_INPUT_NAMES, OUTLIER_JUMP
from lstm_odyssey.data.iam_ondb.strokes import SPLIT_LISTS, CorpusParts
from lstm_odyssey.data.standardise import standardise, training_statistics
from lstm_odyssey.data.store import SPLIT_NAMES, PreparedData, SplitData, write_prepared

logger = logging.getLogger(__name__)


def ctc_min_frames(labels: Sequence[int] | np.ndarray) -> int:
    """Frames CTC needs for `labels`: one per label plus a blank between each repeated pair."""
    labels = np.asarray(labels)
    repeats = int(np.count_nonzero(labels[1:] == labels[:-1])) if len(labels) > 1 else 0
    return len(labels) + repeats


def encode_text(text: str, alphabet: str) -> tuple[np.ndarray, Counter[str]]:
    """Class ids (1 + position in `alphabet`) of `text`, and the characters left out as unknown."""
    index = {character: position + 1 for position, character in enumerate(alphabet)}
    unknown: Counter[str] = Counter(c for c in text if c not in index)
    ids = np.array([index[c] for c in text if c in index], dtype=np.int64)
    return ids, unknown


def encode_split(
    lines: Sequence[TextLine], alphabet: str, report: SplitReport
) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Features, label ids and ids of the lines that fit CTC; the others are counted and named."""
    inputs, labels, ids = [], [], []
    for line in lines:
        encoded, unknown = encode_text(line.text, alphabet)
        report.unknown_characters.update(unknown)
        report.counts["unknown_characters_removed"] += sum(unknown.values())
        if len(encoded) == 0:
            report.counts["empty_transcriptions"] += 1
            continue
        needed = ctc_min_frames(encoded)
        if len(line.features) < needed:
            report.counts["ctc_infeasible"] += 1
            logger.warning(
                "%s: skipped, %d pen points cannot carry %r under CTC (needs %d)",
                line.source,
                len(line.features),
                line.text,
                needed,
            )
            continue
        inputs.append(line.features)
        labels.append(encoded)
        ids.append(line.line_id)
    return inputs, labels, ids


def training_alphabet(lines: Iterable[TextLine]) -> str:
    """Every character of the training transcriptions, in code-point order."""
    return "".join(sorted({character for line in lines for character in line.text}))


def _feasible_train_alphabet(lines: Sequence[TextLine]) -> str:
    """The alphabet of the training lines CTC can use (an infeasible line defines no symbol)."""
    # Training text has no unknown characters: one label per character, equal where equal.
    return training_alphabet(
        line
        for line in lines
        if len(line.features) >= ctc_min_frames([ord(character) for character in line.text])
    )


def prepare_iam_ondb(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    offsets: bool = True,
    workers: int = 1,
    outlier_jump: float = OUTLIER_JUMP,
) -> PreparedData:
    """Read IAM-OnDB (or its stand-in) at `path` and write the prepared CTC task to `out_path`.

    See the module docstring for the split, the defect rules and the features. `workers`
    processes parse the stroke files.
    """
    started = time.perf_counter()
    corpus = CorpusParts(path)
    list_files = corpus.split_list_files()
    split_forms = paper_split({name: forms for name, (_, forms) in list_files.items()})
    listed = [form for forms in split_forms.values() for form in forms]
    transcriptions = corpus.transcription_lines(listed)
    inks = read_line_inks(
        corpus.stroke_files(listed), offsets=offsets, jump=outlier_jump, workers=workers
    )
    check_listed_forms_present(
        list_files, (line_id.rsplit("-", 1)[0] for line_id in inks), transcriptions
    )

    reports = {name: SplitReport() for name in SPLIT_NAMES}
    lines = {
        name: split_lines(split_forms[name], transcriptions, inks, reports[name])
        for name in SPLIT_NAMES
    }
    alphabet = _feasible_train_alphabet(lines["train"])
    encoded = {name: encode_split(lines[name], alphabet, reports[name]) for name in SPLIT_NAMES}
    for name in SPLIT_NAMES:
        if not encoded[name][0]:
            raise CorpusError(path, f"split {name!r} has no usable text line")

    mean, std = training_statistics(encoded["train"][0])
    splits = {
        name: SplitData.from_sequences(
            [standardise(x, mean, std) for x in encoded[name][0]],
            encoded[name][1],
            label_sequences=True,
        )
        for name in SPLIT_NAMES
    }
    source = corpus.source
    sizes = {name: splits[name].n_sequences for name in SPLIT_NAMES}
    _log_summary(path, source, sizes, reports, alphabet, time.perf_counter() - started)
    metadata: dict[str, Any] = {
        "task_kind": KIND.name,
        "source": source,
        "input_size": len(INPUT_NAMES),
        "n_classes": len(alphabet) + 1,
        "blank_index": 0,
        "alphabet": alphabet,
        "input_names": ",".join(OFFSET_INPUT_NAMES if offsets else INPUT_NAMES),
        "offsets": bool(offsets),
        "normalisation": "standardised with training-split mean and std",
        "input_mean": [float(v) for v in mean],
        "input_std": [float(v) for v in std],
        "outlier_jump": float(outlier_jump),
        "preparation_counts": json.dumps(
            {name: {key: reports[name].counts[key] for key in COUNT_NAMES} for name in SPLIT_NAMES},
            sort_keys=True,
        ),
        "unknown_characters": json.dumps(
            {name: dict(sorted(reports[name].unknown_characters.items())) for name in SPLIT_NAMES},
            sort_keys=True,
        ),
        "unknown_character_rule": "removed from the target (training defines the alphabet)",
        "split_lists": json.dumps(SPLIT_LISTS),
    }
    if source == SOURCE_REAL:
        metadata["paper_split_lines"] = json.dumps(PAPER_SPLIT_LINES)
    return write_prepared(out_path, PreparedData(splits=splits, metadata=metadata))


def _log_summary(
    path: str | os.PathLike[str],
    source: str,
    sizes: Mapping[str, int],
    reports: Mapping[str, SplitReport],
    alphabet: str,
    seconds: float,
) -> None:
    logger.info(
        "%s (%s): %s text lines, %d symbols + blank, in %.1f s",
        path,
        source,
        " / ".join(f"{name} {sizes[name]}" for name in SPLIT_NAMES),
        len(alphabet),
        seconds,
    )
    for name in SPLIT_NAMES:
        # Every rule's count, zeros too: the log shows which rules ran, not only what they hit.
        counts = ", ".join(f"{key} {reports[name].counts[key]}" for key in COUNT_NAMES)
        logger.info("%s: %s", name, counts)
        if reports[name].unknown_characters:
            logger.warning(
                "%s: characters outside the training alphabet removed from targets: %s",
                name,
                dict(reports[name].unknown_characters),
            )
    if source == SOURCE_REAL and dict(sizes) != PAPER_SPLIT_LINES:
        logger.warning(
            "%s: split sizes %s differ from the paper's %s (train / valid / test)",
            path,
            dict(sizes),
            PAPER_SPLIT_LINES,
        )


def prepare_task_data(
    data: Mapping[str, Any], corpus: Path | None, out_path: str | os.PathLike[str], workers: int
) -> PreparedData:
    """The registry's preparer: the corpus folder (FKI copy or stand-in) -> `out_path`."""
    if corpus is None:
        raise CorpusError(
            "tasks.iam_ondb.data.path", "no corpus given (set path, or source: synthetic)"
        )
    return prepare_iam_ondb(corpus, out_path, offsets=bool(data["offsets"]), workers=workers)
