"""Downloading a corpus file with a sha256 check, against a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest

from lstm_odyssey.data.download import fetch
from lstm_odyssey.data.errors import CorpusError

PAYLOAD = b'{"train": [[[60]]]}' * 100


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture
def served_file(tmp_path):
    """URL of a file served from tmp_path/served by a server on 127.0.0.1."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "corpus.json").write_bytes(PAYLOAD)
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/corpus.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_with_the_right_hash_gives_the_file(served_file, tmp_path):
    destination = tmp_path / "cache" / "corpus.json"
    result = fetch(served_file, destination, hashlib.sha256(PAYLOAD).hexdigest())
    assert result == destination
    assert destination.read_bytes() == PAYLOAD


def test_download_with_the_wrong_hash_leaves_no_file(served_file, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(CorpusError) as caught:
        fetch(served_file, cache / "corpus.json", "0" * 64)
    message = str(caught.value)
    assert served_file in message
    assert "0" * 64 in message and hashlib.sha256(PAYLOAD).hexdigest() in message
    assert list(cache.iterdir()) == []


def test_cached_file_with_the_right_hash_is_not_downloaded_again(tmp_path):
    destination = tmp_path / "corpus.json"
    destination.write_bytes(PAYLOAD)
    unreachable = "http://127.0.0.1:9/corpus.json"
    assert fetch(unreachable, destination, hashlib.sha256(PAYLOAD).hexdigest()) == destination


def test_missing_url_is_a_corpus_error_naming_it(served_file, tmp_path):
    missing = served_file.replace("corpus.json", "absent.json")
    with pytest.raises(CorpusError, match="absent.json"):
        fetch(missing, tmp_path / "absent.json", "0" * 64)
    assert not (tmp_path / "absent.json").exists()


def test_download_without_a_hash_is_refused(tmp_path):
    with pytest.raises(CorpusError, match="sha256"):
        fetch("http://127.0.0.1:9/x.json", tmp_path / "x.json", "")
