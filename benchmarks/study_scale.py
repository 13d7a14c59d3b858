"""The paper-scale study's bookkeeping: the 5400-trial DAG build and `status` on 5400 records.

1. `snakemake -n --configfile config/paper.yaml` with the corpora pointed at the offline
   stand-ins (the real ones are licensed): the DAG of 3 tasks x 9 variants x 200 trials, built
   in a scratch folder, timed (the bar: under 15 s). Every cluster job re-parses the Snakefile,
   so the parse alone (`--list-rules`, no DAG) is timed too.
2. `lstm-odyssey status` on 5400 trial records of realistic size (75 epochs each) written into a
   scratch results tree: the bar is under 2 s.

    python benchmarks/study_scale.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from lstm_odyssey.paths import StudyPaths
from lstm_odyssey.provenance import cpu_model

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def paper_config_on_stand_ins() -> dict:
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    config["tasks"]["jsb"]["data"] = {"source": "music21"}
    for task in ("timit", "iam_ondb"):
        data = config["tasks"][task]["data"]
        config["tasks"][task]["data"] = {
            "source": "synthetic",
            **({"offsets": data["offsets"]} if "offsets" in data else {}),
        }
    return config


def timed(command: list[str], directory: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return seconds, result.stdout


def fake_record(task: str, variant: str, index: int) -> dict:
    epochs = [
        {
            "epoch": e + 1,
            "train_loss": 1.0 / (e + 1),
            "valid_metric": 30.0 - e / 10,
            "seconds": 12.5,
        }
        for e in range(75)
    ]
    return {
        "record_version": 2,
        "task": task,
        "variant": variant,
        "index": index,
        "status": "ok",
        "metric": "frame_error",
        "hyperparameters": {"hidden_size": 100, "learning_rate": 1e-3, "momentum": 0.9},
        "best_valid_metric": 22.5,
        "test_metric": 23.0,
        "epochs": epochs,
        "train_seconds": 937.5,
        "provenance": {"threads": 1, "data_hash": "0" * 64, "host": "node01"},
    }


def main() -> None:
    print(f"CPU: {cpu_model()}; ISA path: not applicable (no kernel runs)")
    config = paper_config_on_stand_ins()
    trials = sum(t["training"]["trials"] for t in config["tasks"].values()) * len(
        config["variants"]
    )
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        (directory / "paper.yaml").write_text(yaml.safe_dump(config))
        parse, _ = timed([*SNAKEMAKE, "--configfile", "paper.yaml", "--list-rules"], directory)
        dag, out = timed(
            [*SNAKEMAKE, "--configfile", "paper.yaml", "-n", "--quiet", "rules"], directory
        )
        train_jobs = next(
            (int(line.split()[1]) for line in out.splitlines() if line.startswith("train_trial")),
            None,
        )
        print(f"paper.yaml on stand-ins: {trials} trials planned, {train_jobs} train_trial jobs")
        print(f"  Snakefile parse (what each cluster job pays): {parse:5.1f} s")
        print(f"  dry run, the whole DAG:                      {dag:5.1f} s (bar: 15 s)")

        paths = StudyPaths.at(directory / "results" / config["study_name"])
        for task, settings in config["tasks"].items():
            for variant in config["variants"]:
                for index in range(settings["training"]["trials"]):
                    record = fake_record(task, variant, index)
                    path = Path(paths.trial_record(task, variant, index))
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(record, indent=2))
        status, out = timed(
            [
                str(Path(sys.executable).with_name("lstm-odyssey")),
                "status",
                "--config",
                "paper.yaml",
                "--results",
                paths.directory,
            ],
            directory,
        )
        print(f"  lstm-odyssey status on {trials} records:      {status:5.1f} s (bar: 2 s)")
        print("  " + out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
