"""Speech with phone boundaries from libespeak-ng (Debian's `espeak-ng`), through ctypes.

The stand-in TIMIT corpus needs audio and, for every phone, the sample where it starts. The
library reports both in one pass: initialised with phoneme events, its synthesis callback
receives the audio in blocks together with events that carry the sample position (`sample`, at
the library's rate) and the phoneme's mnemonic (`id.string`); word events carry the word's
character position in the text. The command-line tool prints phonemes but no timings, and its
`--pho` output needs an mbrola voice, so the library is the reliable source.

The library keeps global state (one voice, one callback), so one `Synthesizer` per process;
it is not thread-safe. Its output also depends on what it synthesised before in the process
(the same text and voice a second time comes out a few samples shifted), so whoever needs
reproducible audio synthesises in a fresh process, in a fixed order.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from functools import cache

import numpy as np

INSTALL_HINT = "install eSpeak NG: apt-get install espeak-ng"

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAMETER_RATE = 1
_PARAMETER_PITCH = 3
_PARAMETER_RANGE = 4


class EspeakMissingError(RuntimeError):
    """libespeak-ng is not installed or cannot be initialised."""


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    # espeak_EVENT of speak_lib.h
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Voice:
    """How a speaker sounds: an English voice with a variant, and prosody settings."""

    language: str  # e.g. "en-us"
    variant: str  # an espeak-ng voice variant, e.g. "f3", "m2", "klatt"
    rate: int  # words per minute (80..450)
    pitch: int  # 0..100
    pitch_range: int  # 0..100

    @property
    def name(self) -> str:
        return f"{self.language}+{self.variant}"


@dataclass(frozen=True)
class Utterance:
    """Synthesised speech: int16 samples and where each phone and word starts."""

    samples: np.ndarray  # (n,) int16
    sample_rate: int
    phones: tuple[tuple[int, str], ...]  # (start sample, espeak mnemonic), in order
    words: tuple[tuple[int, int, int], ...]  # (start sample, first character, length)


@cache
def _library() -> ctypes.CDLL:
    found = ctypes.util.find_library("espeak-ng")
    if found is None:
        raise EspeakMissingError(f"libespeak-ng not found; {INSTALL_HINT}")
    library = ctypes.CDLL(found)
    library.espeak_Initialize.restype = ctypes.c_int
    library.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
    library.espeak_SetSynthCallback.argtypes = (_Callback,)
    library.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
    library.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
    library.espeak_Synth.argtypes = (
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.POINTER(ctypes.c_uint),
        ctypes.c_void_p,
    )
    return library


def require_library() -> None:
    """Raise EspeakMissingError, saying what to install, where libespeak-ng is missing."""
    _library()


class Synthesizer:
    """The process's one libespeak-ng instance, synthesising into memory."""

    _instance: Synthesizer | None = None

    def __new__(cls) -> Synthesizer:
        if cls._instance is None:
            instance = super().__new__(cls)
            instance._start()
            cls._instance = instance
        return cls._instance

    def _start(self) -> None:
        library = _library()
        rate = library.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise EspeakMissingError(f"libespeak-ng failed to initialise; {INSTALL_HINT}")
        self.sample_rate = int(rate)
        self._library = library
        self._blocks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, bytes]] = []
        self._callback = _Callback(self._receive)  # kept alive as long as the library holds it
        library.espeak_SetSynthCallback(self._callback)

    def _receive(self, samples, count, events) -> int:  # type: ignore[no-untyped-def]
        if count > 0:
            self._blocks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_PHONEME:
                self._events.append(
                    (event.type, event.sample, 0, 0, bytes(event.id.string).split(b"\0")[0])
                )
            elif event.type == _EVENT_WORD:
                self._events.append(
                    (event.type, event.sample, event.text_position, event.length, b"")
                )
            index += 1
        return 0

    def speak(self, text: str, voice: Voice) -> Utterance:
        """Synthesise `text` (plain text, UTF-8) in `voice`."""
        library = self._library
        if library.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise EspeakMissingError(f"eSpeak NG has no voice {voice.name!r}; {INSTALL_HINT}")
        library.espeak_SetParameter(_PARAMETER_RATE, int(voice.rate), 0)
        library.espeak_SetParameter(_PARAMETER_PITCH, int(voice.pitch), 0)
        library.espeak_SetParameter(_PARAMETER_RANGE, int(voice.pitch_range), 0)
        self._blocks, self._events = [], []
        encoded = text.encode() + b"\0"
        library.espeak_Synth(encoded, len(encoded), 0, 0, 0, _CHARS_UTF8, None, None)
        library.espeak_Synchronize()
        samples = (
            np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.int16)
        ).astype(np.int16, copy=False)
        phones = tuple(
            (sample, name.decode())
            for kind, sample, _, _, name in self._events
            if kind == _EVENT_PHONEME
        )
        # text_position counts characters from 1
        words = tuple(
            (sample, position - 1, length)
            for kind, sample, position, length, _ in self._events
            if kind == _EVENT_WORD
        )
        return Utterance(samples, self.sample_rate, phones, words)
