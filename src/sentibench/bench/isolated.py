"""One training in a worker process of its own, outside a suite: how benchmarks/ scripts get a
run record per trained model. It is the suite runner's: a crash, the out-of-memory killer or a
kill -9 ends that process only and leaves a failed (resumable) record; the worker's peak memory
is its own; a finished record (complete or collapsed) is kept, an unfinished one resumes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentibench.bench.runner import FINISHED, WORKER, execute, existing_status
from sentibench.bench.suite import SuiteRun, normalise_data
from sentibench.config import parse_value
from sentibench.data.dataset import resolve_data
from sentibench.registry import get_spec
from sentibench.runs import RunRecord, load_run
from sentibench.train.runner import resolve_config


def run_isolated(
    model: str,
    out: Path,
    data: str = "auto",
    preset: str | None = None,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    worker: tuple[str, ...] = WORKER,
) -> RunRecord:
    """Train `model` into `out` in a worker process, unless `out` already holds its finished
    record; return the record (a failed one too: look at its status). `overrides` are --set
    strings; `seed` None keeps the preset's (or the overrides'). `worker` is the command the
    job's JSON is appended to (a benchmark with splits of its own passes its own worker)."""
    out = Path(out)
    spec = get_spec(model)
    # resolved now: a bad override fails here, and the record's seed is known before it exists
    config, preset = resolve_config(spec, spec.load_recipe(), preset, None, list(overrides), seed)
    values = _flat(overrides)
    values.pop("seed", None)  # carried by the run's seed, which the runner applies last
    run = SuiteRun(model, preset, config.seed, normalise_data(data, Path.cwd()), values, None,
                   out.name)  # fmt: skip
    if existing_status(run, out) not in FINISHED:
        resolve_data(run.data)  # a missing dataset: one clear error, no worker started
        execute(run, out, out.parent / "logs" / f"{out.name}.log", worker, lambda: None)
    return load_run(out)


def _flat(overrides: Sequence[str]) -> dict[str, Any]:
    """["model.hidden=64"] -> {"model.hidden": 64} (resolve_config has checked their form)."""
    pairs = (item.partition("=") for item in overrides)
    return {key.strip(): parse_value(raw.strip()) for key, _, raw in pairs}
