"""A non-editable install carries what the library reads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_holds_the_config_schema_and_the_kernel_source(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "lstm_odyssey/config.schema.yaml" in names
    assert "lstm_odyssey/models/csrc/fused_lstm.cpp" in names
    assert "lstm_odyssey/models/csrc/fused_gru.cpp" in names
    assert "lstm_odyssey/models/csrc/kernel_common.h" in names  # included by both kernels
    assert "lstm_odyssey/data/resources/proverbs.json" in names  # the stand-ins' text
    assert "lstm_odyssey/data/timit/resources/timit_speakers.json" in names  # TIMIT's split lists
    assert "lstm_odyssey/data/timit/resources/espeak_timit_phones.json" in names
