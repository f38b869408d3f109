"""`bench --executor slurm` against a real one-node Slurm cluster (scripts/slurm-local.sh):
bad options are refused before anything is submitted; a suite runs as one job array; a job
scancelled mid-training resumes from its last epoch on the next `bench`; the leaderboard is
the one `--executor local` gives; no run trains twice to completion; slurmctld saw it all."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="a local Slurm cluster is Linux")

SUITE = """
data = "sample"
seeds = [0]
[[runs]]
model = "tfidf_lr"
preset = "cpu"
[[runs]]
model = "nbsvm"
preset = "cpu"
[[runs]]
model = "cnn"
preset = "quick"
overrides = { epochs = 4, patience = 4 }
"""


def bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sentibench.cli", "bench", *args],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"},
    )  # fmt: skip


def squeue_ids() -> set[str]:
    out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-o", "%i"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return set(out.split())


def wait_for(condition, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def leaderboard(folder: Path) -> list[tuple[str, ...]]:
    """The leaderboard's rows (model, preset, seeds, accuracy, runs) and every run's own
    model, seed and test accuracy."""
    with open(folder / "leaderboard.csv") as handle:
        rows = [(r["model"], r["preset"], r["seeds"], r["accuracy"], r["runs"])
                for r in csv.DictReader(handle)]  # fmt: skip
    for run in sorted(folder.glob("*-s0*")):
        config = json.loads((run / "config.json").read_text())
        accuracy = json.loads((run / "metrics.json").read_text())["accuracy"]
        rows.append((config["model"], str(config["config"]["seed"]), repr(accuracy)))
    return rows


def test_bad_options_are_refused_before_anything_is_submitted(slurm_cluster, tmp_path):
    from sentibench.bench.options import ExecutorOptions
    from sentibench.bench.slurm import check_cluster
    from sentibench.errors import ConfigError

    before = squeue_ids()
    refused = {
        "--partition 'nope' is not a partition of this cluster; partitions: local.":
            ExecutorOptions("slurm", partition="nope"),
        "--gpus-per-run 1: no node of partition 'local' has GPUs":
            ExecutorOptions("slurm", gpus_per_run=1),
        "--cpus-per-run 999 is more than any node of partition 'local' has":
            ExecutorOptions("slurm", cpus_per_run=999),
        "--mem-per-run 100T is more than any node of partition 'local' has":
            ExecutorOptions("slurm", mem_per_run="100T"),
    }  # fmt: skip
    for message, options in refused.items():
        with pytest.raises(ConfigError) as caught:
            check_cluster(options)
        assert str(caught.value).startswith(message)
    assert check_cluster(ExecutorOptions("slurm", cpus_per_run=1)) == "local"

    suite = tmp_path / "mini.toml"  # and through the command line: one line, nothing submitted
    suite.write_text(SUITE)
    done = bench("--suite", str(suite), "--runs", str(tmp_path / "runs"), "--executor", "slurm",
                 "--gpus-per-run", "1", timeout=120)  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --gpus-per-run 1: no node"), done.stderr
    assert squeue_ids() == before  # nothing submitted
    assert not list((tmp_path / "runs").glob("mini/*/config.json"))


def test_a_scancelled_job_resumes_and_the_leaderboard_equals_the_local_one(slurm_cluster,
                                                                           tmp_path):  # fmt: skip
    suite = tmp_path / "mini.toml"
    suite.write_text(SUITE)
    runs = tmp_path / "slurm"
    common = ["--suite", str(suite), "--cpus-per-run", "1"]
    done = bench(*common, "--runs", str(runs), "--executor", "slurm", "--max-parallel", "2",
                 "--detach")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Submitted 3 runs to Slurm" in done.stdout
    folder = runs / "mini"
    net = next(folder.glob("cnn-quick-s0-*"))
    first_job = json.loads((net / "job.json").read_text())["job_id"]

    # one job is scancelled while it trains, after its first epoch's checkpoint
    wait_for(lambda: (net / "history.jsonl").exists() and (net / ".train.lock").exists())
    subprocess.run(["scancel", first_job], check=True)
    wait_for(lambda: not (net / "checkpoint").exists() or not _alive_in_squeue(first_job), 60)
    history = [json.loads(line) for line in (net / "history.jsonl").read_text().splitlines()]
    assert 1 <= len(history) < 4, "the job finished before it could be cancelled"

    done = bench(*common, "--runs", str(runs), "--executor", "slurm", "--max-parallel", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Report:" in done.stdout

    second_job = json.loads((net / "job.json").read_text())["job_id"]
    assert second_job != first_job  # resubmitted
    log = (net / "train.log").read_text()  # resumed from its checkpoint, trained once
    assert log.count("starting") == 1 and log.count("resuming") == 1
    epochs = [
        json.loads(line)["epoch"] for line in (net / "history.jsonl").read_text().splitlines()
    ]
    assert epochs == list(range(1, len(epochs) + 1))
    for run in folder.glob("*-s0*"):  # no run trained twice to completion
        assert (run / "train.log").read_text().count("complete:") == 1, run

    local = tmp_path / "local"
    done = bench(*common, "--runs", str(local), "--executor", "local", "--max-parallel", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert leaderboard(folder) == leaderboard(local / "mini")
    assert len(leaderboard(folder)) == 6

    # Slurm's own log: every job of the suite was allocated by slurmctld and the cancelled
    # one ended by a signal
    controller = (slurm_cluster / "log" / "slurmctld.log").read_text()
    for run in folder.glob("*-s0*"):
        job_id = json.loads((run / "job.json").read_text())["job_id"]
        assert f"Allocate JobId={job_id}" in controller, job_id
    assert f"Allocate JobId={first_job}" in controller

    status = subprocess.run(
        [sys.executable, "-m", "sentibench.cli", "bench", "status", "--runs", str(runs)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert status.returncode == 0 and status.stdout.count("complete") >= 3, status.stdout
    assert second_job in status.stdout


def _alive_in_squeue(job_id: str) -> bool:
    out = subprocess.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"],
                         capture_output=True, text=True).stdout.split()  # fmt: skip
    return any(state in ("PENDING", "RUNNING", "COMPLETING") for state in out)


def test_a_preempted_job_is_requeued_by_submitit_and_resumes_from_its_checkpoint(
    slurm_cluster, tmp_path
):
    suite = tmp_path / "one.toml"
    suite.write_text(
        SUITE[: SUITE.index("[[runs]]")] + SUITE[SUITE.index('[[runs]]\nmodel = "cnn"') :]
    )
    runs = tmp_path / "runs"
    common = ["--suite", str(suite), "--runs", str(runs), "--executor", "slurm",
              "--cpus-per-run", "1"]  # fmt: skip
    assert bench(*common, "--detach").returncode == 0
    net = next((runs / "one").glob("cnn-quick-s0-*"))
    job_id = json.loads((net / "job.json").read_text())["job_id"]
    wait_for(lambda: (net / "history.jsonl").exists())
    # what preemption does (submitit's own test helper does the same): SIGTERM, then USR2
    subprocess.run(["scancel", "--signal=TERM", job_id], check=True)
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    wait_for(lambda: "Requeuing JobId=" + job_id in _controller_log(slurm_cluster), 60)
    # Slurm holds a requeued job for two minutes; let it start now
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)

    done = bench(*common)  # follows the requeued job: nothing submitted again
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((net / "job.json").read_text())["job_id"] == job_id
    log = (net / "train.log").read_text()
    assert log.count("starting") == 1 and log.count("resuming") == 1
    assert log.count("complete:") == 1


def _controller_log(cluster: Path) -> str:
    return (cluster / "log" / "slurmctld.log").read_text()
