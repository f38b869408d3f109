"""Checkpoint and resume: a run killed with SIGKILL mid-epoch and resumed ends exactly like an
uninterrupted run with the same seed."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from loop_standin import MeanPool, resume_config, train

from sentibench.errors import SentibenchError
from sentibench.runs import RunDir
from sentibench.train.checkpoint import find_checkpoint

TIMING = ("seconds", "val_seconds", "reviews_per_s")
BATCHES_PER_EPOCH = 10  # 160 training examples, batch 16


def new_run(path: Path) -> RunDir:
    run = RunDir(path)
    run.create()
    return run


def curves(run: RunDir) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in run.history()]


def fresh_train(run: RunDir, **changes):
    torch.manual_seed(0)  # the same initial weights as the killed process had
    return train(MeanPool(), dataclasses.replace(resume_config(), **changes), run)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run = new_run(tmp_path_factory.mktemp("uninterrupted") / "run")
    result = fresh_train(run)
    return run, result


def test_kill_9_mid_epoch_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
    reference_run, reference = uninterrupted
    run = RunDir(tmp_path / "run")
    script = Path(__file__).with_name("loop_standin.py")
    kill_at = BATCHES_PER_EPOCH + 3  # three batches into epoch 2
    killed = subprocess.run(
        [sys.executable, str(script), str(run.path), str(kill_at)], capture_output=True, text=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert [row["epoch"] for row in run.history()] == [1]  # epoch 2 was lost, nothing more

    result = fresh_train(run)
    assert "resumed from the checkpoint after epoch 1" in run.log_path.read_text()
    assert curves(run) == curves(reference_run)
    assert (result.best_epoch, result.best_accuracy) == (
        reference.best_epoch,
        reference.best_accuracy,
    )
    reference_weights = reference.model.state_dict()
    for name, value in result.model.state_dict().items():
        assert torch.equal(value, reference_weights[name]), name


def test_history_rows_after_the_checkpoint_are_dropped_on_resume(tmp_path, uninterrupted):
    reference_run, _ = uninterrupted
    run = new_run(tmp_path / "run")

    class Killed(Exception):
        pass

    def kill_after_first_epoch(row):
        if row["epoch"] == 1:
            raise Killed

    torch.manual_seed(0)
    with pytest.raises(Killed):
        train(MeanPool(), resume_config(), run, on_epoch_end=kill_after_first_epoch)
    # a kill between writing epoch 2's history row and its checkpoint leaves a stray row
    run.append_history({"epoch": 2, "val_accuracy": -1.0})
    fresh_train(run)
    assert curves(run) == curves(reference_run)


def test_finished_checkpoint_is_not_trained_again(tmp_path):
    run = new_run(tmp_path / "run")
    first = fresh_train(run, epochs=2)
    again = fresh_train(run, epochs=2)
    assert len(run.history()) == 2
    for name, value in again.model.state_dict().items():
        assert torch.equal(value, first.model.state_dict()[name])


def test_checkpoint_left_mid_swap_is_found(tmp_path):
    run = new_run(tmp_path / "run")

    def stop(row):
        raise KeyboardInterrupt

    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        train(MeanPool(), resume_config(), run, on_epoch_end=stop)
    # a kill between the two renames of save_checkpoint leaves only the previous one, aside
    old = run.checkpoint_dir.parent / f".{run.checkpoint_dir.name}.old"
    run.checkpoint_dir.rename(old)
    assert find_checkpoint(run.checkpoint_dir) == old
    fresh_train(run)
    assert [row["epoch"] for row in run.history()] == [1, 2, 3]


def test_checkpoint_of_other_settings_is_refused(tmp_path):
    run = new_run(tmp_path / "run")
    fresh_train(run, epochs=1)
    with pytest.raises(SentibenchError, match="written with other training settings"):
        fresh_train(run, epochs=1, lr=0.001)


def test_refit_without_validation_resumes_to_the_same_weights(tmp_path):
    def refit(run: RunDir, on_epoch_end=None):
        torch.manual_seed(0)
        return train(MeanPool(), resume_config(), run, on_epoch_end, validate=False)

    reference = refit(new_run(tmp_path / "reference"))

    def crash_after_epoch_1(row):  # called once the epoch's checkpoint is written
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    run = new_run(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        refit(run, crash_after_epoch_1)
    result = refit(run)
    assert "resumed from the checkpoint after epoch 1" in run.log_path.read_text()
    assert curves(run) == curves(RunDir(tmp_path / "reference"))
    assert (result.best_epoch, result.best_accuracy) == (3, None)
    reference_weights = reference.model.state_dict()
    for name, value in result.model.state_dict().items():
        assert torch.equal(value, reference_weights[name]), name
