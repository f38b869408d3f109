"""A TuneJob on the bundled sample with tiny budgets, for the tune tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentibench.registry import get_spec
from sentibench.tune.job import TuneJob
from sentibench.tune.objective import default_folds
from sentibench.tune.space import shipped_space
from sentibench.tune.study import default_storage, study_dir


def make_job(tmp_path: Path, model: str = "tfidf_lr", **values: Any) -> TuneJob:
    runs = tmp_path / "runs"
    study = values.pop("study", "s")
    settings: dict[str, Any] = dict(
        data="sample", trials=3, preset=None, overrides=["threads=1"], seed=0,
        folds=default_folds(model), space=str(shipped_space(model, get_spec(model).family)),
    )  # fmt: skip
    settings.update(values)
    return TuneJob(model=model, study=study, runs_root=str(runs),
                   storage=default_storage(study_dir(runs, study), "local"), **settings)  # fmt: skip
