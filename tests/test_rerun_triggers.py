"""What reruns after a config or corpus change, read off Snakemake's own dry run.

A two-task study (a generated Boulanger-format JSB corpus, the IAM-OnDB stand-in) is run once;
then each edit is made and `snakemake --dry-run` must plan exactly the jobs the README's table
says: a task's settings rerun that task's trials only, analysis options rerun no training, an
unrelated edit reruns nothing, a changed corpus reruns its task's preparation and trials.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from tests.helpers import boulanger_corpus as _corpus
from tests.helpers import planned_jobs as _planned
from tests.helpers import run_snakemake as _snakemake
from tests.helpers import small_jsb_study as crash_safety_config

HERSHEY = Path("/usr/share/hershey-fonts")


def _config(corpus: Path) -> dict:
    """The crash-safety study's JSB task plus the IAM-OnDB stand-in with the same search."""
    config = crash_safety_config(corpus)
    jsb = config["tasks"]["jsb"]
    jsb["training"] = {"trials": 2, "max_epochs": 1, "patience": 1}
    config["study_seed"] = 3
    config["tasks"]["iam_ondb"] = {
        "data": {
            "source": "synthetic",
            "synthetic": {
                "train_writers": 2,
                "valid_writers": 1,
                "test_writers": 1,
                "lines_per_writer": 2,
            },
        },
        "network": {"bidirectional": True},
        "training": dict(jsb["training"]),
        "search": copy.deepcopy(jsb["search"]),
    }
    return config


def _write(directory: Path, config: dict) -> None:
    (directory / "config").mkdir(exist_ok=True)
    (directory / "config" / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.mark.slow
@pytest.mark.skipif(not HERSHEY.is_dir(), reason="apt-get install hershey-fonts-data")
def test_each_kind_of_edit_reruns_exactly_what_it_affects(tmp_path):
    corpus = tmp_path / "jsb.json"
    corpus.write_text(json.dumps(_corpus()))
    base = _config(corpus)
    _write(tmp_path, base)
    result = _snakemake(tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert _planned(tmp_path) == {}

    def planned_after(edit) -> dict[str, int]:
        config = copy.deepcopy(base)
        edit(config)
        _write(tmp_path, config)
        try:
            return _planned(tmp_path)
        finally:
            _write(tmp_path, base)

    # More trials: only the new ones, then the aggregation downstream.
    more = planned_after(lambda c: c["tasks"]["jsb"]["training"].update(trials=3))
    assert more["train_trial"] == 2 and more["collect_task"] == 1 and "prepare_data" not in more

    # One task's training settings: that task's four trials, not the other task's.
    settings = planned_after(lambda c: c["tasks"]["iam_ondb"]["training"].update(max_epochs=2))
    assert settings["train_trial"] == 4 and settings["collect_task"] == 1
    assert "prepare_data" not in settings

    # Analysis and figure options: no training, no preparation.
    analysis = planned_after(lambda c: c["analysis"].update(alpha=0.01, fanova={"trees": 8}))
    assert "train_trial" not in analysis and "prepare_data" not in analysis
    assert analysis.get("compare_variants") == 2 and analysis.get("fanova") == 2

    # An unrelated edit (a comment, key order) reruns nothing.
    (tmp_path / "config" / "config.yaml").write_text(
        "# a comment\n" + yaml.safe_dump(base, sort_keys=False)
    )
    assert _planned(tmp_path) == {}

    # A changed corpus: its task's preparation and trials, nothing of the other task.
    changed = _corpus(seed=1)
    corpus.write_text(json.dumps(changed))
    corpus_change = _planned(tmp_path)
    assert corpus_change["prepare_data"] == 1 and corpus_change["train_trial"] == 4
