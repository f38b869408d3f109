"""Run a suite: every run in its own process, finished records skipped, the rest (re)started.

- Where: an executor (bench/executor.py) runs the jobs: local processes, K at once with the
  cores divided among them (bench/local.py), or a Slurm job array (bench/slurm.py). This
  module only decides which runs, follows their handles and reads their run directories.
- Isolation: a run is `python -m sentibench.bench.worker`, in a process of its own. An exception,
  a segfault or the out-of-memory killer ends that process only; the run is recorded as
  failed with its error and the suite goes on.
- Budget: a run still going after its budget is killed (its process group) and recorded as
  failed; rerunning the suite resumes it from its last checkpoint (the runner resumes an
  unfinished run directory).
- Resume: run directories are named by the suite (see suite.py). A rerun skips complete and
  collapsed records and resumes running (killed) or failed ones, so kill -9 anywhere and rerun
  finishes the suite with nothing lost and nothing run twice.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from sentibench.bench.executor import DONE, JOB_FILE, QUEUED, RUNNING, Executor, Handle, Job
from sentibench.bench.local import LocalExecutor
from sentibench.bench.options import ExecutorOptions
from sentibench.bench.progress import Outcome, SuiteProgress
from sentibench.bench.suite import Suite, SuiteRun
from sentibench.bench.worker import LOCKED
from sentibench.data.dataset import resolve_data
from sentibench.errors import ConfigError, SentibenchError
from sentibench.registry import get_spec
from sentibench.runs import RunDir, atomic_write_json, exclusive_lock, load_run, now_iso

WORKER = (sys.executable, "-m", "sentibench.bench.worker")
FINISHED = ("complete", "collapsed")  # a rerun keeps these records as they are
TICK_SECONDS = 0.5


def suite_dir(suite: Suite, runs_root: Path) -> Path:
    return Path(runs_root) / suite.name


def existing_status(run: SuiteRun, path: Path) -> str | None:
    """Status of the record at `path`, after checking that it is this run (or None)."""
    if not (path / "config.json").exists():
        return None
    record = load_run(path)
    if record.status not in FINISHED:
        return record.status
    recorded = (record.model, record.config["config"].get("seed"), record.config["data"]["source"])
    if recorded != (run.model, run.seed, run.data):
        raise SentibenchError(
            f"Run {path} holds {recorded[0]} seed {recorded[1]} on {recorded[2]}, not what the "
            "suite asks for; use another --runs folder or remove that run."
        )
    return record.status


@contextlib.contextmanager
def suite_lock(folder: Path) -> Iterator[None]:
    """One bench per suite folder at a time (the lock dies with its process, even on kill -9)."""
    folder.mkdir(parents=True, exist_ok=True)
    busy = SentibenchError(
        f"Another `sentibench bench` is running in {folder}; wait for it or stop it."
    )
    with open(folder / ".bench.lock", "w") as handle, exclusive_lock(handle.fileno(), busy):
        yield


def _log_tail(log_path: Path, offset: int) -> str | None:
    """The last line this attempt wrote to its log: the worker's error, or a traceback's end."""
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        handle.seek(offset)
        lines = [
            line.strip()
            for line in handle.read().splitlines()
            if line.strip() and not line.startswith("===")  # the bench's own lines
        ]
    return lines[-1][:500] if lines else None


def _failure_message(run: SuiteRun, handle: Handle, executor: str, tail: str | None) -> str:
    code = handle.returncode
    if handle.extra.get("over_budget") and run.budget_seconds is not None:
        return (
            f"stopped after its time budget of {run.budget_seconds / 60:g} min; rerun the suite "
            "to resume it, or raise budget_minutes"
        )
    if executor == "slurm" and (code is None or code < 0 or handle.cancelled):
        how = "was cancelled" if handle.cancelled else f"ended ({handle.detail or 'gone'})"
        return (
            f"the Slurm job {handle.job_id} {how} before the run finished; rerun the bench to "
            "resume it from its last epoch"
        )
    if code is None:
        return tail or "the training process ended without an exit code"
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"the training process was killed by {name}{hint}"
    return tail or f"the training process exited with code {code}"


def _record_failure(run: SuiteRun, path: Path, message: str) -> None:
    """Mark the run failed; before the runner made its record, write a stand-in one."""
    run_dir = RunDir(path)
    if not run_dir.config_path.exists():
        run_dir.create()
        atomic_write_json(
            run_dir.config_path,
            {
                "model": run.model,
                "family": get_spec(run.model).family,
                "preset": run.preset,
                "config": {"seed": run.seed},
                "data": {"source": run.data, "sha256": None},
                "bench_placeholder": True,  # removed before the run is tried again
                "created": now_iso(),
            },
        )
    run_dir.set_status("failed", message)


def _clear_placeholder(path: Path) -> None:
    config = path / "config.json"
    if config.exists() and json.loads(config.read_text()).get("bench_placeholder"):
        shutil.rmtree(path)


def _mtime(path: Path) -> float | None:
    return path.stat().st_mtime_ns if path.exists() else None


def make_job(run: SuiteRun, path: Path, log_path: Path) -> Job:
    spec = {
        "model": run.model,
        "preset": run.preset,
        "seed": run.seed,
        "data": run.data,
        "overrides": run.override_args(),
        "out": str(path),
    }
    return Job(run.name, path, log_path, spec, run.budget_seconds)


def collect(run: SuiteRun, handle: Handle, executor: str) -> Outcome:
    """What became of a finished handle, read from its run directory; a failure the runner
    could not record itself (a killed worker) is recorded here."""
    path = handle.job.path
    seconds = handle.elapsed()
    status = RunDir(path).status() if (path / "config.json").exists() else None
    if status in FINISHED:
        record = load_run(path)
        return Outcome(run.name, path, record.status, record.message, seconds, skipped=False)
    tail = _log_tail(handle.job.log_path, handle.extra.get("log_offset", 0))
    if handle.returncode == LOCKED:  # trained by someone else right now: not ours to record
        return Outcome(run.name, path, "failed", tail or "the run is locked", seconds, False)
    recorded_now = _mtime(RunDir(path).status_path) != handle.extra.get("status_before")
    code = handle.returncode
    over_budget = handle.extra.get("over_budget", False)
    if status == "failed" and recorded_now and not over_budget and code is not None and code > 0:
        message = load_run(path).message  # the runner recorded the error itself
    else:
        message = _failure_message(run, handle, executor, tail)
        _record_failure(run, path, message)
    return Outcome(run.name, path, "failed", message, seconds, skipped=False)


def execute(
    run: SuiteRun,
    path: Path,
    log_path: Path,
    worker: tuple[str, ...],
    tick: Callable[[], None],
) -> Outcome:
    """Train one run in a worker process; wait, enforce its budget, record what happened."""
    _clear_placeholder(path)
    executor = LocalExecutor(worker)
    job = make_job(run, path, log_path)
    status_before = _mtime(RunDir(path).status_path)
    handle = executor.submit(job)
    handle.extra["status_before"] = status_before
    try:
        while executor.poll(handle) != DONE:
            executor.wait(handle, TICK_SECONDS)
            tick()
            _enforce_budget(executor, handle)
    except BaseException:  # Ctrl-C: stop the worker; its run stays resumable
        executor.close(interrupted=True)
        raise
    return collect(run, handle, executor.name)


def _enforce_budget(executor: Executor, handle: Handle) -> None:
    budget = handle.job.budget_seconds
    if budget is not None and handle.state == RUNNING and handle.elapsed() > budget:
        handle.extra["over_budget"] = True
        executor.cancel(handle)


def make_executor(
    options: ExecutorOptions, suite: Suite, folder: Path, worker: tuple[str, ...]
) -> Executor:
    """The executor the options name, its options checked against the machine or cluster
    before anything is submitted."""
    if options.executor == "slurm":
        from sentibench.bench.slurm import SlurmExecutor, check_cluster

        check_cluster(options)
        budgets = [r.budget_seconds for r in suite.runs if r.budget_seconds is not None]
        budget = max(budgets) / 60 if budgets else None
        return SlurmExecutor(folder / "logs" / "slurm", options, worker,
                             f"sentibench-{suite.name}", budget)  # fmt: skip
    gpus = check_local_gpus(options) if options.gpus_per_run else 0
    return LocalExecutor(worker, options.max_parallel, options.threads(),
                         options.gpus_per_run, gpus)  # fmt: skip


def check_local_gpus(options: ExecutorOptions) -> int:
    """The GPUs this machine has, if enough for --gpus-per-run x --max-parallel."""
    visible = _visible_gpus()
    wanted = options.gpus_per_run * options.max_parallel
    if visible < wanted:
        raise ConfigError(
            f"--gpus-per-run {options.gpus_per_run} x --max-parallel {options.max_parallel} "
            f"needs {wanted} GPUs and this machine has {visible}; lower them or leave "
            "--gpus-per-run out."
        )
    return visible


def _visible_gpus() -> int:
    try:
        import torch
    except ModuleNotFoundError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def live_slurm_job(path: Path) -> dict[str, Any] | None:
    """The run's job.json if it names a Slurm job that is still queued or running."""
    job_file = path / JOB_FILE
    if not job_file.exists():
        return None
    try:
        info = json.loads(job_file.read_text())
    except ValueError:
        return None
    if info.get("executor") != "slurm":
        return None
    from sentibench.bench.lock import slurm_job_alive

    job_id = str(info.get("job_id"))
    alive = slurm_job_alive(job_id)
    if alive is None:  # never submit again on a guess: two jobs would race for the run
        raise SentibenchError(
            f"Run {path} was submitted as Slurm job {job_id} and squeue cannot say whether it "
            f"still runs; rerun where squeue answers, or remove {job_file} if that job is gone."
        )
    return info if alive else None


def _write_job_file(executor: str, handle: Handle) -> None:
    run_dir = RunDir(handle.job.path)
    run_dir.create()
    atomic_write_json(
        run_dir.path / JOB_FILE,
        {
            "executor": executor,
            "job_id": handle.job_id,
            "submitted": now_iso(),
            "log_offset": handle.extra.get("log_offset", 0),
        },
    )


def run_suite(
    suite: Suite,
    runs_root: Path = Path("runs"),
    console: Console | None = None,
    worker: tuple[str, ...] = WORKER,
    report: bool = True,
    options: ExecutorOptions | None = None,
    detach: bool = False,
) -> list[Outcome]:
    """Run every run of `suite` not already finished under runs_root/<suite>; then report.

    `options` say where (bench/options.py; default: here, one run at a time). `detach`
    (Slurm): return once the jobs are submitted, with one "submitted" outcome per job."""
    console = console or Console()
    options = options or ExecutorOptions()
    if detach and options.executor != "slurm":
        raise ConfigError("--detach needs --executor slurm (local runs end with their bench).")
    folder = suite_dir(suite, runs_root)
    for data in sorted({run.data for run in suite.runs}):
        resolve_data(data)  # a missing dataset stops the suite before anything trains
    with suite_lock(folder):
        plan = [(run, folder / run.name) for run in suite.runs]
        states = [existing_status(run, path) for run, path in plan]
        executor = make_executor(options, suite, folder, worker)  # checks before submitting
        to_run = sum(state not in FINISHED for state in states)
        outcomes: dict[int, Outcome] = {}
        with SuiteProgress(console, suite.name, len(plan), to_run, executor.parallel) as progress:
            try:
                handles = _submit(executor, plan, states, folder, progress, outcomes)
                if detach:
                    for index, handle in handles.items():
                        job = handle.job
                        note = f"Slurm job {handle.job_id}"
                        outcomes[index] = Outcome(job.name, job.path, "submitted", note, 0.0, False)
                    return [outcomes[i] for i in sorted(outcomes)]
                _follow(executor, handles, plan, progress, outcomes)
            except BaseException:
                executor.close(interrupted=True)
                if executor.name == "slurm":
                    console.print(
                        f"The Slurm jobs go on; `sentibench bench status --runs {folder}` shows "
                        "them, and rerunning this command collects them.",
                        markup=False, highlight=False,
                    )  # fmt: skip
                raise
            executor.close(interrupted=False)
        if report:
            from sentibench.eval.report import write_report

            write_report(folder, folder / "report", title=f"sentibench suite '{suite.name}'")
    return [outcomes[i] for i in sorted(outcomes)]


def _submit(
    executor: Executor,
    plan: list[tuple[SuiteRun, Path]],
    states: list[str | None],
    folder: Path,
    progress: SuiteProgress,
    outcomes: dict[int, Outcome],
) -> dict[int, Handle]:
    """Skip finished runs, follow the live Slurm jobs of an earlier bench, submit the rest."""
    handles: dict[int, Handle] = {}
    pending: list[tuple[int, Job]] = []
    for index, ((run, path), state) in enumerate(zip(plan, states, strict=True), 1):
        if state in FINISHED:
            outcome = Outcome(run.name, path, state, None, 0.0, skipped=True)
            progress.finished(index, outcome)
            outcomes[index] = outcome
            continue
        job = make_job(run, path, folder / "logs" / f"{run.name}.log")
        live = live_slurm_job(path)
        if live is not None:
            attach = getattr(executor, "attach", None)  # an executor that can follow it
            if attach is None:
                raise SentibenchError(
                    f"Run {path} is queued or running as Slurm job {live['job_id']}; wait for "
                    "it (sentibench bench status), scancel it, or rerun with --executor slurm."
                )
            handle = attach(job, str(live["job_id"]), int(live.get("log_offset", 0)))
            handle.extra["status_before"] = _mtime(RunDir(path).status_path)
            handles[index] = handle
            continue
        _clear_placeholder(path)
        pending.append((index, job))
    befores = [_mtime(RunDir(job.path).status_path) for _, job in pending]
    submitted = executor.submit_all([job for _, job in pending])
    for (index, _), handle, before in zip(pending, submitted, befores, strict=True):
        handle.extra["status_before"] = before
        if executor.name == "slurm":
            _write_job_file(executor.name, handle)
        handles[index] = handle
    return handles


def _follow(
    executor: Executor,
    handles: dict[int, Handle],
    plan: list[tuple[SuiteRun, Path]],
    progress: SuiteProgress,
    outcomes: dict[int, Outcome],
) -> None:
    """Poll every handle until each is done; enforce budgets; record and show outcomes."""
    shown: dict[int, str] = {}
    while handles:
        for index, handle in list(handles.items()):
            state = executor.poll(handle)
            if state != shown.get(index):
                shown[index] = state
                if state == QUEUED:
                    progress.queued(index, handle.job.name, handle.job_id)
                elif state == RUNNING:
                    progress.started(index, handle.job.name, handle.job.path, handle.node)
            if state == DONE:
                outcome = collect(plan[index - 1][0], handle, executor.name)
                progress.finished(index, outcome)
                outcomes[index] = outcome
                del handles[index]
            else:
                _enforce_budget(executor, handle)
        if handles:
            running = [h for h in handles.values() if h.state == RUNNING]
            executor.wait(running[0] if running else next(iter(handles.values())), TICK_SECONDS)
            progress.tick()
