"""`bench status`: every run's state read from its folder alone (status, job.json, the run
lock, history), printed as one table."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

from rich.console import Console

from sentibench.bench.lock import LOCK_NAME, holder
from sentibench.bench.runner import run_suite
from sentibench.bench.status import collect_states
from sentibench.bench.suite import load_suite
from sentibench.runs import RunDir


def test_status_tells_complete_running_killed_and_failed_runs_apart(fakes, tiny_data, tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(
        f'data = "{tiny_data}"\npreset = "quick"\n'
        '[[runs]]\nmodel = "keyword"\n[[runs]]\nmodel = "exploding"\n'
    )
    runs = tmp_path / "runs"
    run_suite(load_suite(str(suite)), runs, Console(file=io.StringIO()), fakes.WORKER,
              report=False)  # fmt: skip
    folder = runs / "suite"
    for name, lock in (("running-s0", True), ("killed-s0", False)):
        run = RunDir(folder / name)
        run.create()
        (run.path / "config.json").write_text(json.dumps({"model": "slow"}))
        run.set_status("running")
        run.append_history({"epoch": 1})
        run.append_history({"epoch": 2})
        if lock:
            (run.path / LOCK_NAME).write_text(json.dumps(holder()))  # this live process
    states = {row.name: row for row in collect_states(runs)}
    assert {name: row.state for name, row in states.items()} == {
        "exploding-quick-s0": "failed",
        "keyword-quick-s0": "complete",
        "killed-s0": "failed",
        "running-s0": "running",
    }
    running = states["running-s0"]
    assert (running.job, running.epoch) == (f"pid {os.getpid()}", "2") and running.node
    assert "rerun the bench to resume" in states["killed-s0"].note
    assert states["keyword-quick-s0"].note.startswith("accuracy ")

    shown = subprocess.run(
        [sys.executable, "-m", "sentibench.cli", "bench", "status", "--runs", str(runs)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "keyword-quick-s0" in shown.stdout and "1 complete, 2 failed, 1 running" in shown.stdout
