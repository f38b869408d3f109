"""A TuneJob on the bundled sample with tiny budgets, for the tune tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentibench.registry import get_spec
from sentibench.tune.job import TuneJob
from sentibench.tune.objective import default_folds
from sentibench.tune.space import shipped_space
from sentibench.tune.study import default_storage, study_dir

FAST_LINEAR_SPACE = "C = {low = 0.5, high = 50.0, log = true}\nmin_df = [2, 3]\n"
FAST_LINEAR = ["threads=1", "ngram_max=1"]  # unigrams: a fold fits in well under a second


def fast_linear_space(tmp_path: Path) -> Path:
    path = tmp_path / "linear-space.toml"
    path.write_text(FAST_LINEAR_SPACE)
    return path


def make_job(tmp_path: Path, model: str = "tfidf_lr", **values: Any) -> TuneJob:
    """Defaults: tfidf_lr on unigrams over a two-key space, 2 folds, 3 trials."""
    runs = tmp_path / "runs"
    if model == "tfidf_lr":
        values.setdefault("space", str(fast_linear_space(tmp_path)))
        values.setdefault("overrides", FAST_LINEAR)
        values.setdefault("folds", 2)
    study = values.pop("study", "s")
    settings: dict[str, Any] = dict(
        data="sample", trials=3, preset=None, overrides=["threads=1"], seed=0,
        folds=default_folds(model), space=str(shipped_space(model, get_spec(model).family)),
    )  # fmt: skip
    settings.update(values)
    storage = default_storage(study_dir(runs, study), "local")
    return TuneJob(model=model, study=study, runs_root=str(runs), storage=storage, **settings)
