"""Every corpus of a study is checked before any job runs, and every problem is named with its fix.

Each case is a real folder or file laid out by hand in tmp_path (what a user's disk holds when
the config points at the wrong place); the expected message is written out here, not derived.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from lstm_odyssey.data.corpus_problems import StudyCorporaError
from lstm_odyssey.data.registry import check_study_corpora, corpus_problems
from tests.helpers import REPO, run_snakemake


def _timit(root: Path) -> Path:
    """The top of TIMIT's LDC layout, nested one level as many copies are."""
    for split in ("TRAIN", "TEST"):
        (root / "TIMIT" / split / "DR1" / "FCJF0").mkdir(parents=True)
    return root


def _iam_ondb(root: Path, parts=("lineStrokes", "ascii", "task1")) -> Path:
    for part in parts:
        (root / part).mkdir(parents=True)
    return root


def _config(**data_by_task) -> dict:
    return {"tasks": {task: {"data": data} for task, data in data_by_task.items()}}


def _only(problems):
    assert len(problems) == 1, [str(p) for p in problems]
    return str(problems[0])


def test_corpora_laid_out_as_distributed_pass(tmp_path):
    boulanger = tmp_path / "JSB Chorales.pickle"
    boulanger.write_bytes(pickle.dumps({"train": [], "valid": [], "test": []}, protocol=2))
    iam = tmp_path / "iam"
    iam.mkdir()
    for name in ("lineStrokes-all.tar.gz", "ascii-all.tar.gz", "task1.tar.gz"):
        (iam / name).write_bytes(b"\x1f\x8b")  # archives count as the parts, unopened
    config = _config(
        jsb={"source": "boulanger", "path": str(boulanger)},
        timit={"source": "ldc", "path": str(_timit(tmp_path / "timit"))},
        iam_ondb={"source": "fki", "path": str(iam)},
    )
    assert corpus_problems(config) == []
    check_study_corpora(config, "study.yaml")  # raises nothing


def test_stand_ins_and_music21_need_no_corpus_on_disk():
    config = _config(
        jsb={"source": "music21"},
        timit={"source": "synthetic"},
        iam_ondb={"source": "synthetic"},
    )
    assert corpus_problems(config) == []


def test_a_real_source_without_a_path_says_which_key_to_set():
    message = _only(corpus_problems(_config(timit={"source": "ldc", "path": None})))
    assert message.startswith("tasks.timit.data.path: source 'ldc' needs a path; none is set")
    assert "fix: point `path:` at your TIMIT" in message
    assert "`source: synthetic`" in message


def test_a_missing_path_is_named_with_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = _only(corpus_problems(_config(iam_ondb={"source": "fki", "path": "corpora/iam"})))
    assert f"corpora/iam does not exist (looked for in {tmp_path})" in message
    assert "lineStrokes/, ascii/ and task1/" in message


def test_a_timit_path_at_an_iam_ondb_folder_says_what_it_holds(tmp_path):
    iam = _iam_ondb(tmp_path / "iam")
    message = _only(corpus_problems(_config(timit={"source": "ldc", "path": str(iam)})))
    assert f"{iam} is not TIMIT" in message
    assert "it holds IAM-OnDB" in message


def test_an_iam_ondb_path_at_a_timit_folder_says_what_it_holds(tmp_path):
    timit = _timit(tmp_path / "timit")
    message = _only(corpus_problems(_config(iam_ondb={"source": "fki", "path": str(timit)})))
    assert f"{timit} is not IAM-OnDB; it holds TIMIT" in message


def test_an_empty_or_unrecognisable_folder_is_described(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    empty = _only(
        corpus_problems(_config(timit={"source": "ldc", "path": str(tmp_path / "empty")}))
    )
    assert "it is empty" in empty
    other = _only(
        corpus_problems(_config(iam_ondb={"source": "fki", "path": str(tmp_path / "other")}))
    )
    assert "nothing in it is recognisable (it holds notes.txt)" in other


def test_a_partial_iam_ondb_names_the_missing_part(tmp_path):
    iam = _iam_ondb(tmp_path / "iam", parts=("lineStrokes", "ascii"))
    message = _only(corpus_problems(_config(iam_ondb={"source": "fki", "path": str(iam)})))
    assert f"{iam} lacks task1/ (or task1.tar.gz)" in message


def test_jsb_file_problems(tmp_path):
    folder = tmp_path / "jsb"
    folder.mkdir()
    text = tmp_path / "chorales.txt"
    text.write_text("these are not chorales")
    assert "is a folder (it is empty); expected one file" in _only(
        corpus_problems(_config(jsb={"source": "boulanger", "path": str(folder)}))
    )
    assert f"{text} is neither a pickle nor JSON" in _only(
        corpus_problems(_config(jsb={"source": "boulanger", "path": str(text)}))
    )
    download = _config(jsb={"source": "boulanger", "url": "http://example.org/jsb.pickle"})
    messages = [str(p) for p in corpus_problems(download)]
    assert any(
        "a download from http://example.org/jsb.pickle needs its sha256" in m for m in messages
    )
    assert any("a download needs `path:` or `cache_dir:`" in m for m in messages)


def test_every_problem_of_the_study_is_in_one_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(
        jsb={"source": "boulanger", "path": "JSB Chorales.pickle"},
        timit={"source": "ldc", "path": None},
        iam_ondb={"source": "fki", "path": "iam"},
    )
    with pytest.raises(StudyCorporaError) as caught:
        check_study_corpora(config, "my-study.yaml")
    message = str(caught.value)
    assert message.startswith("my-study.yaml: 3 corpus problems; nothing was run:")
    for key in ("tasks.jsb.data.path", "tasks.timit.data.path", "tasks.iam_ondb.data.path"):
        assert key in message


def test_a_dry_run_of_the_paper_config_without_corpora_lists_all_three(tmp_path):
    """`snakemake -n --configfile config/paper.yaml` on a machine without the corpora."""
    paper = str(REPO / "config" / "paper.yaml")
    result = run_snakemake(tmp_path, "-n", "--configfile", paper, cores=1, timeout=300)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "3 corpus problems; nothing was run" in output
    assert "resources/JSB Chorales.pickle does not exist" in output
    assert "resources/timit does not exist" in output
    assert "resources/iam-ondb does not exist" in output
    assert "MissingInputException" not in output
    assert not (tmp_path / "results").exists()  # nothing written for a study that cannot run
