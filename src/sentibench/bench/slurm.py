"""The Slurm executor, through submitit: one job array per suite (`slurm_array_parallelism`
= --max-parallel), each task running the bench's worker on its run directory.

The run directory, on a filesystem every node sees, is the only state: the bench may exit
after submitting (--detach) and a later `bench` or `bench status` reads the runs' records,
their job.json (which job holds the run) and squeue. State comes from squeue, which works
without Slurm's accounting daemon (submitit's own state tracking needs sacct).

Killed jobs (scancel, timeout, node failure, preemption) resume from their last epoch
checkpoint: submitit requeues a timed-out or preempted job (the job's callable is
Checkpointable), and the next `bench` resubmits any other unfinished run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentibench.bench.executor import DONE, QUEUED, RUNNING, Handle, Job
from sentibench.bench.lock import FINISHED_SLURM, slurm_job_id
from sentibench.bench.options import DEFAULT_SLURM_MINUTES, ExecutorOptions, thread_env
from sentibench.errors import ConfigError, SentibenchError
from sentibench.runs import now_iso

SQUEUE_EVERY_SECONDS = 1.0
QUEUED_STATES = ("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                 "RESV_DEL_HOLD", "SUSPENDED")  # fmt: skip
EXIT_LINE = re.compile(r"^=== worker exit (-?\d+)$", re.MULTILINE)


def _ignore_stop_signals() -> None:
    """In the worker under Slurm: SIGTERM and SIGUSR2 are for submitit's handler in the job's
    main process (checkpoint, requeue); the worker dies with it (watch_parent) or by SIGKILL."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)


class RunInJob:
    """What a Slurm job (an array task) runs: the bench's worker on one run directory, its
    output appended to the run's bench log. Checkpointable: on timeout or preemption submitit
    calls checkpoint() and requeues the job, which then resumes the run from its last epoch."""

    def __init__(self, worker: Sequence[str], spec: dict[str, Any], log_path: str, name: str):
        self.worker, self.spec, self.log_path, self.name = list(worker), spec, log_path, name
        self._process: subprocess.Popen | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_process"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _process=None)

    def __call__(self) -> int:
        spec = {**self.spec, "parent_pid": os.getpid()}
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if spec.get("threads"):
            env.update(thread_env(int(spec["threads"])))
        where = f"job {slurm_job_id() or os.getpid()} on {socket.gethostname()}"
        log_path = Path(self.log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"=== {now_iso()} {self.name} ({where})\n")
            log.flush()
            self._process = subprocess.Popen(
                [*self.worker, json.dumps(spec)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_ignore_stop_signals,
            )
            log.write(f"=== worker pid {self._process.pid}\n")
            log.flush()
            code = self._process.wait()
            log.write(f"=== worker exit {code}\n")
        return code

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Stop the worker before the job is requeued (never two trainings of one run); the
        run's own epoch checkpoint is the state the requeued job resumes from."""
        from submitit.helpers import DelayedSubmission

        process = self._process
        if process is not None and process.returncode is None:
            # no process.wait() here: this runs in submitit's signal handler, which may have
            # interrupted __call__ inside wait() (its lock is held); a zombie trains nothing
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            deadline = time.monotonic() + 30
            while _running(process.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        return DelayedSubmission(type(self)(self.worker, self.spec, self.log_path, self.name))


def _running(pid: int) -> bool:
    """Whether a process still runs (a zombie, killed and not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _run(command: list[str], what: str) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SentibenchError(f"Slurm did not answer {what} ({exc}); is the cluster up?") from None
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise SentibenchError(f"Slurm refused {what}: {message[-1] if message else 'no message'}.")
    return result.stdout


def _mem_mb(text: str) -> float:
    match = re.match(r"^(\d+(?:\.\d+)?)([KMGT]?)B?$", text.strip(), re.IGNORECASE)
    assert match, text
    scale = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024**2}[match.group(2).upper()]
    return float(match.group(1)) * scale


def check_cluster(options: ExecutorOptions) -> str | None:
    """Check the options against the cluster (sinfo) before anything is submitted; return the
    partition the jobs go to (None: Slurm's default)."""
    if importlib.util.find_spec("submitit") is None:
        raise ConfigError(
            "--executor slurm needs submitit; install it with pip install 'sentibench[slurm]'."
        )
    if shutil.which("sbatch") is None or shutil.which("squeue") is None:
        raise ConfigError(
            "--executor slurm needs Slurm's sbatch and squeue on this machine (not found); run "
            "on a login node of the cluster, or start a one-node one with "
            "scripts/slurm-local.sh start."
        )
    lines = _run(["sinfo", "-h", "-o", "%P|%c|%m|%G"], "sinfo").splitlines()
    partitions: dict[str, list[tuple[int, float, str]]] = {}
    default = None
    for line in lines:
        name, cpus, mem, gres = (line.split("|") + ["", "", ""])[:4]
        if name.endswith("*"):
            name = name[:-1]
            default = name
        with contextlib.suppress(ValueError):
            nodes = partitions.setdefault(name, [])
            nodes.append((int(cpus.rstrip("+")), float(mem.rstrip("+") or 0), gres))
    partition = options.partition or default
    if options.partition is not None and options.partition not in partitions:
        known = ", ".join(sorted(partitions)) or "none"
        raise ConfigError(
            f"--partition {options.partition!r} is not a partition of this cluster; "
            f"partitions: {known}."
        )
    nodes = partitions.get(partition or "", [])
    where = f"partition '{partition}'" if partition else "this cluster"
    if options.gpus_per_run and nodes and not any("gpu" in gres for *_, gres in nodes):
        raise ConfigError(
            f"--gpus-per-run {options.gpus_per_run}: no node of {where} has GPUs (sinfo shows "
            "no gpu gres); leave it out or choose a GPU partition with --partition."
        )
    wanted = options.threads()
    if nodes and wanted > max(c for c, _, _ in nodes):
        raise ConfigError(
            f"--cpus-per-run {wanted} is more than any node of {where} has "
            f"({max(c for c, _, _ in nodes)} CPUs)."
        )
    if options.mem_per_run and nodes:
        most = max(m for _, m, _ in nodes)
        if most and _mem_mb(options.mem_per_run) > most:
            raise ConfigError(
                f"--mem-per-run {options.mem_per_run} is more than any node of {where} has "
                f"({most:.0f} MB)."
            )
    return partition


class SlurmExecutor:
    name = "slurm"

    def __init__(
        self,
        folder: Path,
        options: ExecutorOptions,
        worker: tuple[str, ...],
        job_name: str = "sentibench",
        budget_minutes: float | None = None,
    ) -> None:
        self.folder, self.options, self.worker = Path(folder), options, worker
        self.parallel = options.max_parallel
        self.job_name, self.budget_minutes = job_name, budget_minutes
        self._states: dict[str, tuple[str, str]] = {}  # job id -> (state, node)
        self._checked = 0.0
        self._answered = False
        self._arrays: set[str] = set()  # the Slurm jobs of every handle followed

    def minutes(self) -> int:
        if self.options.time_limit_minutes is not None:
            return self.options.time_limit_minutes
        if self.budget_minutes is not None:  # the run's own budget, plus time to start
            return int(self.budget_minutes) + 5
        return DEFAULT_SLURM_MINUTES

    def parameters(self) -> dict[str, Any]:
        options = self.options
        threads = options.threads()
        extra: dict[str, Any] = dict(options.slurm_options)
        if options.mem_per_run:
            extra.setdefault("mem", options.mem_per_run)
        params: dict[str, Any] = {
            "job_name": self.job_name,
            "cpus_per_task": threads,
            "ntasks_per_node": 1,
            "nodes": 1,
            "time": self.minutes(),
            "array_parallelism": options.max_parallel,
            "stderr_to_stdout": True,
            "setup": [f"export {k}={v}" for k, v in thread_env(threads).items()],
            "additional_parameters": extra,
        }
        if options.partition:
            params["partition"] = options.partition
        if options.gpus_per_run:
            params["gpus_per_node"] = options.gpus_per_run
        return params

    def _spec(self, job: Job) -> dict[str, Any]:
        spec = {**job.spec, "threads": self.options.threads()}
        if self.options.gpus_per_run > 1:
            spec["gpus"] = self.options.gpus_per_run
        return spec

    def submit(self, job: Job) -> Handle:
        return self.submit_all([job])[0]

    def submit_all(self, jobs: Sequence[Job]) -> list[Handle]:
        if not jobs:
            return []
        import submitit

        executor = submitit.SlurmExecutor(folder=self.folder, max_num_timeout=3)
        executor.update_parameters(**self.parameters())
        offsets = [j.log_path.stat().st_size if j.log_path.exists() else 0 for j in jobs]
        try:
            with executor.batch():
                pending = [
                    executor.submit(RunInJob(self.worker, self._spec(j), str(j.log_path), j.name))
                    for j in jobs
                ]
        except Exception as exc:  # submitit's FailedJobError / sbatch's message
            lines = str(exc).strip().splitlines()
            raise SentibenchError(
                f"sbatch refused the suite's job array: {lines[-1] if lines else exc}."
            ) from None
        handles = []
        for job, submitted, offset in zip(jobs, pending, offsets, strict=True):
            handle = Handle(job, job_id=str(submitted.job_id))
            handle.extra["log_offset"] = offset
            handles.append(handle)
            self._arrays.add(handle.job_id.split("_")[0])
        return handles

    def attach(self, job: Job, job_id: str, log_offset: int = 0) -> Handle:
        """Follow a job an earlier bench submitted (its id from the run's job.json)."""
        handle = Handle(job, job_id=job_id)
        handle.extra["log_offset"] = log_offset
        self._arrays.add(job_id.split("_")[0])
        return handle

    def _refresh(self) -> None:
        if time.monotonic() - self._checked < SQUEUE_EVERY_SECONDS:
            return
        self._checked = time.monotonic()
        states = squeue(sorted(self._arrays))
        self._answered = states is not None
        if states is not None:
            self._states = states

    def poll(self, handle: Handle) -> str:
        if handle.state == DONE:
            return DONE
        self._arrays.add(handle.job_id.split("_")[0])
        self._refresh()
        state, node = self._states.get(handle.job_id, ("", ""))
        handle.node = node or handle.node
        if state:
            handle.detail = state
        if state in QUEUED_STATES:
            handle.mark(QUEUED)
        elif state and state not in FINISHED_SLURM:
            handle.mark(RUNNING)
        elif state or self._answered:  # finished, or already gone from the controller
            handle.returncode = worker_exit(handle.job.log_path, handle.extra.get("log_offset", 0))
            handle.mark(DONE)
        return handle.state

    def wait(self, handle: Handle, seconds: float) -> None:
        time.sleep(seconds)

    def cancel(self, handle: Handle) -> None:
        handle.cancelled = True
        with contextlib.suppress(SentibenchError):
            _run(["scancel", handle.job_id], f"scancel {handle.job_id}")

    def close(self, interrupted: bool) -> None:
        """Slurm jobs outlive the bench: a rerun or `bench status` follows them."""


def squeue(arrays: Sequence[str]) -> dict[str, tuple[str, str]] | None:
    """job id -> (state, node) of every task of these jobs that the controller still knows
    (finished ones for MinJobAge seconds); None if squeue could not answer."""
    if not arrays:
        return {}
    try:
        result = subprocess.run(
            ["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T|%N", "-j", ",".join(arrays)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        if "Invalid job id" in result.stderr and len(arrays) > 1:
            merged: dict[str, tuple[str, str]] = {}
            for array in arrays:
                merged.update(squeue([array]) or {})
            return merged
        return {} if "Invalid job id" in result.stderr else None
    states = {}
    for line in result.stdout.splitlines():
        job_id, state, node = (line.strip().split("|") + ["", ""])[:3]
        states[job_id] = (state, node)
    return states


def worker_exit(log_path: Path, offset: int) -> int | None:
    """The last worker exit code the job wrote into the run's bench log after `offset`."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            handle.seek(offset)
            codes = EXIT_LINE.findall(handle.read())
    except OSError:
        return None
    return int(codes[-1]) if codes else None
