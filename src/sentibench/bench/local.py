"""The local executor: up to K worker processes at once on this machine, the cores divided
among them (each worker's torch/OpenMP/BLAS pools sized by --cpus-per-run).

Each worker runs in a new session, so stopping a run kills its whole process group, and a
crash or the out-of-memory killer takes only that run down. A worker kills itself when the
bench that started it is gone (bench/worker.py), so a killed bench leaves no training behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
from collections.abc import Sequence

from sentibench.bench.executor import DONE, QUEUED, RUNNING, Handle, Job
from sentibench.bench.options import thread_env
from sentibench.runs import now_iso


class LocalExecutor:
    name = "local"

    def __init__(
        self,
        worker: tuple[str, ...],
        parallel: int = 1,
        threads: int | None = None,
        gpus_per_run: int = 0,
        gpus: int = 0,
    ) -> None:
        self.worker, self.parallel, self.threads = worker, max(1, parallel), threads
        self.gpus_per_run = gpus_per_run
        self.free_gpus = list(range(gpus))  # device indices not given to a running worker
        self.queue: list[Handle] = []
        self.processes: dict[int, tuple[Handle, subprocess.Popen]] = {}  # id(handle) -> worker
        self.host = socket.gethostname()

    def submit(self, job: Job) -> Handle:
        handle = Handle(job)
        self.queue.append(handle)
        self._fill()
        return handle

    def submit_all(self, jobs: Sequence[Job]) -> list[Handle]:
        return [self.submit(job) for job in jobs]

    def _reap(self) -> None:
        """Collect every worker that has ended: its slot and GPUs are free again only then."""
        for key, (handle, process) in list(self.processes.items()):
            if process.poll() is not None:
                del self.processes[key]
                self._ended(handle, process.returncode)

    def _ended(self, handle: Handle, returncode: int | None) -> None:
        handle.returncode = returncode
        handle.mark(DONE)
        self.free_gpus += handle.extra.pop("gpus", [])

    def _fill(self) -> None:
        """Start queued jobs, in order, while fewer than `parallel` run."""
        self._reap()
        while self.queue and len(self.processes) < self.parallel:
            self._start(self.queue.pop(0))

    def _start(self, handle: Handle) -> None:
        job = handle.job
        spec = {**job.spec, "parent_pid": os.getpid()}
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.threads is not None:
            spec["threads"] = self.threads
            env.update(thread_env(self.threads))
        if self.gpus_per_run:  # each worker sees only its own GPUs
            devices = [self.free_gpus.pop(0) for _ in range(self.gpus_per_run)]
            handle.extra["gpus"] = devices
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, devices))
            if self.gpus_per_run > 1:
                spec["gpus"] = self.gpus_per_run
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(job.log_path, "a", encoding="utf-8") as log:
            log.write(f"=== {now_iso()} {job.name}\n")
            log.flush()
            handle.extra["log_offset"] = log.tell()
            process = subprocess.Popen(
                [*self.worker, json.dumps(spec)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
            log.write(f"=== worker pid {process.pid}\n")
        self.processes[id(handle)] = (handle, process)
        handle.job_id, handle.node = str(process.pid), self.host
        handle.mark(RUNNING)

    def poll(self, handle: Handle) -> str:
        if handle.state != DONE:
            self._fill()  # reaps every ended worker, this one's too
        return handle.state

    def wait(self, handle: Handle, seconds: float) -> None:
        """Block up to `seconds` for this handle's worker (the bench's tick)."""
        running = self.processes.get(id(handle))
        if running is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                running[1].wait(timeout=seconds)

    def cancel(self, handle: Handle) -> None:
        handle.cancelled = True
        if handle.state == QUEUED and handle in self.queue:
            self.queue.remove(handle)
            handle.mark(DONE)
            return
        running = self.processes.pop(id(handle), None)
        if running is None:
            return
        process = running[1]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self._ended(handle, process.returncode)

    def close(self, interrupted: bool) -> None:
        """Local workers never outlive the bench: stop what still runs."""
        self.queue.clear()
        for _, process in list(self.processes.values()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.processes.clear()
