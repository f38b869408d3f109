"""The tune mechanics on the fast linear models: trials never read the test split, a written
preset is the best trial again, the report (two local workers sharing one study: in
test_resume_and_prune.py)."""

from __future__ import annotations

import os
import shutil

from optuna.trial import TrialState

from sentibench.data.dataset import SAMPLE_DIR
from sentibench.registry import get_spec
from sentibench.runs import find_runs, load_run
from sentibench.train.runner import resolve_config
from sentibench.tune.preset import write_preset
from sentibench.tune.report import write_report
from sentibench.tune.search import prepare
from sentibench.tune.tuner import tune

from .helpers import make_job


def unreadable_test_split(tmp_path):
    """The bundled sample with its test file replaced by garbage and made unreadable."""
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DIR, data)
    (data / "test.parquet").write_bytes(b"not a parquet file")
    os.chmod(data / "test.parquet", 0)  # root reads it anyway: the garbage still fails a read
    return data


def test_trials_never_read_the_test_split_then_preset_and_report(tmp_path, monkeypatch):
    data = unreadable_test_split(tmp_path)
    job = make_job(tmp_path, data=str(data), trials=3, pruner="none")
    study = tune(job)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 3
    folds = [r for r in find_runs(tmp_path / "runs") if r.path.name.startswith("fold-")]
    assert len(folds) == 6 and all(r.metrics["split"] == "validation" for r in folds)
    assert not any((r.path / "predictions.csv").exists() for r in folds)

    monkeypatch.chdir(tmp_path)  # the preset goes to ./configs/ and is found there by name
    path = write_preset(job, prepare(job)[0], study, "tuned")
    assert path == tmp_path.joinpath("configs", "tfidf_lr.tuned.toml").relative_to(tmp_path)
    assert "trial" in path.read_text().splitlines()[0]
    spec = get_spec("tfidf_lr")
    config, _ = resolve_config(spec, spec.load_recipe(), "tuned", None, [], None)
    best = load_run(
        tmp_path / "runs" / "tune" / "s" / f"trial-{study.best_trial.number}" / "fold-0"
    )
    trained = dict(best.config["config"])
    # the trial ran with threads=1 (the machine) and refit off (scored on held-out rows)
    for key in ("threads", "refit"):
        trained.pop(key)
    resolved = {k: v for k, v in vars(config).items() if k not in ("threads", "refit")}
    assert resolved == trained

    folder = write_report("s", tmp_path / "runs")
    text = (folder / "tune-report.md").read_text()
    assert "Best: trial" in text and "## Top 3" in text and "importance" in text
    assert (folder / "history.png").stat().st_size > 1000
    assert (folder / "parallel.png").stat().st_size > 1000
