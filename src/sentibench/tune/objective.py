"""One trial: the settings an Optuna trial suggests, trained as ordinary run records by
run_training on the training split only, scored on validation (or k folds of train).

Nets and transformers report each epoch's validation score (the --metric) to the trial through
the shared loop's epoch callback, so the pruner can stop a bad trial early (its record says pruned).
With --folds K each fold is a run record trial-<n>/fold-<k>/ and the trial reports the
running mean after each fold, so a bad trial can be pruned between folds too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sentibench.bench.lock import slurm_job_id
from sentibench.data.dataset import Splits, load_training_splits
from sentibench.errors import Pruned
from sentibench.registry import get_spec
from sentibench.runs import MARKER, load_run
from sentibench.train.runner import run_training
from sentibench.tune.job import TuneJob
from sentibench.tune.space import SearchSpace, as_overrides

FALLBACK_VAL_FRACTION = 0.1  # a preset made for the refit (val_fraction = 0) still validates


def trial_overrides(job: TuneJob, base_config: Any) -> list[str]:
    """What every trial sets beyond the space: validation on, a linear model's refit off (the
    scored model must not have trained on its validation rows)."""
    fixed = []
    if base_config.val_fraction == 0:
        fixed.append(f"val_fraction={FALLBACK_VAL_FRACTION}")
    if hasattr(base_config, "refit"):
        fixed.append("refit=false")
    return [*job.overrides, *fixed]


def remove_run_folder(path: Path) -> None:
    """A trial folder left by a killed trial: replaced, only if it is one of ours."""
    if (path / MARKER).exists() or (path / "fold-0" / MARKER).exists():
        shutil.rmtree(path)


def fold_splits(job: TuneJob, seed: int) -> list[Splits]:
    """Stratified k folds of the official training split (the test file is never opened)."""
    from sklearn.model_selection import StratifiedKFold

    whole = load_training_splits(job.data, 0.0, seed)
    train = whole.train
    folds = StratifiedKFold(job.folds, shuffle=True, random_state=seed)
    return [
        Splits(
            train.iloc[fit].reset_index(drop=True),
            train.iloc[held].reset_index(drop=True),
            whole.test,
            whole.source,
            whole.sha256,
            test_read=False,
            label_names=whole.label_names,
        )
        for fit, held in folds.split(train, train["label"])
    ]


def epoch_reporter(trial: Any, pruner: str, metric: str) -> Callable[[dict[str, Any]], None]:
    """Report each epoch's validation `metric` to the study (rows without it, e.g. the Trainer
    recipe's with macro_f1, are not reported: a pruner never compares two metrics)."""

    def report(row: dict[str, Any]) -> None:
        value = row.get(f"val_{metric}")
        if value is None:
            return
        trial.report(value, row["epoch"])
        if trial.should_prune():
            raise Pruned(
                f"pruned by the {pruner} pruner after epoch {row['epoch']} "
                f"(validation {metric} {value:.4f})"
            )

    return report


def run_trial(job: TuneJob, space: SearchSpace, base_config: Any, trial: Any) -> float:
    """Train the trial's settings; its validation score. Raises errors.Pruned when pruned."""
    values = space.suggest(trial)
    folder = job.trial_dir(trial.number)
    remove_run_folder(folder)
    trial.set_user_attr("run", str(folder))
    trial.set_user_attr("worker", job.worker)
    if slurm_job_id():  # which Slurm job trained it (its log: logs/slurm/)
        trial.set_user_attr("slurm_job", slurm_job_id())
    overrides = [*trial_overrides(job, base_config), *as_overrides(values)]
    common = dict(data=job.data, preset=job.preset, overrides=overrides, score_on="validation")
    if job.folds == 1:
        reporter = epoch_reporter(trial, job.pruner, job.metric)
        run_training(job.model, out=folder, on_epoch_end=reporter, **common)  # type: ignore[arg-type]
        return float(load_run(folder).metrics[job.metric])  # type: ignore[index]
    scores: list[float] = []
    seed = getattr(base_config, "seed", 0)
    for k, splits in enumerate(fold_splits(job, seed)):
        out = folder / f"fold-{k}"
        run_training(job.model, out=out, splits=splits, **common)  # type: ignore[arg-type]
        scores.append(float(load_run(out).metrics[job.metric]))  # type: ignore[index]
        trial.report(float(np.mean(scores)), k)
        if k + 1 < job.folds and trial.should_prune():
            raise Pruned(f"pruned after {k + 1} of {job.folds} folds (mean {np.mean(scores):.4f})")
    return float(np.mean(scores))


def default_folds(model: str) -> int:
    """Linear models fit in seconds, so they are scored by 3-fold CV; nets on one validation."""
    return 3 if get_spec(model).family == "linear" else 1
