"""The executors: the local one runs K workers at once with the cores divided among them;
the Slurm job's callable runs the same worker under submitit's debug and local executors."""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from sentibench.bench.executor import DONE, Job
from sentibench.bench.local import LocalExecutor
from sentibench.bench.options import ExecutorOptions, available_cores, divide_cores
from sentibench.bench.runner import run_suite
from sentibench.bench.slurm import RunInJob
from sentibench.bench.suite import load_suite
from sentibench.runs import load_run

# A worker that records the pool sizes it was given and when it ran.
PROBE = """
import json, os, sys, time
job = json.loads(sys.argv[1])
from sentibench.bench.worker import apply_threads
apply_threads(job)
import torch
started = time.time()
time.sleep(1.5)
record = {"omp": os.environ.get("OMP_NUM_THREADS"), "torch": torch.get_num_threads(),
          "started": started, "ended": time.time()}
open(job["out"] + ".json", "w").write(json.dumps(record))
"""


def _job(tmp_path: Path, name: str) -> Job:
    out = tmp_path / name
    return Job(name, out, tmp_path / "logs" / f"{name}.log", {"out": str(out)})


def test_local_runs_k_at_once_with_the_cores_divided(tmp_path):
    threads = divide_cores(available_cores(), 2)
    executor = LocalExecutor((sys.executable, "-c", PROBE), parallel=2, threads=threads)
    handles = executor.submit_all([_job(tmp_path, f"run{i}") for i in range(3)])
    assert [h.state for h in handles] == ["running", "running", "queued"]
    deadline = time.monotonic() + 90
    while any(executor.poll(h) != DONE for h in handles):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    records = [json.loads((tmp_path / f"run{i}.json").read_text()) for i in range(3)]
    assert {(r["omp"], r["torch"]) for r in records} == {(str(threads), threads)}
    first, second, third = records
    assert first["started"] < second["ended"] and second["started"] < first["ended"]  # together
    assert third["started"] >= min(first["ended"], second["ended"])  # never three at once
    assert [h.returncode for h in handles] == [0, 0, 0]


def test_a_suite_with_max_parallel_2_keeps_its_order_and_records(fakes, tiny_data, tmp_path):
    path = tmp_path / "suite.toml"
    path.write_text(
        f'data = "{tiny_data}"\npreset = "quick"\n'
        '[[runs]]\nmodel = "slow"\noverrides = { epochs = 3, epoch_seconds = 0.3 }\n'
        '[[runs]]\nmodel = "exploding"\n'
    )
    console = Console(file=io.StringIO(), width=200)
    options = ExecutorOptions(max_parallel=2, cpus_per_run=1)
    outcomes = run_suite(load_suite(str(path)), tmp_path / "runs", console, fakes.WORKER,
                         report=False, options=options)  # fmt: skip
    assert [(o.name.split("-")[0], o.status) for o in outcomes] == [
        ("slow", "complete"),
        ("exploding", "failed"),
    ]  # the slow one finished last: outcomes stay in the suite's order
    assert outcomes[1].message == "RuntimeError: boom in epoch 1"
    assert not any((o.path / ".train.lock").exists() for o in outcomes)  # every lock released


def _spec(tiny_data: Path, out: Path) -> dict:
    return {"model": "keyword", "preset": "quick", "seed": 0, "data": str(tiny_data),
            "overrides": [], "out": str(out), "threads": 1}  # fmt: skip


@pytest.mark.parametrize("kind", ["debug", "local"])
def test_the_slurm_jobs_callable_trains_the_run_under_submitit(fakes, tiny_data, tmp_path, kind):
    import submitit

    out = tmp_path / "runs" / "keyword-quick-s0"
    log = tmp_path / "runs" / "logs" / "keyword.log"
    executor = (submitit.DebugExecutor if kind == "debug" else submitit.LocalExecutor)(
        folder=tmp_path / "submitit"
    )
    if kind == "local":
        executor.update_parameters(timeout_min=5)
    job = executor.submit(RunInJob(fakes.WORKER, _spec(tiny_data, out), str(log), out.name))
    assert job.result() == 0
    assert load_run(out).status == "complete"
    text = log.read_text()
    assert "=== training on" in text and text.rstrip().endswith("=== worker exit 0")


def test_checkpoint_stops_the_worker_before_the_job_is_requeued(tiny_data, tmp_path):
    sleeper = (sys.executable, "-c", "import time; time.sleep(60)")
    run = RunInJob(sleeper, _spec(tiny_data, tmp_path / "r"), str(tmp_path / "r.log"), "r")
    codes = []
    thread = threading.Thread(target=lambda: codes.append(run()))
    thread.start()
    deadline = time.monotonic() + 30
    while run._process is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    delayed = run.checkpoint()
    thread.join(10)
    assert codes == [-9]  # the worker is gone before submitit requeues the job
    assert delayed.function.spec == run.spec and delayed.function._process is None


SHOW_GPUS = """
import json, os, sys, time
job = json.loads(sys.argv[1])
time.sleep(0.5)
open(job["out"] + ".gpus", "w").write(os.environ.get("CUDA_VISIBLE_DEVICES", "") + "|"
                                      + str(job.get("gpus", "")))
"""


def test_each_local_worker_gets_gpus_of_its_own(tmp_path):
    executor = LocalExecutor((sys.executable, "-c", SHOW_GPUS), parallel=2, gpus_per_run=2, gpus=4)
    handles = executor.submit_all([_job(tmp_path, f"run{i}") for i in range(3)])
    deadline = time.monotonic() + 60
    while any(executor.poll(h) != DONE for h in handles):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    seen = [(tmp_path / f"run{i}.gpus").read_text() for i in range(3)]
    assert seen[:2] == ["0,1|2", "2,3|2"] and seen[2] in ("0,1|2", "2,3|2")
    assert sorted(executor.free_gpus) == [0, 1, 2, 3]


def test_a_run_on_several_gpus_is_launched_with_torchrun():
    from sentibench.bench.worker import launch_command

    command = launch_command({"model": "bert_native", "out": "/r", "gpus": 4, "parent_pid": 1})
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4"]
    assert command[5:7] == ["-m", "sentibench.bench.worker"]
    assert json.loads(command[7]) == {"model": "bert_native", "out": "/r"}  # ranks: no relaunch


def test_gpus_on_a_machine_without_enough_is_one_sentence(monkeypatch):
    from sentibench.bench import runner
    from sentibench.errors import ConfigError

    if runner._visible_gpus() >= 2:
        pytest.skip("this machine has GPUs")
    with pytest.raises(ConfigError, match=r"^--gpus-per-run 1 x --max-parallel 2 needs 2 GPUs"):
        runner.check_local_gpus(ExecutorOptions(max_parallel=2, gpus_per_run=1))
