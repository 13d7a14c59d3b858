"""An offline stand-in for TIMIT: synthetic speech in exactly the LDC corpus's layout and formats.

TIMIT needs an LDC licence; this generator writes a small corpus that the real reader
(`timit.prepare_timit`) processes unchanged: `TRAIN|TEST/DR<n>/<SPEAKER>/<UTT>.WAV` as NIST
SPHERE (16 kHz, 16-bit, TIMIT's header fields), `.PHN` with sample offsets in the 61-phone set,
`.WRD` and `.TXT`. A marker file at the root (`synthetic-timit.json`, with the generator's
settings and every speaker's voice) makes everything prepared from it say `synthetic-timit`.

Speech comes from libespeak-ng (Debian's `espeak-ng`): its phoneme events give where each phone
starts; `resources/espeak_timit_phones.json` turns eSpeak's phones into TIMIT's (stops split
into closure and release, pauses become `pau`, the silence at both ends `h#`). Each speaker is
a voice variant of the speaker's sex, a speaking rate, a pitch and pitch range, a loudness and a
level of background noise; audio is synthesised at the library's 22,050 Hz and resampled to
16 kHz, boundaries with it.

Speakers reuse the IDs of the real split lists, so the split rules run unchanged: test speakers
are core-test speakers in their own dialect regions, validation speakers development-set
speakers (under TEST), training speakers get IDs of the same shape that no list names (under
TRAIN), spread over DR1..DR8. Every speaker reads SA1 and SA2 (the split drops them, as on the
real corpus) and `sentences_per_speaker` sentences, the first five SX, then SI; the text is
traditional English proverbs (`resources/proverbs.json`, shared with the handwriting stand-in).

Everything follows from `seed`, and the corpus appears at `out_dir` only once complete.
"""

from __future__ import annotations

import json
import os
import re
import string
import subprocess
import sys
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from lstm_odyssey.data.proverbs import PROVERBS_RESOURCE, proverbs
from lstm_odyssey.data.timit import STAND_IN, STAND_IN_MARKER
from lstm_odyssey.data.timit.corpus import (
    PHONE_INDEX,
    SAMPLE_RATE,
    core_test_dialect_regions,
    development_speakers,
    speaker_lists,
)
from lstm_odyssey.data.timit.espeak import Synthesizer, Utterance, Voice, require_library
from lstm_odyssey.data.timit.sphere import write_sphere
from lstm_odyssey.io import atomic_directory

PHONE_MAP_RESOURCE = "espeak_timit_phones.json"
LANGUAGE = "en-us"
VOICE_VARIANTS = {
    "f": ("f1", "f2", "f3", "f4", "f5"),
    "m": ("m1", "m2", "m3", "m4", "m5", "m6", "m7"),
}
"""eSpeak NG voice variants by the sex letter that starts a TIMIT speaker ID."""
DIALECT_SENTENCES = {
    "sa1": "She had your dark suit in greasy wash water all year.",
    "sa2": "Don't ask me to carry an oily rag like that.",
}
"""TIMIT's two dialect sentences, read by every speaker."""
SX_SENTENCES = 5  # TIMIT's speakers read 5 SX and 3 SI sentences besides SA1 and SA2
SX_FIRST, SI_FIRST = 3, 453  # TIMIT numbers SX sentences from 3 and SI sentences from 453
SILENCE = ("pau", "h#")


class UnmappedPhoneError(ValueError):
    """eSpeak emitted a phone that the mapping resource does not know."""


@cache
def espeak_phone_map() -> dict[str, tuple[tuple[str, float], ...]]:
    """eSpeak mnemonic -> TIMIT phones with their share of its duration (empty: continue)."""
    text = (
        resources.files("lstm_odyssey.data.timit")
        .joinpath("resources", PHONE_MAP_RESOURCE)
        .read_text()
    )
    table = json.loads(text)["map"]
    mapped: dict[str, tuple[tuple[str, float], ...]] = {}
    for mnemonic, parts in table.items():
        for phone, _ in parts:
            if phone not in PHONE_INDEX:
                raise ValueError(
                    f"{PHONE_MAP_RESOURCE}: {mnemonic!r} -> {phone!r} is no TIMIT phone"
                )
        mapped[mnemonic] = tuple((str(phone), float(share)) for phone, share in parts)
    return mapped


def sentences() -> tuple[str, ...]:
    return proverbs()


def timit_segments(utterance: Utterance) -> list[tuple[int, int, str]]:
    """(start, stop, TIMIT phone) segments covering the utterance, at its own sample rate.

    Zero-length events are dropped; adjacent segments of one phone merge; pauses at the edges
    become `h#`, as TIMIT starts and ends every utterance with it.
    """
    table = espeak_phone_map()
    events = [*utterance.phones, (len(utterance.samples), "")]
    segments: list[tuple[int, int, str]] = []
    for (start, mnemonic), (stop, _) in zip(events[:-1], events[1:], strict=True):
        if mnemonic not in table:
            raise UnmappedPhoneError(
                f"eSpeak phone {mnemonic!r} has no TIMIT mapping in resources/{PHONE_MAP_RESOURCE}"
            )
        if stop <= start:
            continue
        parts = table[mnemonic]
        if not parts:  # a modifier: the phone before it goes on
            if segments:
                segments[-1] = (segments[-1][0], stop, segments[-1][2])
            continue
        edges = start + np.round(np.cumsum([0.0] + [s for _, s in parts]) * (stop - start))
        edges[-1] = stop
        for (phone, _), left, right in zip(parts, edges[:-1], edges[1:], strict=True):
            if right > left:
                segments.append((int(left), int(right), phone))
    if not segments:
        raise ValueError("eSpeak produced no phones")
    if segments[0][0] > 0:
        segments.insert(0, (0, segments[0][0], "h#"))
    if segments[-1][1] < len(utterance.samples):
        segments.append((segments[-1][1], len(utterance.samples), "h#"))
    segments = _edge_silence(segments)
    merged: list[tuple[int, int, str]] = []
    for segment in segments:
        if merged and merged[-1][2] == segment[2]:
            merged[-1] = (merged[-1][0], segment[1], segment[2])
        else:
            merged.append(segment)
    return merged


def _edge_silence(segments: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    result = list(segments)
    for index in range(len(result)):
        if result[index][2] not in SILENCE:
            break
        result[index] = (*result[index][:2], "h#")
    for index in range(len(result) - 1, -1, -1):
        if result[index][2] not in SILENCE:
            break
        result[index] = (*result[index][:2], "h#")
    return result


@dataclass(frozen=True)
class Speaker:
    speaker_id: str  # lower case, e.g. "fcjf0"
    folder: str  # "TRAIN" or "TEST"
    dialect_region: str  # "dr1".."dr8"
    voice: Voice
    gain: float  # factor on eSpeak's output level
    noise: float  # standard deviation of the background noise, in 16-bit units
    lead_seconds: tuple[float, float]  # silence range before and after speech


@dataclass(frozen=True)
class SyntheticSettings:
    seed: int
    train_speakers: int
    valid_speakers: int
    test_speakers: int
    sentences_per_speaker: int


def _training_speaker_ids(count: int, rng: np.random.Generator) -> list[str]:
    taken = set().union(*speaker_lists().values())
    ids: list[str] = []
    while len(ids) < count:
        letters = "".join(rng.choice(list(string.ascii_lowercase), size=3))
        candidate = f"{'fm'[int(rng.integers(2))]}{letters}0"
        if candidate not in taken:
            taken.add(candidate)
            ids.append(candidate)
    return ids


def _draw_speaker(speaker_id: str, folder: str, region: str, rng: np.random.Generator) -> Speaker:
    sex = speaker_id[0]
    voice_variants = VOICE_VARIANTS[sex]
    low, high = (55, 85) if sex == "f" else (20, 50)
    voice = Voice(
        language=LANGUAGE,
        variant=voice_variants[int(rng.integers(len(voice_variants)))],
        rate=int(rng.integers(140, 201)),
        pitch=int(rng.integers(low, high + 1)),
        pitch_range=int(rng.integers(30, 81)),
    )
    return Speaker(
        speaker_id=speaker_id,
        folder=folder,
        dialect_region=region,
        voice=voice,
        gain=float(rng.uniform(0.5, 1.5)),
        noise=float(rng.uniform(5.0, 40.0)),
        lead_seconds=(0.1, 0.35),
    )


def draw_speakers(settings: SyntheticSettings) -> list[Speaker]:
    """Every speaker of the stand-in, from the seed: test, validation, then training speakers."""
    lists = speaker_lists()
    if settings.test_speakers > len(lists["test"]):
        raise ValueError(f"test_speakers is at most {len(lists['test'])} (the core test set)")
    if settings.valid_speakers > len(lists["valid"]):
        raise ValueError(f"valid_speakers is at most {len(lists['valid'])} (the development set)")
    rng = np.random.default_rng([settings.seed, 0x7117])
    regions = core_test_dialect_regions()
    by_region: dict[str, list[str]] = {}
    for speaker, region in regions.items():  # the resource's order: two men, then a woman
        by_region.setdefault(region, []).append(speaker)
    # one core speaker per dialect region in turn, so a few test speakers span the regions
    core_order = [
        by_region[region][i]
        for i in range(max(len(v) for v in by_region.values()))
        for region in sorted(by_region)
        if i < len(by_region[region])
    ]
    speakers = [
        _draw_speaker(speaker, "TEST", regions[speaker], rng)
        for speaker in core_order[: settings.test_speakers]
    ]
    speakers += [
        _draw_speaker(speaker, "TEST", f"dr{index % 8 + 1}", rng)
        for index, speaker in enumerate(development_speakers()[: settings.valid_speakers])
    ]
    speakers += [
        _draw_speaker(speaker, "TRAIN", f"dr{index % 8 + 1}", rng)
        for index, speaker in enumerate(_training_speaker_ids(settings.train_speakers, rng))
    ]
    return speakers


def speaker_sentences(settings: SyntheticSettings, speaker_number: int) -> list[tuple[str, str]]:
    """(utterance id, text) of one speaker: SA1, SA2, then SX and SI sentences."""
    rng = np.random.default_rng([settings.seed, 0x5E7, speaker_number])
    pool = sentences()
    chosen = rng.choice(len(pool), size=settings.sentences_per_speaker, replace=False)
    result = list(DIALECT_SENTENCES.items())
    for position, index in enumerate(int(i) for i in chosen):
        if position < SX_SENTENCES:
            result.append((f"sx{SX_FIRST + index}", pool[index]))
        else:
            result.append((f"si{SI_FIRST + index}", pool[index]))
    return result


_WORD_CHARACTERS = re.compile(r"[^a-z']")


def _words(text: str, utterance: Utterance, segments: list[tuple[int, int, str]]) -> list:
    """(start, stop, word) of each spoken word: it ends where the next starts or speech pauses."""
    pauses = [start for start, _, phone in segments if phone in SILENCE and start > 0]
    result = []
    starts = [start for start, _, _ in utterance.words]
    for number, (start, position, length) in enumerate(utterance.words):
        word = _WORD_CHARACTERS.sub("", text[position : position + length].lower())
        following = starts[number + 1] if number + 1 < len(starts) else len(utterance.samples)
        stop = min([following, *[p for p in pauses if p > start]])
        if word and stop > start:
            result.append((start, stop, word))
    return result


def synthesise_utterance(
    synthesizer: Synthesizer, speaker: Speaker, text: str, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[int, int, str]], list[tuple[int, int, str]]]:
    """16 kHz int16 samples, PHN segments and WRD words of one utterance of `speaker`."""
    from scipy.signal import resample_poly

    spoken = synthesizer.speak(text, speaker.voice)
    lead, tail = (int(rng.uniform(*speaker.lead_seconds) * spoken.sample_rate) for _ in range(2))
    padded = Utterance(
        samples=np.concatenate(
            [np.zeros(lead), spoken.samples.astype(np.float64) * speaker.gain, np.zeros(tail)]
        ),
        sample_rate=spoken.sample_rate,
        phones=((0, "_"), *((s + lead, p) for s, p in spoken.phones)),
        words=tuple((s + lead, position, length) for s, position, length in spoken.words),
    )
    segments = timit_segments(padded)
    words = _words(text, padded, segments)
    up, down = SAMPLE_RATE, spoken.sample_rate
    divisor = np.gcd(up, down)
    audio = resample_poly(padded.samples, up // divisor, down // divisor)
    audio += rng.normal(0.0, speaker.noise, size=audio.size)
    samples = np.clip(np.round(audio), -32768, 32767).astype(np.int16)

    def scaled(position: int) -> int:
        return min(int(round(position * up / down)), samples.size)

    phone_segments = [(scaled(a), scaled(b), p) for a, b, p in segments]
    phone_segments[-1] = (phone_segments[-1][0], samples.size, phone_segments[-1][2])
    phone_segments = [(a, b, p) for a, b, p in phone_segments if b > a]
    word_segments = [(scaled(a), scaled(b), w) for a, b, w in words]
    return samples, phone_segments, [(a, b, w) for a, b, w in word_segments if b > a]


def _write_utterance(
    folder: Path,
    utterance_id: str,
    text: str,
    samples: np.ndarray,
    phones: list[tuple[int, int, str]],
    words: list[tuple[int, int, str]],
    speaker_id: str,
) -> None:
    stem = folder / utterance_id.upper()
    write_sphere(
        stem.with_suffix(".WAV"),
        samples,
        SAMPLE_RATE,
        utterance_id=f"{speaker_id[1:]}_{utterance_id}",
    )
    stem.with_suffix(".PHN").write_text("".join(f"{a} {b} {p}\n" for a, b, p in phones))
    stem.with_suffix(".WRD").write_text("".join(f"{a} {b} {w}\n" for a, b, w in words))
    stem.with_suffix(".TXT").write_text(f"0 {samples.size} {text}\n")


def generate_synthetic_timit(
    out_dir: str | os.PathLike[str],
    *,
    seed: int,
    train_speakers: int,
    valid_speakers: int,
    test_speakers: int,
    sentences_per_speaker: int,
) -> Path:
    """Write the stand-in corpus to `out_dir` (replacing it whole) and return its path.

    A missing libespeak-ng raises EspeakMissingError saying what to install, before anything
    is written.
    """
    for name, value in (
        ("train_speakers", train_speakers),
        ("valid_speakers", valid_speakers),
        ("test_speakers", test_speakers),
        ("sentences_per_speaker", sentences_per_speaker),
    ):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if sentences_per_speaker > 8:
        raise ValueError("sentences_per_speaker is at most 8 (TIMIT's 5 SX and 3 SI)")
    settings = SyntheticSettings(
        int(seed),
        int(train_speakers),
        int(valid_speakers),
        int(test_speakers),
        int(sentences_per_speaker),
    )
    require_library()  # a missing library fails here, before anything is written
    with atomic_directory(Path(out_dir)) as building:
        # libespeak-ng's output depends on what it synthesised before in the process (the voice
        # source's state carries over), so the corpus is written by a fresh interpreter: the
        # same seed then gives the same bytes, whoever calls.
        summary = _write_corpus_in_fresh_process(building, settings)
        marker: dict[str, Any] = {
            "source": STAND_IN,
            "generator": __name__,
            "settings": asdict(settings),
            "speech": f"eSpeak NG (libespeak-ng), {LANGUAGE} with variants, resampled to 16 kHz",
            "phone_map": f"resources/{PHONE_MAP_RESOURCE}",
            "text": f"traditional English proverbs (public domain), {PROVERBS_RESOURCE}",
            **summary,
        }
        (building / STAND_IN_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return Path(out_dir)


def _write_corpus_in_fresh_process(building: Path, settings: SyntheticSettings) -> dict[str, Any]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run(
        [sys.executable, "-m", __name__, str(building), json.dumps(asdict(settings))],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"generating synthetic-timit failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.splitlines()[-1])


def _write_corpus(building: Path, settings: SyntheticSettings) -> dict[str, Any]:
    """Synthesise every speaker's utterances into `building`; returns the marker's summary."""
    synthesizer = Synthesizer()
    speakers = draw_speakers(settings)
    durations: list[float] = []
    for number, speaker in enumerate(speakers):
        folder = (
            building / speaker.folder / speaker.dialect_region.upper() / speaker.speaker_id.upper()
        )
        folder.mkdir(parents=True)
        rng = np.random.default_rng([settings.seed, 0xA0D, number])
        for utterance_id, text in speaker_sentences(settings, number):
            samples, phones, words = synthesise_utterance(synthesizer, speaker, text, rng)
            _write_utterance(folder, utterance_id, text, samples, phones, words, speaker.speaker_id)
            durations.append(samples.size / SAMPLE_RATE)
    return {
        "speakers": [{**asdict(speaker), "voice": asdict(speaker.voice)} for speaker in speakers],
        "utterances": len(durations),
        "seconds": round(float(np.sum(durations)), 2),
    }


if __name__ == "__main__":  # the fresh process of generate_synthetic_timit
    written = _write_corpus(Path(sys.argv[1]), SyntheticSettings(**json.loads(sys.argv[2])))
    print(json.dumps(written))
