"""Atomic writers: the target appears whole or not at all, and no temporary file is left behind."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lstm_odyssey.io import (  # noqa: E402
    atomic_path,
    atomic_savefig,
    atomic_write_json,
    atomic_write_text,
    atomic_write_tsv,
)


def test_write_text_creates_parent_directories(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "note.txt"
    assert atomic_write_text(target, "hello\n") == target
    assert target.read_text() == "hello\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["note.txt"]


def test_write_text_replaces_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    target.write_text("old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"


def test_failure_leaves_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half written")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["note.txt"]


def test_temporary_sits_beside_target_and_keeps_suffix(tmp_path: Path) -> None:
    target = tmp_path / "figure.png"
    with atomic_path(target) as temporary:
        assert temporary.parent == tmp_path
        assert temporary.suffix == ".png"
        temporary.write_bytes(b"x")
    assert target.read_bytes() == b"x"


def test_json_is_strict_with_nonfinite_as_null_and_numpy_as_python(tmp_path: Path) -> None:
    target = tmp_path / "trial.json"
    atomic_write_json(
        target,
        {"loss": float("nan"), "inf": np.inf, "count": np.int64(3), "values": np.array([1.5, 2])},
    )
    text = target.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"loss": None, "inf": None, "count": 3, "values": [1.5, 2.0]}


def test_json_rejects_unknown_objects_without_touching_target(tmp_path: Path) -> None:
    target = tmp_path / "trial.json"
    with pytest.raises(TypeError, match="object"):
        atomic_write_json(target, {"thing": object()})
    assert not target.exists()


def test_savefig_writes_a_png(tmp_path: Path) -> None:
    fig, axis = plt.subplots()
    axis.plot([0, 1], [0, 1])
    target = atomic_savefig(fig, tmp_path / "plots" / "line.png")
    plt.close(fig)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in target.parent.iterdir()] == ["line.png"]


def test_tsv_round_trips_through_pandas(tmp_path: Path) -> None:
    table = pd.DataFrame({"variant": ["V", "NIG"], "value": [0.1, np.nan]})
    target = atomic_write_tsv(table, tmp_path / "table.tsv")
    assert target.read_text().splitlines()[0] == "variant\tvalue"
    pd.testing.assert_frame_equal(pd.read_csv(target, sep="\t"), table, check_dtype=False)
