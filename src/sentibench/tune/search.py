"""Run a study to --trials finished trials: ask, train, tell; resumable after kill -9.

- Exactly N: a trial is asked for under a file lock, and only while complete + pruned +
  running trials are fewer than N, so parallel workers never overshoot; a failed trial (a
  collapse, a user error in a combination of settings) does not count and is retried.
- Resume: the tune command holds the study's lock while it runs, so a trial still RUNNING
  when it starts was left by a killed tune: it is marked FAIL and its run folder removed
  (Optuna never reuses a number; the next trial gets a new one and a new folder).
- Heartbeats (Optuna's fail_stale_trials) would need optimize()'s trial loop, which cannot
  hold the ask lock; the study lock gives the same answer without waiting a grace period.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from sentibench.errors import Pruned, SentibenchError
from sentibench.registry import get_spec
from sentibench.runs import exclusive_lock
from sentibench.train.runner import resolve_config
from sentibench.tune.job import TuneJob
from sentibench.tune.objective import remove_run_folder, run_trial
from sentibench.tune.space import SearchSpace, load_space
from sentibench.tune.study import finished, load_study, make_pruner, make_sampler

MAX_FAILURES_IN_A_ROW = 3  # then the study stops: the settings or the data are wrong
console = Console(stderr=True)


@contextlib.contextmanager
def ask_lock(folder: Path) -> Iterator[None]:
    """Blocking: one worker at a time counts the trials and asks for the next one."""
    with open(folder / ".ask.lock", "w") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def study_lock(folder: Path, study: str) -> Iterator[None]:
    """One tune command per study at a time (released by the OS even on kill -9)."""
    folder.mkdir(parents=True, exist_ok=True)
    busy = SentibenchError(
        f"Another `sentibench tune` is running study {study!r}; wait or stop it."
    )
    with open(folder / ".tune.lock", "w") as handle, exclusive_lock(handle.fileno(), busy):
        yield


def prepare(job: TuneJob) -> tuple[SearchSpace, Any]:
    """The model's resolved base config and the checked search space (before any trial)."""
    spec = get_spec(job.model)
    base, _ = resolve_config(spec, spec.load_recipe(), job.preset, None, job.overrides, None)
    return load_space(Path(job.space), base), base


def open_study(job: TuneJob, space: SearchSpace) -> Any:
    grid = space.grid() if job.sampler == "grid" else None
    sampler = make_sampler(job.sampler, job.seed + job.worker, grid)
    return load_study(job.study, job.storage, sampler, make_pruner(job.pruner, job.trials))


def check_same_study(job: TuneJob, study: Any) -> None:
    """A study name continues the same search: another model or data is refused."""
    what = {"model": job.model, "data": job.data, "metric": job.metric, "folds": job.folds}
    recorded = {key: study.user_attrs.get(key) for key in what}
    if all(value is None for value in recorded.values()):
        for key, value in {**what, "space": job.space, "preset": job.preset}.items():
            study.set_user_attr(key, value)
    elif recorded != what:
        raise SentibenchError(
            f"Study {job.study!r} searched {recorded}, not {what}; pass another --study."
        )


def fail_left_running(job: TuneJob, study: Any) -> int:
    """Trials a killed tune left RUNNING: FAIL, and their folders replaced (see above)."""
    from optuna.trial import TrialState

    left = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in left:
        study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        remove_run_folder(job.trial_dir(trial.number))
    return len(left)


def _next_trial(job: TuneJob, study: Any) -> Any | None:
    from optuna.trial import TrialState

    with ask_lock(job.folder):
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if finished(study) + running >= job.trials:
            return None
        if job.deadline is not None and time.time() >= job.deadline:
            return None
        return study.ask()


def run_trials(job: TuneJob) -> None:
    """This worker's loop: ask for the next trial until the study has N (or time is up)."""
    from optuna.trial import TrialState

    space, base = prepare(job)
    study = open_study(job, space)
    failures = 0
    while (trial := _next_trial(job, study)) is not None:
        try:
            value = run_trial(job, space, base, trial)
        except Pruned as exc:
            study.tell(trial, state=TrialState.PRUNED)
            console.print(f"trial {trial.number}: {exc}")
            continue
        except SentibenchError as exc:  # a collapse, a bad combination: this trial only
            trial.set_user_attr("error", str(exc))
            study.tell(trial, state=TrialState.FAIL)
            console.print(f"trial {trial.number} failed: {exc}")
            failures += 1
            if failures >= MAX_FAILURES_IN_A_ROW:
                raise SentibenchError(
                    f"{failures} trials in a row failed, the last with: {exc}"
                ) from None
            continue
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            raise
        failures = 0
        study.tell(trial, value)
        console.print(f"trial {trial.number}: {job.metric} {value:.4f} {trial.params}")


def summary(study: Any) -> dict[str, int]:
    from optuna.trial import TrialState

    counts = {state.name.lower(): 0 for state in TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] += 1
    return counts
