"""The tiny study through `profiles/slurm` on a real single-node SLURM cluster.

`scripts/slurm-single-node.sh up` installs (if needed) and starts munge, slurmctld and slurmd on
this machine; the test then runs Snakemake with the profile, checks that every trial ran inside
a SLURM job (its record's `provenance.slurm_job_id`) and that packing put the trials into fewer
SLURM jobs than there are trials, and stops the daemons. It needs root (as CI has); elsewhere it
is skipped, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "scripts" / "slurm-single-node.sh"
TINY_CONFIG = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())


def _cannot_run() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root to start munge, slurmctld and slurmd"
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        return "SLURM is not installed and there is no apt-get to install it"
    return None


@pytest.fixture(scope="module")
def slurm_cluster():
    reason = _cannot_run()
    if reason:
        print(f"skipping the SLURM test: {reason}")
        pytest.skip(reason)
    up = subprocess.run([str(CLUSTER), "up"], capture_output=True, text=True, timeout=600)
    if up.returncode != 0:
        pytest.fail(f"the single-node SLURM did not come up:\n{up.stdout}\n{up.stderr}")
    try:
        yield
    finally:
        subprocess.run([str(CLUSTER), "down"], capture_output=True, timeout=120)


def _run_tiny_study_with_slurm_profile(
    directory, *arguments: str, timeout: int
) -> subprocess.CompletedProcess:
    """Snakemake on the tiny study in `directory` through profiles/slurm."""
    (directory / "config").mkdir()
    (directory / "config" / "config.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
    command += ["--profile", str(REPO / "profiles" / "slurm"), *arguments]
    return subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_the_tiny_study_runs_as_packed_slurm_jobs(slurm_cluster, tmp_path):
    started = time.perf_counter()
    # the first status check waits 40 s by default; a test cluster answers at once
    result = _run_tiny_study_with_slurm_profile(
        tmp_path, "--slurm-init-seconds-before-status-checks", "2", timeout=1200
    )
    wall = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    records = [
        json.loads(p.read_text())
        for p in sorted(tmp_path.glob("results/default/trials/*/*/*.json"))
    ]
    trials = TINY_CONFIG["tasks"]["jsb"]["training"]["trials"] * len(TINY_CONFIG["variants"])
    assert len(records) == trials
    job_ids = {record["provenance"]["slurm_job_id"] for record in records}
    assert None not in job_ids, "a trial ran outside SLURM"
    assert len(job_ids) < trials, f"{trials} trials in {len(job_ids)} SLURM jobs: no packing"
    assert (tmp_path / "results" / "default" / "trials.tsv").exists()
    print(f"SLURM: {trials} trials in {len(job_ids)} SLURM jobs, {wall:.0f} s wall")


def test_the_profile_packs_trials_into_group_jobs_in_a_dry_run(tmp_path):
    """Without a cluster: Snakemake's own dry run with the profile shows the packs it would
    submit (8 trials per SLURM job: the tiny study's 9 trials are 2 group jobs)."""
    result = _run_tiny_study_with_slurm_profile(tmp_path, "--dry-run", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert output.count("Group job trials") == 2
    assert output.count("rule train_trial:") == 9


def test_the_profile_names_the_partition_and_account_keys_the_plugin_reads():
    """A `partition:` resource is ignored by the plugin without a word; it reads `slurm_*`."""
    import re

    import snakemake_executor_plugin_slurm

    plugin = Path(snakemake_executor_plugin_slurm.__file__).read_text()
    profile_text = (REPO / "profiles" / "slurm" / "config.yaml").read_text()
    profile = yaml.safe_load(profile_text)
    resource_keys = set(profile["default-resources"])
    for rule_resources in profile["set-resources"].values():
        resource_keys |= set(rule_resources)
    assert not resource_keys & {"partition", "account"}
    # The documented (commented) examples: every key named must be one the plugin reads.
    documented = set(re.findall(r"^#\s+(slurm_\w+):", profile_text, flags=re.MULTILINE))
    assert {"slurm_partition", "slurm_account"} <= documented
    for key in documented:
        assert f'resources.get("{key}")' in plugin, key
