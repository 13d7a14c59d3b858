"""The paper's split and the pairing of stroke files with their text lines (rules in `prepare`)."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.data.iam_ondb.pen_features import LineInk
from lstm_odyssey.data.iam_ondb.strokes import SPLIT_LISTS, clean_text
from lstm_odyssey.data.store import SPLIT_NAMES

logger = logging.getLogger(__name__)


PAPER_SPLIT_LINES = {"train": 5355, "valid": 2956, "test": 3859}
"""Text lines per split the paper reports for the complete corpus."""


def paper_split(lists: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Split name -> form ids from the four task1 lists (list file name -> form ids).

    train = trainset; valid = testset_v then testset_t; test = testset_f. A missing list or a
    form named in two lists raises CorpusError.
    """
    owner: dict[str, str] = {}
    split: dict[str, list[str]] = {}
    for split_name in SPLIT_NAMES:
        forms: list[str] = []
        for list_name in SPLIT_LISTS[split_name]:
            if list_name not in lists:
                raise CorpusError(list_name, "split list missing from task1")
            for form_id in lists[list_name]:
                if form_id in owner:
                    raise CorpusError(
                        list_name,
                        f"form {form_id} is also in {owner[form_id]}; splits must not share forms",
                    )
                owner[form_id] = list_name
                forms.append(form_id)
        split[split_name] = forms
    return split


COUNT_NAMES = (
    "forms_with_line_count_mismatch",
    "lines_in_mismatched_forms",
    "forms_without_strokes",
    "forms_without_transcription",
    "lines_without_transcription",
    "lines_without_ink",
    "empty_transcriptions",
    "entities_decoded",
    "empty_strokes",
    "single_point_strokes",
    "outlier_points",
    "backward_timestamps",
    "unknown_characters_removed",
    "ctc_infeasible",
)
"""What the prepare step counts per split (see the module docstring for each rule)."""


@dataclass
class SplitReport:
    """What happened to one split's lines on the way to the prepared file."""

    counts: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(COUNT_NAMES, 0)))
    unknown_characters: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class TextLine:
    """A text line ready to encode: its id, text and features before standardising."""

    line_id: str
    source: str
    text: str
    features: np.ndarray


def pair_lines(
    form_id: str,
    transcription: tuple[str, list[str]] | None,
    inks: Mapping[int, LineInk],
    report: SplitReport,
) -> list[TextLine]:
    """The form's lines with their text: stroke file `-nn` takes the n-th CSR line.

    Only a form with one stroke file per CSR line, numbered 1..n, can be paired by number; any
    other form is skipped whole and named in the log, since past the first disagreement which
    text belongs to which ink is unknown. Lines without ink are skipped; all is counted in
    `report`.
    """
    if transcription is None:
        report.counts["forms_without_transcription"] += 1
        report.counts["lines_without_transcription"] += len(inks)
        logger.warning("form %s: no ascii transcription, %d lines skipped", form_id, len(inks))
        return []
    ascii_name, texts = transcription
    if sorted(inks) != list(range(1, len(texts) + 1)):
        report.counts["forms_with_line_count_mismatch"] += 1
        report.counts["lines_in_mismatched_forms"] += len(inks)
        logger.warning(
            "form %s skipped whole (%d lines): %s has CSR text lines %s but the stroke files "
            "are lines %s, so they cannot be paired by number",
            form_id,
            len(inks),
            ascii_name,
            _number_ranges(range(1, len(texts) + 1)),
            _number_ranges(sorted(inks)),
        )
        return []
    paired = []
    for number, written in enumerate(texts, start=1):
        ink = inks[number]
        if len(ink.features) == 0:
            report.counts["lines_without_ink"] += 1
            logger.warning("%s: no pen point in its <StrokeSet>, line skipped", ink.source)
            continue
        text, entities = clean_text(written)
        report.counts["entities_decoded"] += entities
        if not text:
            report.counts["empty_transcriptions"] += 1
            continue
        for key, value in ink.counts.items():
            report.counts[key] += value
        paired.append(TextLine(ink.line_id, ink.source, text, ink.features))
    return paired


def _number_ranges(numbers: Sequence[int]) -> str:
    """`1-3, 5` for [1, 2, 3, 5]: line numbers as a reader would write them."""
    ranges: list[str] = []
    start = previous = None
    for number in [*numbers, None]:
        if start is not None and number == previous + 1:  # type: ignore[operator]
            previous = number
            continue
        if start is not None:
            ranges.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    return ", ".join(ranges) or "none"


def split_lines(
    forms: Sequence[str],
    transcriptions: Mapping[str, tuple[str, list[str]]],
    inks: Mapping[str, LineInk],
    report: SplitReport,
) -> list[TextLine]:
    """Every usable text line of a split's forms, in list order then line number."""
    by_form: dict[str, dict[int, LineInk]] = defaultdict(dict)
    for line_id, ink in inks.items():
        form_id, number = line_id.rsplit("-", 1)
        by_form[form_id][int(number)] = ink
    lines = []
    for form_id in forms:
        if form_id not in by_form:
            report.counts["forms_without_strokes"] += 1
            logger.warning("form %s is listed but has no stroke files", form_id)
            continue
        lines.extend(pair_lines(form_id, transcriptions.get(form_id), by_form[form_id], report))
    return lines


def check_listed_forms_present(
    list_files: Mapping[str, tuple[str, Sequence[str]]],
    forms_with_strokes: Iterable[str],
    forms_with_transcription: Iterable[str],
) -> None:
    """CorpusError if a listed form has neither stroke files nor a transcription.

    The error names the first list file with such forms and its forms (the first ten), and how
    many more the other lists have. `list_files` is list file name -> (where it was read, form
    ids). The task1 lists and the
    data come from one distribution: a listed form with no file at all means a partial
    extraction (or lists from another copy), which would silently shrink a split.
    """
    present = set(forms_with_strokes) | set(forms_with_transcription)
    absent = {
        list_name: [form for form in forms if form not in present]
        for list_name, (_, forms) in list_files.items()
    }
    absent = {list_name: forms for list_name, forms in absent.items() if forms}
    if not absent:
        return
    list_name, forms = next(iter(absent.items()))
    shown = ", ".join(forms[:10]) + (f" and {len(forms) - 10} more" if len(forms) > 10 else "")
    others = sum(len(forms) for forms in absent.values()) - len(forms)
    raise CorpusError(
        list_files[list_name][0],
        f"lists form{'s' if len(forms) > 1 else ''} {shown} with neither stroke files "
        f"(lineStrokes) nor a transcription (ascii): the split lists and the data are out of "
        f"sync, a partial extraction?"
        + (f" ({others} more such forms in the other lists)" if others else ""),
    )
