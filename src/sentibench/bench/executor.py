"""The executor seam: where a run trains. The bench decides *which* runs; an executor decides
*where* (local processes, a Slurm cluster). A second engine is one file implementing this.

    handle = executor.submit(job)       # queued (nothing may have started yet)
    executor.poll(handle)               # -> "queued" | "running" | "done"; updates the handle
    executor.cancel(handle)             # stop it; its run directory stays resumable

Every job runs the same worker (`python -m sentibench.bench.worker JOB_JSON`) on its run
directory, and the run directory is the only state: when a handle is done, the bench reads
what happened from the run's record and its bench log, never from the executor.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

QUEUED, RUNNING, DONE = "queued", "running", "done"
JOB_FILE = "job.json"  # in the run directory: which executor job holds the run, and where


@dataclass
class Job:
    """One run to train: the worker's JSON job, where its output goes, how long it may take."""

    name: str
    path: Path  # the run directory
    log_path: Path  # the run's bench log (the worker's stdout and stderr)
    spec: dict[str, Any]  # the worker's job: model, preset, seed, data, overrides, out, threads
    budget_seconds: float | None = None


@dataclass
class Handle:
    """A submitted job as the bench follows it."""

    job: Job
    job_id: str = ""  # the executor's id: a pid, a Slurm job id
    state: str = QUEUED
    node: str = ""
    returncode: int | None = None  # the worker's exit code (None: unknown, e.g. killed)
    detail: str = ""  # the executor's last word on it (a Slurm state, ...)
    started: float | None = None  # time.monotonic() when it was first seen running
    ended: float | None = None
    cancelled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def mark(self, state: str) -> None:
        if state != QUEUED and self.started is None:
            self.started = time.monotonic()
        if state == DONE and self.ended is None:
            self.ended = time.monotonic()
        self.state = state


class Executor(Protocol):
    name: str
    parallel: int  # runs at once

    def submit(self, job: Job) -> Handle: ...

    def submit_all(self, jobs: Sequence[Job]) -> list[Handle]:
        """All jobs of a suite at once (Slurm: one job array); default: one submit each."""
        ...

    def poll(self, handle: Handle) -> str: ...

    def wait(self, handle: Handle, seconds: float) -> None:
        """Block up to `seconds`, returning early if `handle` ends (the bench's tick)."""
        ...

    def cancel(self, handle: Handle) -> None: ...

    def close(self, interrupted: bool) -> None:
        """The bench is ending (`interrupted`: by Ctrl-C or an error)."""
        ...
