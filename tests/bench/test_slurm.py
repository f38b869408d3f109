"""`bench --executor slurm` against a real one-node Slurm cluster (scripts/slurm-local.sh):
bad options are refused before anything is submitted; a suite runs as one job array; a job
scancelled mid-training resumes from its last epoch on the next `bench`; preempted, submitit
requeues it and the bench follows it; the leaderboard is the one `--executor local` gives; no
run trains twice to completion; slurmctld saw it all (one flow: each Slurm job costs time)."""

from __future__ import annotations

import csv
import json
import os
import re
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
model = "cnn"
preset = "quick"
overrides = { epochs = 8, patience = 8 }  # scancelled, a job trains on for KillWait (5 s)
[[runs]]
model = "tfidf_lr"
preset = "cpu"
[[runs]]
model = "nbsvm"
preset = "cpu"
"""


def bench_env() -> dict[str, str]:  # read when called: the cluster fixture sets SLURM_CONF
    return {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}


def bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sentibench.cli", "bench", *args],
        capture_output=True, text=True, timeout=timeout, env=bench_env(),
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


def test_a_cancelled_then_preempted_job_resumes_and_the_leaderboard_equals_the_local_one(
    slurm_cluster, tmp_path, request
):
    suite = tmp_path / "mini.toml"
    suite.write_text(SUITE)
    runs = tmp_path / "slurm"
    common = ["--suite", str(suite), "--cpus-per-run", "1"]
    on_slurm = [*common, "--runs", str(runs), "--executor", "slurm", "--max-parallel", "2"]
    # the same suite with --executor local, at the same time (one run's threads each)
    local = tmp_path / "local"
    on_local = [*common, "--runs", str(local), "--executor", "local", "--max-parallel", "2"]
    local_bench = subprocess.Popen(
        [sys.executable, "-m", "sentibench.cli", "bench", *on_local],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=bench_env(),
    )  # fmt: skip
    request.addfinalizer(local_bench.kill)
    done = bench(*on_slurm, "--detach")
    assert done.returncode == 0, done.stderr
    assert "Submitted 3 runs to Slurm" in done.stdout
    folder = runs / "mini"
    net = next(folder.glob("cnn-quick-s0-*"))
    first_job = _job_id(net)

    # 1. scancel while it trains, after its first epoch's checkpoint: the next bench submits
    # the run again and it resumes from that epoch
    wait_for(lambda: _epochs(net) >= 1 and (net / ".train.lock").exists())
    subprocess.run(["scancel", first_job], check=True)
    wait_for(lambda: not _alive_in_squeue(first_job), 60)
    assert 1 <= _epochs(net) < 8, "the job finished before it could be cancelled"
    done = bench(*on_slurm, "--detach")
    assert done.returncode == 0, done.stdout + done.stderr
    second_job = _job_id(net)
    assert second_job != first_job  # resubmitted

    # 2. preempted (what Slurm does: SIGTERM, then USR2, as submitit's own tests do) once it
    # has resumed: submitit requeues the same job, and the bench follows it, submitting nothing
    wait_for(lambda: "resumed from the checkpoint" in (net / "train.log").read_text())
    subprocess.run(["scancel", "--signal=TERM", second_job], check=True)
    subprocess.run(["scancel", "--signal=USR2", second_job], check=True)
    wait_for(lambda: f"Requeuing JobId={second_job}" in _controller_log(slurm_cluster), 60)
    wait_for(lambda: _state(second_job) == "PENDING", 60)  # its old incarnation has ended
    assert _epochs(net) < 8, "the job finished before it could be preempted"
    # Slurm holds a requeued job for two minutes; let it start now, but in a later second than
    # the requeue: slurmd refuses a job whose credential was revoked in the same second
    time.sleep(2)
    subprocess.run(["scontrol", "update", f"JobId={second_job}", "StartTime=now"], check=True)
    done = bench(*on_slurm)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Report:" in done.stdout
    assert _job_id(net) == second_job, done.stdout  # followed, not submitted again

    log = (net / "train.log").read_text()  # resumed from its checkpoint twice, trained once
    assert log.count("starting") == 1 and log.count("resuming") == 2, log
    epochs = [
        json.loads(line)["epoch"] for line in (net / "history.jsonl").read_text().splitlines()
    ]
    assert epochs == list(range(1, len(epochs) + 1))
    for run in folder.glob("*-s0*"):  # no run trained twice to completion
        assert (run / "train.log").read_text().count("complete:") == 1, run

    output, _ = local_bench.communicate(timeout=300)
    assert local_bench.returncode == 0, output
    assert leaderboard(folder) == leaderboard(local / "mini")
    assert len(leaderboard(folder)) == 6

    # Slurm's own log: every job of the suite was allocated by slurmctld, the cancelled one too
    controller = _controller_log(slurm_cluster)
    for job_id in {_job_id(run) for run in folder.glob("*-s0*")} | {first_job}:
        assert _started(job_id, controller), job_id

    status = subprocess.run(
        [sys.executable, "-m", "sentibench.cli", "bench", "status", "--runs", str(runs)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert status.returncode == 0 and status.stdout.count("complete") >= 3, status.stdout
    assert second_job in status.stdout


def _job_id(run: Path) -> str:
    return json.loads((run / "job.json").read_text())["job_id"]


def _epochs(run: Path) -> int:
    try:
        return len((run / "history.jsonl").read_text().splitlines())
    except FileNotFoundError:
        return 0


def _state(job_id: str) -> str:
    out = subprocess.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"],
                         capture_output=True, text=True).stdout.split()  # fmt: skip
    return out[0] if out else ""


def _alive_in_squeue(job_id: str) -> bool:
    return _state(job_id) in ("PENDING", "RUNNING", "COMPLETING")


def _started(job_id: str, controller_log: str) -> bool:
    """slurmctld started the job: by its main scheduler ("sched: Allocate JobId=1_2(3)") or by
    the backfill one ("sched/backfill: _start_job: Started JobId=1_2(3)")."""
    return re.search(rf"(Allocate|Started) JobId={re.escape(job_id)}\b", controller_log) is not None


def _controller_log(cluster: Path) -> str:
    return (cluster / "log" / "slurmctld.log").read_text()


def test_tune_on_slurm_two_worker_jobs_share_one_journal_study(slurm_cluster, tmp_path):
    """`tune --executor slurm`: the workers are Slurm jobs (the shared options: partition, time
    limit, memory) asking one JournalStorage study (the default on a cluster) for trials."""
    space = tmp_path / "space.toml"
    space.write_text("C = {low = 0.5, high = 50.0, log = true}\nmin_df = [2, 3]\n")
    runs = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, "-m", "sentibench.cli", "tune", "tfidf_lr", "--data", "sample",
         "--trials", "4", "--folds", "2", "--study", "s", "--pruner", "none", "--space",
         str(space), "--set", "threads=1", "--set", "ngram_max=1", "--runs", str(runs),
         "--executor", "slurm", "--max-parallel", "2", "--cpus-per-run", "1",
         "--partition", "local", "--time-limit", "10", "--mem-per-run", "1G"],
        capture_output=True, text=True, timeout=300, env=bench_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    folder = runs / "tune" / "s"
    assert (folder / "journal.log").exists() and not (folder / "study.db").exists()
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / "journal.log")))
    trials = optuna.load_study(study_name="s", storage=storage).trials
    assert [t.state.name for t in trials].count("COMPLETE") == 4
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    jobs = {t.user_attrs["slurm_job"] for t in trials}  # every trial trained inside a job
    controller = _controller_log(slurm_cluster)
    assert jobs and all(_started(job, controller) for job in jobs)
