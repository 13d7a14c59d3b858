"""Nothing computed is ever lost: broken inputs and intermediates, through real `snakemake` runs.

One small study (a generated Boulanger-format corpus, two variants, two trials each) is taken
through the cases a careful user runs into: a deleted trial record, garbage in one, a truncated
prepared-data file, a corpus edit that fails to prepare and is then undone, more trials after
that, and result-neutral settings changed. After each, the finished trials must still be there
with the same content, and the next run must rebuild what is missing without retraining.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import boulanger_corpus as _corpus
from tests.helpers import planned_jobs as _planned
from tests.helpers import run_snakemake as _snakemake
from tests.helpers import small_jsb_study as _config
from tests.helpers import write_study_config as _write_config

TRIALS = [f"results/default/trials/jsb/{v}/{i}.json" for v in ("V", "NP") for i in range(2)]


def _records(directory: Path) -> dict[str, str]:
    return {name: (directory / name).read_text() for name in TRIALS}


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def _restored(directory: Path, trial: str) -> bool:
    variant, index = trial.split("/")[-2:]
    log = (
        directory / "logs" / "default" / "train" / "jsb" / variant / index.replace(".json", ".log")
    )
    return "restored from" in log.read_text()


@pytest.mark.slow
def test_nothing_computed_is_lost_and_the_dag_rebuilds_what_is_missing(tmp_path):
    corpus = tmp_path / "jsb.json"
    corpus.write_text(json.dumps(_corpus()))
    _write_config(tmp_path, _config(corpus))
    _ok(_snakemake(tmp_path))
    finished = _records(tmp_path)
    assert _planned(tmp_path) == {}

    # 1. A deleted trial record comes back (from the record cache, not retrained); the tables
    #    downstream are rebuilt.
    (tmp_path / TRIALS[1]).unlink()
    planned = _planned(tmp_path)
    assert planned["train_trial"] == 1 and planned["collect_task"] == 1
    _ok(_snakemake(tmp_path))
    assert _records(tmp_path) == finished and _restored(tmp_path, TRIALS[1])

    # 2. Garbage in a record: the failing job names the file and sets it aside; the next run
    #    rebuilds the record and the tables.
    (tmp_path / TRIALS[2]).write_text("not json{")
    failed = _snakemake(tmp_path)
    assert failed.returncode != 0
    assert f"{TRIALS[2]}: moved to {TRIALS[2]}.broken" in failed.stdout + failed.stderr
    assert (tmp_path / (TRIALS[2] + ".broken")).read_text() == "not json{"
    _ok(_snakemake(tmp_path))
    assert _records(tmp_path) == finished
    assert (tmp_path / "results" / "default" / "jsb" / "trials.tsv").exists()

    # 3. A truncated prepared file is set aside and rebuilt; no finished trial is lost or
    #    retrained (each is restored by content, the data being the same).
    data = tmp_path / "results" / "default" / "data" / "jsb.h5"
    data.write_bytes(data.read_bytes()[:2000])
    _ok(_snakemake(tmp_path))
    assert (tmp_path / "results" / "default" / "data" / "jsb.h5.broken").exists()
    assert _records(tmp_path) == finished
    assert all(_restored(tmp_path, trial) for trial in TRIALS)

    # 4. A corpus with a bad pitch: one clear line naming the file; the trials and the last good
    #    prepared data stay. Undoing the edit retrains nothing.
    good = corpus.read_text()
    bad = json.loads(good)
    bad["valid"][1][3] = [60, 200]
    corpus.write_text(json.dumps(bad))
    failed = _snakemake(tmp_path)
    assert failed.returncode != 0
    error_lines = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and str(corpus) in error_lines[0] and "200" in error_lines[0]
    assert "Traceback" not in failed.stderr
    prepare_log = (tmp_path / "logs" / "default" / "prepare_data" / "jsb.log").read_text()
    assert prepare_log.count("job failed") == 1
    assert (tmp_path / "results" / "default" / "data" / "jsb.h5.last-good").exists()
    assert _records(tmp_path) == finished
    corpus.write_text(good)
    _ok(_snakemake(tmp_path))
    assert _records(tmp_path) == finished
    assert all(_restored(tmp_path, trial) for trial in TRIALS)

    # 5. One more trial per variant trains exactly the two new ones.
    _write_config(tmp_path, _config(corpus, trials=3))
    assert _planned(tmp_path)["train_trial"] == 2
    _write_config(tmp_path, _config(corpus))

    # 6. Settings that change results by round-off at most (the device too) rerun no trial.
    neutral = _config(corpus)
    neutral["implementation"] = "auto"
    neutral["device"] = "auto"  # a study moved to GPU nodes retrains nothing
    neutral["tasks"]["jsb"]["training"]["eval_batch_size"] = 3
    _write_config(tmp_path, neutral)
    assert "train_trial" not in _planned(tmp_path)
