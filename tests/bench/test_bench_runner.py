"""The bench runs each run in its own process: failures are recorded and the suite goes on;
kill -9 of the bench and a rerun finish the suite with nothing lost and nothing run twice."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from sentibench.bench.runner import run_suite
from sentibench.bench.suite import load_suite
from sentibench.runs import load_run

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX process groups")


def write_suite(folder: Path, data: Path, runs: str) -> Path:
    path = folder / "suite.toml"
    path.write_text(f'data = "{data}"\npreset = "quick"\n{runs}')
    return path


def run_quietly(suite, runs: Path, worker) -> tuple[list, str]:
    console = Console(file=io.StringIO(), width=200)
    outcomes = run_suite(suite, runs, console, worker=worker, report=False)
    return outcomes, console.file.getvalue()


def test_an_exception_is_recorded_and_the_suite_goes_on(fakes, tiny_data, tmp_path):
    path = write_suite(
        tmp_path, tiny_data, '[[runs]]\nmodel = "exploding"\n[[runs]]\nmodel = "keyword"\n'
    )
    outcomes, printed = run_quietly(load_suite(str(path)), tmp_path / "runs", fakes.WORKER)
    assert [(o.status, o.message) for o in outcomes] == [
        ("failed", "RuntimeError: boom in epoch 1"),  # what the runner recorded in the worker
        ("complete", None),
    ]
    assert load_run(outcomes[0].path).status == "failed"
    assert "[2/2] keyword-quick-s0: complete, accuracy 1.0000" in printed


# Workers that die in the ways a real one can, without the cost of starting a real one.
PYTHON = sys.executable
OOM_KILLED = (PYTHON, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
SLEEPS = (PYTHON, "-c", "import time; time.sleep(60)")
FAILS_EARLY = (PYTHON, "-c", "import sys; sys.exit('error: Model needs the package x.')")


@pytest.mark.parametrize(
    "worker, budget, message",
    [
        (OOM_KILLED, "", "the training process was killed by SIGKILL (out of memory?)"),
        (SLEEPS, "budget_minutes = 0.01", "stopped after its time budget of 0.01 min; rerun"),
        (FAILS_EARLY, "", "error: Model needs the package x."),
    ],
)
def test_a_dead_worker_leaves_a_failed_record(fakes, tiny_data, tmp_path, worker, budget, message):
    path = write_suite(tmp_path, tiny_data, f'{budget}\n[[runs]]\nmodel = "keyword"\n')
    started = time.monotonic()
    (outcome,), _ = run_quietly(load_suite(str(path)), tmp_path / "runs", worker)
    assert time.monotonic() - started < 30
    assert outcome.status == "failed" and outcome.message.startswith(message)
    record = load_run(outcome.path)  # a stand-in record, so the report lists the failure
    assert (record.status, record.message, record.model) == ("failed", outcome.message, "keyword")


def test_a_failed_run_is_tried_again_on_a_rerun(fakes, tiny_data, tmp_path):
    suite = load_suite(str(write_suite(tmp_path, tiny_data, '[[runs]]\nmodel = "keyword"\n')))
    (failed,), _ = run_quietly(suite, tmp_path / "runs", FAILS_EARLY)
    assert load_run(failed.path).config.get("bench_placeholder")
    (again,), _ = run_quietly(suite, tmp_path / "runs", fakes.WORKER)
    record = load_run(again.path)  # the stand-in record was cleared, the rerun trained for real
    assert again.status == record.status == "complete" and "bench_placeholder" not in record.config


def _worker_pid(log: Path) -> int:
    return int(re.findall(r"=== worker pid (\d+)", log.read_text())[-1])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has stopped running


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kill_9_then_rerun_finishes_with_nothing_lost_and_nothing_run_twice(
    fakes, tiny_data, tmp_path
):
    suite = write_suite(
        tmp_path,
        tiny_data,
        """
[[runs]]
model = "keyword"
[[runs]]
model = "slow"
overrides = { epochs = 6, epoch_seconds = 0.5 }
""",
    )
    runs = tmp_path / "runs"
    first, slow = (runs / "suite" / run.name for run in load_suite(str(suite)).runs)
    command = [*fakes.WORKER[:2], "bench", str(suite), str(runs)]
    bench = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: (slow / "history.jsonl").exists())
    bench.send_signal(signal.SIGKILL)  # the bench dies mid-epoch, without any clean-up
    bench.wait()
    worker = _worker_pid(runs / "suite" / "logs" / f"{slow.name}.log")
    _wait_for(lambda: not _alive(worker), 10)  # its worker noticed and killed itself
    assert load_run(first).status == "complete" and load_run(slow).status == "running"
    before = _snapshot(first)

    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=120)

    assert _snapshot(first) == before  # the finished run was skipped: not a byte touched
    assert load_run(slow).status == "complete"
    history = (slow / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in history] == [1, 2, 3, 4, 5, 6]
    log = (slow / "train.log").read_text()  # resumed from its checkpoint, no epoch twice
    assert log.count("starting") == 1 and log.count("resuming") == 1


def test_a_second_bench_on_the_same_suite_is_refused(fakes, tiny_data, tmp_path):
    import fcntl

    from sentibench.errors import SentibenchError

    suite = load_suite(str(write_suite(tmp_path, tiny_data, '[[runs]]\nmodel = "keyword"\n')))
    folder = tmp_path / "runs" / "suite"
    folder.mkdir(parents=True)
    with open(folder / ".bench.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(SentibenchError, match="Another `sentibench bench` is running"):
            run_suite(suite, tmp_path / "runs", Console(file=io.StringIO()), report=False)


def test_bench_cli_reports_a_bad_suite_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sentibench.cli", "bench", "--suite", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},  # one line, not wrapped at 80 columns
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: Unknown suite 'nope'; shipped suites: cpu, cpu_long, published, quick, seed, "
        "or give a .toml file."
    ]
