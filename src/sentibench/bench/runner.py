"""Run a suite: every run in its own process, finished records skipped, the rest (re)started.

- Isolation: a run is `python -m sentibench.bench.worker`, in a new session. An exception,
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
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console

from sentibench.bench.progress import Outcome, SuiteProgress
from sentibench.bench.suite import Suite, SuiteRun
from sentibench.data.dataset import resolve_data
from sentibench.errors import SentibenchError
from sentibench.registry import get_spec
from sentibench.runs import RunDir, atomic_write_json, load_run, now_iso

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
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(folder / ".bench.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SentibenchError(
                f"Another `sentibench bench` is running in {folder}; wait for it or stop it."
            ) from None
        yield


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


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


def _failure_message(run: SuiteRun, code: int, over_budget: bool, tail: str | None) -> str:
    if over_budget and run.budget_seconds is not None:  # only a run with a budget goes over it
        return (
            f"stopped after its time budget of {run.budget_seconds / 60:g} min; rerun the suite "
            "to resume it, or raise budget_minutes"
        )
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


def execute(
    run: SuiteRun,
    path: Path,
    log_path: Path,
    worker: tuple[str, ...],
    tick: Callable[[], None],
) -> Outcome:
    """Train one run in a worker process; wait, enforce its budget, record what happened."""
    _clear_placeholder(path)
    job = {
        "model": run.model,
        "preset": run.preset,
        "seed": run.seed,
        "data": run.data,
        "overrides": run.override_args(),
        "out": str(path),
        "parent_pid": os.getpid(),
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    status_before = _mtime(RunDir(path).status_path)
    started = time.monotonic()
    over_budget = False
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"=== {now_iso()} {run.name}\n")
        log.flush()
        offset = log.tell()
        process = subprocess.Popen(
            [*worker, json.dumps(job)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.write(f"=== worker pid {process.pid}\n")
        log.flush()
        try:
            while process.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=TICK_SECONDS)
                tick()
                elapsed = time.monotonic() - started
                if run.budget_seconds is not None and elapsed > run.budget_seconds:
                    over_budget = process.poll() is None
                    _kill(process)
        except BaseException:  # Ctrl-C: stop the worker; its run stays resumable
            _kill(process)
            raise
    seconds = time.monotonic() - started
    status = RunDir(path).status() if (path / "config.json").exists() else None
    if status in FINISHED:
        record = load_run(path)
        return Outcome(run.name, path, record.status, record.message, seconds, skipped=False)
    recorded_now = _mtime(RunDir(path).status_path) != status_before
    if status == "failed" and recorded_now and not over_budget and process.returncode > 0:
        message = load_run(path).message  # the runner recorded the error itself
    else:
        message = _failure_message(
            run, process.returncode, over_budget, _log_tail(log_path, offset)
        )
        _record_failure(run, path, message)
    return Outcome(run.name, path, "failed", message, seconds, skipped=False)


def run_suite(
    suite: Suite,
    runs_root: Path = Path("runs"),
    console: Console | None = None,
    worker: tuple[str, ...] = WORKER,
    report: bool = True,
) -> list[Outcome]:
    """Run every run of `suite` not already finished under runs_root/<suite>; then report."""
    console = console or Console()
    folder = suite_dir(suite, runs_root)
    for data in sorted({run.data for run in suite.runs}):
        resolve_data(data)  # a missing dataset stops the suite before anything trains
    with suite_lock(folder):
        plan = [(run, folder / run.name) for run in suite.runs]
        states = [existing_status(run, path) for run, path in plan]
        to_run = sum(state not in FINISHED for state in states)
        outcomes = []
        with SuiteProgress(console, suite.name, len(plan), to_run) as progress:
            for index, ((run, path), state) in enumerate(zip(plan, states, strict=True), 1):
                if state in FINISHED:
                    outcome = Outcome(run.name, path, state, None, 0.0, skipped=True)
                else:
                    progress.started(index, run.name, path)
                    log_path = folder / "logs" / f"{run.name}.log"
                    outcome = execute(run, path, log_path, worker, progress.tick)
                progress.finished(index, outcome)
                outcomes.append(outcome)
        if report:
            from sentibench.eval.report import write_report

            write_report(folder, folder / "report", title=f"sentibench suite '{suite.name}'")
    return outcomes
