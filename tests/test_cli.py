"""The command line: bad input is one line naming the file, not a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_a_bad_corpus_is_one_line_naming_the_file(tmp_path):
    corpus = tmp_path / "jsb.json"
    split = [[[60, 64, 67], [200]]] * 3
    corpus.write_text(json.dumps({"train": split, "valid": split, "test": split}))
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["tasks"]["jsb"]["data"] = {"source": "boulanger", "path": str(corpus)}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstm_odyssey",
            "--config",
            "config.yaml",
            "prepare",
            "--task",
            "jsb",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "Traceback" in line or "error" in line]
    assert len(errors) == 1 and errors[0].startswith(f"error: {corpus}"), result.stderr
    assert "200" in errors[0]


def test_the_hint_for_missing_prepared_data_names_the_real_files(tmp_path, monkeypatch, capsys):
    """It once printed a literal `{task}` (a missing f) instead of the file to build."""
    from lstm_odyssey.cli import main

    monkeypatch.chdir(tmp_path)
    config = REPO / ".test" / "config" / "config.yaml"
    arguments = ["--config", str(config), "train", "--task", "jsb", "--variant", "V"]
    arguments += ["--index", "0"]
    assert main(arguments) == 2
    hint = capsys.readouterr().err
    assert hint.strip() == (
        "results/default/data/jsb.h5: prepared data not found; run `lstm-odyssey prepare "
        "--task jsb` or `snakemake results/default/data/jsb.h5` first"
    )
    assert "{" not in hint
