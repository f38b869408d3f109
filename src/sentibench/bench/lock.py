"""The run lock: never two trainings of one run directory at once, on one machine or across
the nodes of a cluster (the run folder lives on a filesystem every node sees).

The worker creates RUN/.train.lock with O_EXCL before it trains, writes its Slurm job id (if
any), host, pid and start time into it, and removes it when it ends. A lock left behind by a
killed worker is stale only when its holder is gone for sure:

- held by a Slurm job: that job is no longer in squeue (or it is this very job, requeued:
  Slurm never runs two incarnations of one job at once);
- held by a plain process: it was on this host and that pid is gone (or is another process).

A lock held by a process on another host without a Slurm job cannot be checked: it is
refused with the file's path, for a person to remove.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sentibench.errors import SentibenchError
from sentibench.runs import now_iso

LOCK_NAME = ".train.lock"
FINISHED_SLURM = ("COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
                  "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "REVOKED")  # fmt: skip


def slurm_job_id() -> str | None:
    """This process's Slurm job as squeue names it (12_3 for an array task), or None."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID") or None


def _start_time(pid: int) -> str | None:
    """The kernel's start time of a process (tells a reused pid from the one that locked)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def holder() -> dict[str, Any]:
    pid = os.getpid()
    return {
        "slurm_job": slurm_job_id(),
        "host": socket.gethostname(),
        "pid": pid,
        "pid_start": _start_time(pid),
        "since": now_iso(),
    }


def slurm_job_alive(job_id: str, tries: int = 3) -> bool | None:
    """True/False from squeue; None when Slurm cannot be asked from here (no squeue, or no
    answer after `tries`: a busy controller times out now and then)."""
    if shutil.which("squeue") is None:
        return None
    for attempt in range(tries):
        if attempt:
            time.sleep(1.0)
        alive = _ask_squeue(job_id)
        if alive is not None:
            return alive
    return None


def _ask_squeue(job_id: str) -> bool | None:
    try:
        result = subprocess.run(
            ["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        if "Invalid job id" in result.stderr:
            return False  # purged from the controller: long gone
        return None
    states = result.stdout.split()
    return any(state not in FINISHED_SLURM for state in states)


def _process_alive(pid: int, pid_start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, someone else's
    state = _state(pid)
    if state in ("Z", "X", None):
        return False
    return pid_start is None or _start_time(pid) == pid_start


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def stale_reason(info: dict[str, Any]) -> str | None:
    """Why a lock's holder is certainly gone, or None while it may still train."""
    job = info.get("slurm_job")
    if job:
        if job == slurm_job_id():
            pid = info.get("pid")
            same_host = info.get("host") == socket.gethostname()
            if same_host and isinstance(pid, int) and _process_alive(pid, info.get("pid_start")):
                return None  # an earlier incarnation's worker still runs here: wait for it
            return f"it was this Slurm job {job} before it was requeued"
        alive = slurm_job_alive(job)
        return f"its Slurm job {job} has ended" if alive is False else None
    if info.get("host") != socket.gethostname():
        return None
    pid = info.get("pid")
    if isinstance(pid, int) and not _process_alive(pid, info.get("pid_start")):
        return f"its process {pid} on {info.get('host')} has ended"
    return None


def read_lock(run_path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(run_path) / LOCK_NAME).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # being written right now, or damaged


def _describe(info: dict[str, Any]) -> str:
    who = f"Slurm job {info['slurm_job']}" if info.get("slurm_job") else f"pid {info.get('pid')}"
    return f"{who} on {info.get('host', '?')} since {info.get('since', '?')}"


@contextlib.contextmanager
def run_lock(run_path: Path) -> Iterator[dict[str, Any]]:
    """Hold RUN/.train.lock while the block runs; refuse if a live holder has it."""
    path = Path(run_path) / LOCK_NAME
    me = holder()
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            info = read_lock(run_path)
            if info is None:
                continue  # released meanwhile: try again
            reason = stale_reason(info) if info else None
            if reason is None:
                raise SentibenchError(
                    f"Run {run_path} is being trained by {_describe(info) if info else 'someone'} "
                    f"(lock {path}); wait for it, or remove that file if its holder is gone."
                ) from None
            _take_over(path, info)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(me, handle)
        break
    else:
        raise SentibenchError(f"Could not take the lock {path}; another worker keeps taking it.")
    try:
        yield me
    finally:
        if read_lock(run_path) == me:
            path.unlink(missing_ok=True)


def _take_over(path: Path, info: dict[str, Any]) -> None:
    """Remove a stale lock, only if it is still the one judged stale."""
    with contextlib.suppress(FileNotFoundError):
        if json.loads(path.read_text() or "{}") == info:
            path.unlink()
