"""The run lock: O_EXCL, released when its holder ends, stale only when the holder is gone."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from sentibench.bench.lock import LOCK_NAME, read_lock, run_lock, stale_reason
from sentibench.errors import SentibenchError

HOLD = """
import sys, time
from pathlib import Path
from sentibench.bench.lock import run_lock
with run_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_lock_is_exclusive_while_held_and_gone_after(tmp_path):
    with run_lock(tmp_path) as me:
        assert read_lock(tmp_path) == me and me["pid"] == os.getpid()
        with (
            pytest.raises(SentibenchError, match=r"is being trained by pid \d+ on "),
            run_lock(tmp_path),
        ):
            pass
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_live_holder_in_another_process_keeps_it_and_a_killed_one_does_not(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(SentibenchError, match=f"pid {holder.pid}"), run_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    assert (tmp_path / LOCK_NAME).exists()  # kill -9 left it behind: stale now
    assert stale_reason(read_lock(tmp_path)) == f"its process {holder.pid} on " + (
        f"{socket.gethostname()} has ended"
    )
    with run_lock(tmp_path) as me:
        assert read_lock(tmp_path) == me


def test_a_reused_pid_is_not_the_holder(tmp_path):
    lock = {"slurm_job": None, "host": socket.gethostname(), "pid": os.getpid(),
            "pid_start": "1", "since": "2026-01-01T00:00:00+00:00"}  # fmt: skip
    (tmp_path / LOCK_NAME).write_text(json.dumps(lock))
    assert stale_reason(lock) is not None  # same pid, another start time
    with run_lock(tmp_path):
        pass


def test_a_holder_on_another_host_without_a_slurm_job_is_never_guessed_stale(tmp_path):
    lock = {"slurm_job": None, "host": "elsewhere", "pid": 1, "since": "2026-01-01T00:00:00"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(lock))
    with (
        pytest.raises(SentibenchError, match="pid 1 on elsewhere .* remove that file"),
        run_lock(tmp_path),
    ):
        pass


def test_a_requeued_slurm_job_takes_back_its_own_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "41")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    lock = {"slurm_job": "41_3", "host": "node7", "pid": 12, "since": "2026-01-01T00:00:00"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(lock))
    assert stale_reason(lock) == "it was this Slurm job 41_3 before it was requeued"
    with run_lock(tmp_path) as me:
        assert me["slurm_job"] == "41_3"


def test_the_lock_is_released_even_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError), run_lock(tmp_path):
        raise RuntimeError("boom")
    assert not (tmp_path / LOCK_NAME).exists()
    started = time.monotonic()
    with run_lock(tmp_path):
        pass
    assert time.monotonic() - started < 1


def test_a_run_is_never_resubmitted_when_squeue_cannot_answer(tmp_path, monkeypatch):
    """A busy or unreachable controller is not a finished job: the bench stops with the run
    and the job named instead of submitting a second job for the same run."""
    from sentibench.bench.runner import live_slurm_job

    tools = tmp_path / "bin"
    tools.mkdir()
    squeue = tools / "squeue"
    squeue.write_text("#!/bin/sh\necho 'squeue: error: Socket timed out' >&2\nexit 1\n")
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    run = tmp_path / "run"
    run.mkdir()
    (run / "job.json").write_text(json.dumps({"executor": "slurm", "job_id": "41"}))
    with pytest.raises(SentibenchError, match=r"Slurm job 41 and squeue cannot say"):
        live_slurm_job(run)
    squeue.write_text("#!/bin/sh\necho 'slurm_load_jobs error: Invalid job id specified' >&2\n"
                      "exit 1\n")  # fmt: skip
    assert live_slurm_job(run) is None  # purged by the controller: long gone, submit again
