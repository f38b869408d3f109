"""One suite run in its own process: `python -m sentibench.bench.worker JOB_JSON`.

Every executor runs this same worker on the run directory (local: a process in a new session;
Slurm: inside the job). It

- takes the run lock (bench/lock.py), so two trainings of one run never overlap, not even on
  two nodes;
- sizes the thread pools (`threads`: --cpus-per-run) before torch starts them;
- with `gpus` > 1, launches the run on that many GPUs with torchrun (the training loop is
  accelerate's, so it runs distributed as it is) and holds the lock meanwhile;
- kills itself when the process that started it (`parent_pid`) is gone, so a killed bench or a
  killed Slurm job step never leaves a training writing the run directory.

Exit codes: 0 complete, 2 failed with a user error, 3 collapsed, 4 the run is locked by a live
training elsewhere; a bug exits 1 with its traceback in the run's bench log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentibench.data.dataset import Splits

PARENT_POLL_SECONDS = 0.5
LOCKED = 4
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS")  # fmt: skip


def watch_parent(parent_pid: int) -> None:
    """Kill this process group as soon as the bench that started it is gone."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_SECONDS)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def run_job(job: dict[str, Any], splits: Splits | None = None) -> int:
    """Train one job of the bench runner; its exit code. `splits`: a benchmark's own (see
    run_training), for a worker of its own that the runner starts instead of this one."""
    from sentibench.errors import CollapseError, SentibenchError
    from sentibench.train.runner import run_training

    try:
        run_training(
            job["model"],
            data=job["data"],
            preset=job["preset"],
            overrides=job["overrides"],
            seed=job["seed"],
            out=Path(job["out"]),
            splits=splits,
        )
    except CollapseError as exc:
        print(f"collapsed: {exc}", file=sys.stderr)
        return 3
    except SentibenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def apply_threads(job: dict[str, Any]) -> None:
    """--cpus-per-run: the pool sizes of torch, OpenMP and BLAS, before any of them starts (a
    run's own `threads` config value, applied later by the runner, still wins)."""
    threads = job.get("threads")
    if not threads:
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    from sentibench.runtime import set_threads

    set_threads(int(threads))


def launch_command(job: dict[str, Any]) -> list[str]:
    """One run on several GPUs: torchrun starts one worker per GPU (ranks > 0 write nothing)."""
    inner = {k: v for k, v in job.items() if k not in ("gpus", "parent_pid")}
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={job['gpus']}", "-m", "sentibench.bench.worker",
            json.dumps(inner)]  # fmt: skip


def train_locked(job: dict[str, Any], splits: Splits | None = None) -> int:
    """Hold the run lock while the run trains here (or under torchrun)."""
    from sentibench.bench.lock import run_lock
    from sentibench.errors import SentibenchError
    from sentibench.runs import RunDir

    out = Path(job["out"])
    try:
        RunDir(out).create()  # the marker first: the lock file goes into a folder of ours
        with run_lock(out) as me:
            if RunDir(out).status() in ("complete", "collapsed"):  # e.g. a late duplicate job
                print(f"=== {out} is already {RunDir(out).status()}: nothing to train", flush=True)
                return 0
            print(f"=== training on {me['host']} (pid {me['pid']})", flush=True)
            if int(job.get("gpus") or 0) > 1:
                return subprocess.call(launch_command(job))
            return run_job(job, splits)
    except SentibenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return LOCKED if "is being trained by" in str(exc) else 2


def main(argv: list[str] | None = None) -> int:
    job = json.loads((argv if argv is not None else sys.argv[1:])[0])
    if job.get("parent_pid"):
        watch_parent(job["parent_pid"])
    apply_threads(job)
    if os.environ.get("RANK") is not None and "gpus" not in job:
        return run_job(job)  # one rank of a torchrun launch: the outer worker holds the lock
    return train_locked(job)


if __name__ == "__main__":
    sys.exit(main())
