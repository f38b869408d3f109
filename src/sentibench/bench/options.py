"""Executor options: where the runs of a suite train and with what resources.

The same keys come from the suite file's `[executor]` table and from the command line (which
wins); `resolve` checks them once, before anything is submitted, so a bad value is one
sentence and no job.

    [executor]
    executor = "slurm"        # local | slurm
    max_parallel = 4          # runs at once (Slurm: the job array's parallelism)
    cpus_per_run = 8          # threads per run (local default: cores // max_parallel)
    gpus_per_run = 1          # >1: the run is launched with torchrun inside its job
    mem_per_run = "16G"       # Slurm --mem
    time_limit = "4:00:00"    # Slurm --time (minutes or [D-]HH:MM:SS); local: a budget
    partition = "gpu"
    slurm_options = { account = "nlp", qos = "normal" }   # any other sbatch option
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sentibench.errors import ConfigError

EXECUTORS = ("local", "slurm")
SLURM_ONLY = ("mem_per_run", "partition", "slurm_options")
DEFAULT_SLURM_MINUTES = 60  # a Slurm job's time limit when neither --time-limit nor a budget


@dataclass(frozen=True)
class ExecutorOptions:
    executor: str = "local"
    max_parallel: int = 1
    cpus_per_run: int | None = None  # None: local cores // max_parallel, Slurm 1
    gpus_per_run: int = 0
    mem_per_run: str | None = None
    time_limit: str | None = None
    partition: str | None = None
    slurm_options: dict[str, str] = field(default_factory=dict)

    @property
    def time_limit_minutes(self) -> int | None:
        return None if self.time_limit is None else parse_minutes(self.time_limit)

    def threads(self) -> int:
        """Threads per run: --cpus-per-run, else this machine's cores divided among the runs."""
        if self.cpus_per_run is not None:
            return self.cpus_per_run
        if self.executor == "slurm":
            return 1
        return divide_cores(available_cores(), self.max_parallel)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def divide_cores(cores: int, runs_at_once: int) -> int:
    """Cores per run so that `runs_at_once` trainings never ask for more than the machine has
    (two torch trainings with all-core thread pools each slow each other down ~10x)."""
    return max(1, cores // max(1, runs_at_once))


def thread_env(threads: int) -> dict[str, str]:
    """The variables torch (OpenMP), MKL, OpenBLAS and numexpr read for their pool sizes."""
    value = str(threads)
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
    return dict.fromkeys(names, value)


_MEM = re.compile(r"^\d+(\.\d+)?[KMGT]?B?$", re.IGNORECASE)
_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def parse_minutes(text: str) -> int:
    """Slurm's time forms: MINUTES, MM:SS, HH:MM:SS, D-HH[:MM[:SS]] -> whole minutes (>= 1)."""
    match = _TIME.match(text.strip())
    if not match:
        raise ConfigError(
            f"--time-limit {text!r} is not a time; give minutes (90) or [D-]HH:MM:SS (1:30:00)."
        )
    days, first, second, third = match.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        hours, minutes, seconds = int(first), int(second or 0), int(third or 0)
    elif third is not None:  # HH:MM:SS
        hours, minutes, seconds = int(first), int(second), int(third)
    elif second is not None:  # MM:SS
        hours, minutes, seconds = 0, int(first), int(second)
    else:
        hours, minutes, seconds = 0, int(first), 0
    total = int(days or 0) * 1440 + hours * 60 + minutes + (1 if seconds else 0)
    if total < 1:
        raise ConfigError(f"--time-limit {text!r} must be at least one minute.")
    return total


def parse_slurm_options(items: list[str]) -> dict[str, str]:
    """["account=nlp", "qos=high"] -> {"account": "nlp", "qos": "high"}."""
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise ConfigError(
                f"--slurm-option {item!r} is not KEY=VALUE; e.g. --slurm-option account=nlp."
            )
        parsed[key] = value.strip()
    return parsed


def from_table(table: Any, where: str) -> dict[str, Any]:
    """The `[executor]` table of a suite file, its keys checked (values are checked later)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [executor] must be a table.")
    allowed = [f.name for f in fields(ExecutorOptions)]
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key '{key}' in [executor]; allowed keys: {', '.join(allowed)}."
            )
    values = dict(table)
    if "slurm_options" in values:
        options = values["slurm_options"]
        if not isinstance(options, dict):
            raise ConfigError(f"{where}: [executor] slurm_options must be a table of KEY = VALUE.")
        values["slurm_options"] = {str(k): str(v) for k, v in options.items()}
    return values


def resolve(suite_values: dict[str, Any], cli_values: dict[str, Any]) -> ExecutorOptions:
    """Defaults < the suite's [executor] < the command line (None: not given); then checked."""
    merged: dict[str, Any] = {}
    for source in (suite_values, cli_values):
        for key, value in source.items():
            if value is None or (key == "slurm_options" and not value):
                continue
            if key == "slurm_options":
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    options = replace(ExecutorOptions(), **merged)
    check(options)
    return options


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check(options: ExecutorOptions) -> None:
    """Checks that need no cluster: kinds, signs and forms. One sentence per problem."""
    if options.executor not in EXECUTORS:
        raise ConfigError(f"--executor {options.executor!r} is not one of {', '.join(EXECUTORS)}.")
    for name, least in (("max_parallel", 1), ("cpus_per_run", 1), ("gpus_per_run", 0)):
        value = getattr(options, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{_flag(name)} must be an integer >= {least}, got {value!r}.")
    if options.mem_per_run is not None and not _MEM.match(str(options.mem_per_run)):
        raise ConfigError(
            f"--mem-per-run {options.mem_per_run!r} is not a memory size; "
            "give one such as 8G or 500M."
        )
    if options.time_limit is not None:
        parse_minutes(str(options.time_limit))
    if options.executor == "local":
        for name in SLURM_ONLY:
            if getattr(options, name):
                raise ConfigError(
                    f"{_flag(name).replace('options', 'option')} is a Slurm option; "
                    "add --executor slurm or leave it out."
                )
