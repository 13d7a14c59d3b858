"""A failing job: one line on the terminal, the traceback once in its log file."""

from __future__ import annotations

import subprocess
import sys


def test_a_failing_job_prints_one_line_and_logs_the_traceback_once(tmp_path):
    log = tmp_path / "logs" / "job.log"
    script = f"""
from lstm_odyssey.data.errors import CorpusError
from lstm_odyssey.joblog import job_logging

def read():
    raise CorpusError("corpus/bad.json", "step 3: pitch 200 outside 21..108")

with job_logging({str(log)!r}):
    try:
        read()
    except CorpusError as error:
        raise CorpusError(error.source, error.problem) from error  # a chained error, as in readers
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: corpus/bad.json: step 3: pitch 200 outside 21..108 (traceback in {log})"
    ]
    text = log.read_text()
    assert text.count("Traceback (most recent call last)") == 2  # the chain, once
    assert text.count("job failed") == 1
