"""Audio files as TIMIT ships them: NIST SPHERE (the original) or RIFF WAVE (converted copies).

A SPHERE file is an ASCII header, then the samples. The header starts with `NIST_1A`, then the
header's size in bytes (1024 in TIMIT), then one `name -type value` field per line (`-i`
integer, `-r` real, `-sN` string of N characters) up to `end_head`. The fields that matter:
`sample_rate`, `sample_count`, `sample_n_bytes` (2 for 16-bit PCM), `channel_count`,
`sample_byte_format` (`01` little-endian, `10` big-endian) and `sample_coding` (absent or `pcm`
for plain samples; `pcm,embedded-shorten-v2.00` for LDC's shorten-compressed discs). TIMIT's
headers also carry `sample_min` and `sample_max`, which expose a mislabelled byte order.

Every way a file can fail to be what it claims is a CorpusError naming the file: this is where
a broken or half-converted corpus copy is caught, before any feature is computed from it.
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstm_odyssey.data.errors import CorpusError

SPHERE_MAGIC = b"NIST_1A\n"
RIFF_MAGIC = b"RIFF"
BYTE_ORDERS = {"01": "<", "10": ">"}
"""sample_byte_format -> numpy byte order."""
DECOMPRESS_HINT = (
    "decompress the corpus first (e.g. `sph2pipe -f wav`, or sox) and point the config at the copy"
)


@dataclass(frozen=True)
class Audio:
    """Mono 16-bit samples and their rate, as read from one file."""

    samples: np.ndarray  # (n,) int16
    sample_rate: int
    format: str  # "sphere" or "riff"


def _header_fields(path: Path, header: bytes) -> dict[str, str | int | float]:
    fields: dict[str, str | int | float] = {}
    lines = header.split(b"\n")
    for number, raw in enumerate(lines[2:], start=3):
        line = raw.decode("ascii", errors="replace").strip()
        if line == "end_head":
            return fields
        if not line or line.startswith(";"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3 or not parts[1].startswith("-"):
            raise CorpusError(
                path, f"SPHERE header line {number} is not `name -type value`: {line!r}"
            )
        name, kind, value = parts
        try:
            if kind == "-i":
                fields[name] = int(value)
            elif kind == "-r":
                fields[name] = float(value)
            elif kind.startswith("-s"):
                fields[name] = value
            else:
                raise ValueError(kind)
        except ValueError:
            raise CorpusError(
                path, f"SPHERE header line {number}: field {name} has bad value {value!r}"
            ) from None
    raise CorpusError(path, "SPHERE header has no end_head line")


def _required_int(path: Path, fields: dict[str, str | int | float], name: str) -> int:
    value = fields.get(name)
    if not isinstance(value, int):
        raise CorpusError(path, f"SPHERE header lacks the integer field {name}")
    return value


def read_sphere(path: str | os.PathLike[str]) -> Audio:
    """The samples of a NIST SPHERE file holding 16-bit mono PCM."""
    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(SPHERE_MAGIC):
        raise CorpusError(path, f"not a NIST SPHERE file (starts {data[:8]!r}, expected 'NIST_1A')")
    try:
        header_size = int(data[8:16].split(b"\n")[0])
    except ValueError:
        raise CorpusError(path, "SPHERE header size (line 2) is not a number") from None
    if header_size < 16 or header_size > len(data):
        raise CorpusError(
            path, f"SPHERE header size {header_size} does not fit a {len(data)}-byte file"
        )
    fields = _header_fields(path, data[:header_size])
    coding = str(fields.get("sample_coding", "pcm"))
    if "shorten" in coding:
        raise CorpusError(path, f"shorten-compressed ({coding}); {DECOMPRESS_HINT}")
    if coding != "pcm":
        raise CorpusError(path, f"sample_coding {coding!r} is not supported (only pcm)")
    channels = int(fields.get("channel_count", 1))
    if channels != 1:
        raise CorpusError(path, f"{channels} channels; TIMIT audio is mono")
    width = _required_int(path, fields, "sample_n_bytes")
    if width != 2:
        raise CorpusError(path, f"sample_n_bytes is {width}; only 16-bit samples are supported")
    order = str(fields.get("sample_byte_format", ""))
    if order not in BYTE_ORDERS:
        raise CorpusError(
            path, f"sample_byte_format {order!r} is not 01 (little) or 10 (big endian)"
        )
    count = _required_int(path, fields, "sample_count")
    rate = _required_int(path, fields, "sample_rate")
    available = (len(data) - header_size) // width
    if count > available:
        raise CorpusError(
            path, f"truncated: the header says {count} samples, the file holds {available}"
        )
    raw = np.frombuffer(
        data, dtype=np.dtype(BYTE_ORDERS[order] + "i2"), count=count, offset=header_size
    )
    samples = raw.astype(np.int16)
    _check_byte_order(path, samples, fields, order)
    return Audio(samples, rate, "sphere")


def _check_byte_order(path: Path, samples: np.ndarray, fields: dict, order: str) -> None:
    """Compare the decoded extremes with the header's `sample_min`/`sample_max` (TIMIT has both).

    Bytes in the other order than `sample_byte_format` says give extremes that do not match,
    while the swapped samples do: that is a mislabelled file, not a quiet burst of noise.
    """
    low, high = fields.get("sample_min"), fields.get("sample_max")
    if not isinstance(low, int) or not isinstance(high, int) or samples.size == 0:
        return
    if int(samples.min()) == low and int(samples.max()) == high:
        return
    swapped = samples.byteswap()
    if int(swapped.min()) == low and int(swapped.max()) == high:
        other = "10" if order == "01" else "01"
        raise CorpusError(
            path,
            f"byte order mislabelled: sample_byte_format says {order}, but the samples are in "
            f"{other} order (their extremes match sample_min/sample_max only when swapped)",
        )
    raise CorpusError(
        path,
        f"samples range {int(samples.min())}..{int(samples.max())}, but the header says "
        f"sample_min {low}, sample_max {high}: the audio is not what the header describes",
    )


def read_riff(path: str | os.PathLike[str]) -> Audio:
    """The samples of a RIFF WAVE file holding 16-bit mono PCM."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as reader:
            channels, width = reader.getnchannels(), reader.getsampwidth()
            rate, count = reader.getframerate(), reader.getnframes()
            frames = reader.readframes(count)
    except (wave.Error, EOFError) as error:
        raise CorpusError(path, f"not a readable RIFF WAVE file ({error})") from None
    if channels != 1:
        raise CorpusError(path, f"{channels} channels; TIMIT audio is mono")
    if width != 2:
        raise CorpusError(path, f"{8 * width}-bit samples; only 16-bit PCM is supported")
    if len(frames) < count * width:
        raise CorpusError(
            path,
            f"truncated: the header says {count} samples, the file holds {len(frames) // width}",
        )
    return Audio(np.frombuffer(frames, dtype="<i2").astype(np.int16), rate, "riff")


def read_audio(path: str | os.PathLike[str]) -> Audio:
    """Read a SPHERE or RIFF file, whatever its name says: TIMIT copies name both `.WAV`."""
    path = Path(path)
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic.startswith(SPHERE_MAGIC):
        return read_sphere(path)
    if magic.startswith(RIFF_MAGIC):
        return read_riff(path)
    raise CorpusError(path, f"neither NIST SPHERE nor RIFF WAVE (starts {magic!r})")


def sphere_coding(path: str | os.PathLike[str]) -> str | None:
    """The `sample_coding` of a SPHERE file (None for other files or when absent)."""
    with open(path, "rb") as handle:
        head = handle.read(1024)
    if not head.startswith(SPHERE_MAGIC):
        return None
    for line in head.split(b"\n"):
        if line.startswith(b"sample_coding "):
            parts = line.decode("ascii", errors="replace").split(None, 2)
            return parts[2].strip() if len(parts) == 3 else None
    return None


def write_sphere(
    path: str | os.PathLike[str],
    samples: np.ndarray,
    sample_rate: int,
    *,
    utterance_id: str = "",
    byte_format: str = "01",
) -> None:
    """Write 16-bit mono PCM as NIST SPHERE with TIMIT's header fields (1024-byte header)."""
    samples = np.asarray(samples, dtype=np.int16)
    fields = [
        "database_id -s5 TIMIT",
        "database_version -s3 1.0",
        f"utterance_id -s{len(utterance_id)} {utterance_id}" if utterance_id else "",
        "channel_count -i 1",
        f"sample_count -i {samples.size}",
        f"sample_rate -i {int(sample_rate)}",
        f"sample_min -i {int(samples.min()) if samples.size else 0}",
        f"sample_max -i {int(samples.max()) if samples.size else 0}",
        "sample_n_bytes -i 2",
        f"sample_byte_format -s2 {byte_format}",
        "sample_sig_bits -i 16",
        "end_head",
    ]
    text = "NIST_1A\n   1024\n" + "".join(f"{field}\n" for field in fields if field)
    header = text.encode("ascii").ljust(1024, b" ")
    if len(header) > 1024:
        raise ValueError("SPHERE header longer than 1024 bytes")
    body = samples.astype(np.dtype(BYTE_ORDERS[byte_format] + "i2")).tobytes()
    Path(path).write_bytes(header + body)
