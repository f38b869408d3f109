"""Executor options: suite [executor] < command line, thread division, and one sentence for a
bad value before anything is submitted."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sentibench.bench.options import (
    ExecutorOptions,
    divide_cores,
    parse_minutes,
    parse_slurm_options,
    resolve,
)
from sentibench.bench.suite import load_suite
from sentibench.errors import ConfigError


@pytest.mark.parametrize(
    "cores, runs, threads", [(2, 1, 2), (2, 2, 1), (2, 3, 1), (16, 4, 4), (16, 3, 5), (1, 8, 1)]
)
def test_cores_are_divided_among_the_runs_at_once(cores, runs, threads):
    assert divide_cores(cores, runs) == threads
    assert threads * min(runs, cores) <= cores  # never more threads than cores


def test_local_default_threads_divide_this_machine_and_slurm_defaults_to_one():
    cores = len(os.sched_getaffinity(0))
    assert ExecutorOptions(max_parallel=2).threads() == max(1, cores // 2)
    assert ExecutorOptions(max_parallel=2, cpus_per_run=3).threads() == 3
    assert ExecutorOptions(executor="slurm", max_parallel=8).threads() == 1


def test_the_command_line_wins_over_the_suite_file(fakes, tiny_data, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        f'data = "{tiny_data}"\npreset = "quick"\n[executor]\nexecutor = "slurm"\n'
        'max_parallel = 4\ncpus_per_run = 2\npartition = "gpu"\n'
        'slurm_options = { account = "nlp", qos = "low" }\n[[runs]]\nmodel = "keyword"\n'
    )
    suite = load_suite(str(path))
    options = resolve(
        suite.executor,
        {"max_parallel": 2, "cpus_per_run": None, "slurm_options": {"qos": "high"}},
    )
    assert options == ExecutorOptions(
        executor="slurm", max_parallel=2, cpus_per_run=2, partition="gpu",
        slurm_options={"account": "nlp", "qos": "high"},
    )  # fmt: skip


def test_an_unknown_executor_key_in_the_suite_is_one_sentence(fakes, tiny_data, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(f'data = "{tiny_data}"\n[executor]\ncores = 4\n[[runs]]\nmodel = "keyword"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'cores' in \[executor\]; allowed keys"):
        load_suite(str(path))


@pytest.mark.parametrize(
    "values, message",
    [
        ({"max_parallel": -1}, "--max-parallel must be an integer >= 1, got -1."),
        ({"max_parallel": 0}, "--max-parallel must be an integer >= 1, got 0."),
        ({"cpus_per_run": -2}, "--cpus-per-run must be an integer >= 1, got -2."),
        ({"gpus_per_run": -1}, "--gpus-per-run must be an integer >= 0, got -1."),
        ({"executor": "ray"}, "--executor 'ray' is not one of local, slurm."),
        ({"time_limit": "soon"}, "--time-limit 'soon' is not a time"),
        ({"executor": "slurm", "mem_per_run": "lots"}, "--mem-per-run 'lots' is not a memory"),
        ({"partition": "gpu"}, "--partition is a Slurm option; add --executor slurm"),
        ({"slurm_options": {"qos": "x"}}, "--slurm-option is a Slurm option"),
    ],
)
def test_bad_options_are_one_sentence(values, message):
    with pytest.raises(ConfigError) as caught:
        resolve({}, values)
    assert str(caught.value).startswith(message) and str(caught.value).count(". ") == 0


@pytest.mark.parametrize(
    "text, minutes",
    [("90", 90), ("1:30:00", 90), ("2-00:00:00", 2880), ("10:30", 11), ("1-2", 1560)],
)
def test_time_limits_take_slurm_forms(text, minutes):
    assert parse_minutes(text) == minutes


def test_slurm_options_are_key_value():
    assert parse_slurm_options(["account=nlp", "--qos=high", "constraint=a100|h100"]) == {
        "account": "nlp", "qos": "high", "constraint": "a100|h100",
    }  # fmt: skip
    with pytest.raises(ConfigError, match="--slurm-option 'account' is not KEY=VALUE"):
        parse_slurm_options(["account"])


def test_bench_cli_refuses_a_negative_number_before_anything_runs(tmp_path):
    runs = tmp_path / "runs"
    result = subprocess.run(
        [sys.executable, "-m", "sentibench.cli", "bench", "--suite", "quick", "--runs",
         str(runs), "--max-parallel", "-1"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --max-parallel must be an integer >= 1, got -1."
    ]
    assert not runs.exists()  # nothing was created, let alone trained
