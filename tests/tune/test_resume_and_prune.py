"""kill -9 in the middle of a study, then the same command again (with two workers): exactly
N finished trials; and the median pruner stopping a clearly bad trial of a quick net (recorded
as pruned)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
from optuna.trial import TrialState

from sentibench.eval.leaderboard import write_leaderboard
from sentibench.runs import load_run
from sentibench.tune.study import load_study, make_pruner, make_sampler
from sentibench.tune.tuner import tune

from .helpers import FAST_LINEAR, fast_linear_space, make_job

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def tune_command(tmp_path, trials: int) -> list[str]:
    return [sys.executable, "-m", "sentibench.cli", "tune", "tfidf_lr", "--data", "sample",
            "--trials", str(trials), "--folds", "2", "--study", "s", "--pruner", "none", "--runs",
            str(tmp_path / "runs"), "--space", str(fast_linear_space(tmp_path)),
            *(f"--set={item}" for item in FAST_LINEAR)]  # fmt: skip


def test_kill_9_mid_study_then_two_workers_finish_it_with_exactly_n(tmp_path):
    """Killed while its first trial trains; the same study rerun by two local workers reaches
    exactly N finished trials: the killed one marked failed and its folder replaced, no trial
    number twice, both workers asking the one study for trials."""
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(tune_command(tmp_path, 4), env=env, stderr=subprocess.PIPE)
    study_dir = tmp_path / "runs" / "tune" / "s"
    deadline = time.monotonic() + 60
    while not (study_dir / "trial-0" / "fold-0").exists():  # the first trial is training
        assert first.poll() is None and time.monotonic() < deadline, "tune ended before trial 0"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    parallel = ["--executor", "local", "--max-parallel", "2", "--cpus-per-run", "1"]
    done = subprocess.run([*tune_command(tmp_path, 4), *parallel], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "left running by a stopped tune" in done.stderr
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{study_dir / 'study.db'}")
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 4 and states.count(TrialState.FAIL) == 1
    numbers = [t.number for t in study.trials]
    assert len(set(numbers)) == len(numbers)
    killed = next(t.number for t in study.trials if t.state == TrialState.FAIL)
    assert not (study_dir / f"trial-{killed}").exists()  # its half-written folder replaced
    workers = {t.user_attrs.get("worker") for t in study.trials if t.state == TrialState.COMPLETE}
    assert workers == {0, 1}  # both processes took trials from the one study


def test_median_pruner_prunes_a_clearly_bad_net_trial(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text("lr = {low = 1e-3, high = 100.0, log = true}\n")
    small = ["threads=1", "epochs=2", "max_vocab=3000", "model.filters=8", "require_learning=false"]
    job = make_job(tmp_path, model="cnn", preset="quick", trials=2, space=str(path),
                   sampler="random", overrides=small)  # fmt: skip
    job.folder.mkdir(parents=True)
    study = load_study("s", job.storage, make_sampler("random", 0), make_pruner("median", 2))
    study.enqueue_trial({"lr": 0.003})  # a good trial first, then one whose steps blow up
    study.enqueue_trial({"lr": 60.0})
    tune(job)
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert [t.params["lr"] for t in pruned] == [60.0]
    record = load_run(job.trial_dir(pruned[0].number))
    assert record.status == "pruned" and "after epoch 1" in record.message
    _, unranked = write_leaderboard(tmp_path / "runs")
    assert [r.status for r in unranked] == ["pruned"]  # listed apart, never ranked
