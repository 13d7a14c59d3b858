"""Fetch a corpus file from a URL into a local cache, checked against a known sha256.

A download is only accepted when its hash matches the configured one, so a moved or altered
upstream file stops the workflow with a clear error instead of silently changing the data.
The file appears at its cache path only once complete and checked (temp file, then rename).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.io import atomic_path

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a local file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(
    url: str,
    destination: str | os.PathLike[str],
    sha256: str,
    *,
    timeout_s: float = 60.0,
) -> Path:
    """Download `url` to `destination` unless a file with the right hash is already there.

    Raises CorpusError naming the URL when the download fails or its hash differs from `sha256`;
    in both cases no file is left at `destination`.
    """
    expected = (sha256 or "").strip().lower()
    if len(expected) != 64:
        raise CorpusError(url, f"needs a 64-hex-digit sha256 to check the download, got {sha256!r}")
    target = Path(destination)
    if target.is_file():
        if file_sha256(target) == expected:
            return target
        logger.warning("%s: cached copy has the wrong sha256; downloading again", target)

    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temporary, open(temporary, "wb") as out:
        actual = _stream_to(url, out, timeout_s)
        if actual != expected:
            raise CorpusError(url, f"sha256 mismatch: expected {expected}, got {actual}")
    logger.info("downloaded %s to %s", url, target)
    return target


def _stream_to(url: str, out: BinaryIO, timeout_s: float) -> str:
    """Copy the body at `url` into `out`; returns its sha256."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            while chunk := response.read(CHUNK_BYTES):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        raise CorpusError(url, f"download failed ({error})") from error
    return digest.hexdigest()
