"""`sentibench tune`: check everything, hold the study's lock, clean up after a killed tune,
then run the trials here (one at a time) or in K workers through bench's executor seam."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from sentibench.bench.executor import DONE, Executor, Job
from sentibench.bench.options import ExecutorOptions
from sentibench.errors import SentibenchError
from sentibench.tune.job import TuneJob
from sentibench.tune.search import (
    check_same_study,
    console,
    fail_left_running,
    open_study,
    prepare,
    run_trials,
    study_lock,
    summary,
)

WORKER = (sys.executable, "-m", "sentibench.tune.worker")
TICK_SECONDS = 0.5


def make_executor(options: ExecutorOptions, folder: Path, study: str) -> Executor:
    """bench's executors, given the tune worker instead of the run worker."""
    if options.executor == "slurm":
        from sentibench.bench.slurm import SlurmExecutor, check_cluster

        check_cluster(options)
        return SlurmExecutor(folder / "logs" / "slurm", options, WORKER, f"sentibench-tune-{study}")
    from sentibench.bench.local import LocalExecutor

    return LocalExecutor(WORKER, options.max_parallel, options.threads())


def run_workers(job: TuneJob, options: ExecutorOptions) -> None:
    """K workers, each asking the shared study for trials until it has N."""
    executor = make_executor(options, job.folder, job.study)
    jobs = []
    for index in range(options.max_parallel):
        folder = job.folder / "workers" / str(index)
        values = {**job.to_dict(), "worker": index}
        jobs.append(Job(f"worker-{index}", folder, folder.with_suffix(".log"), {"tune": values}))
    interrupted = True
    try:
        handles = executor.submit_all(jobs)
        while any(executor.poll(handle) != DONE for handle in handles):
            executor.wait(next(h for h in handles if h.state != DONE), TICK_SECONDS)
        interrupted = False
    finally:
        executor.close(interrupted)
    failed = [handle for handle in handles if handle.returncode != 0]
    if failed:
        logs = ", ".join(str(h.job.log_path) for h in failed)
        raise SentibenchError(f"{len(failed)} tune worker(s) failed; see {logs}.")


def tune(job: TuneJob, executor: ExecutorOptions | None = None) -> Any:
    """Run the study to job.trials finished trials; return it (an optuna.Study)."""
    space, _ = prepare(job)  # a bad space or config: one sentence, before anything exists
    if job.sampler == "grid":
        space.grid()
    with study_lock(job.folder, job.study):
        study = open_study(job, space)
        check_same_study(job, study)
        stale = fail_left_running(job, study)
        if stale:
            console.print(f"{stale} trial(s) left running by a stopped tune: marked failed")
        if executor is None or (executor.executor == "local" and executor.max_parallel == 1):
            run_trials(job)
        else:
            run_workers(job, executor)
        console.print(f"study {job.study}: {summary(study)} (storage {job.storage})")
        return study


def deadline(timeout_minutes: float | None) -> float | None:
    return None if timeout_minutes is None else time.time() + 60 * timeout_minutes
