"""A run that diverged without a NaN is `collapsed`, never ranked (issue: lstm at lr=1e4 had
train loss 48,915 -> 10,487, test accuracy 0.501, status complete, ranked #3)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sentibench.config import apply_values
from sentibench.errors import CollapseError, ConfigError
from sentibench.recipes.classic import ClassicConfig
from sentibench.runs import find_runs, load_run
from sentibench.train.guard import check_above_majority, check_diverged_loss, lower_lr_hint
from sentibench.train.runner import run_training


def test_a_training_loss_far_above_chance_is_divergence():
    check_diverged_loss(0.69)  # at chance: not divergence by itself (the accuracy check decides)
    check_diverged_loss(None)
    with pytest.raises(CollapseError, match=r"far above chance level \(0\.693 = ln 2"):
        check_diverged_loss(10_487.0)
    with pytest.raises(CollapseError, match="ln 3"):
        check_diverged_loss(2.5, classes=3)


def test_validation_accuracy_must_beat_the_majority_rate_by_its_interval():
    balanced = np.array([0, 1] * 100)  # 200 reviews, majority 0.5
    check_above_majority(0.62, balanced)  # Wilson 95% low ~0.55 > 0.5
    with pytest.raises(CollapseError, match="not above the majority-class rate 0.500"):
        check_above_majority(0.55, balanced)  # low ~0.48
    skewed = np.array([0] * 180 + [1] * 20)  # majority 0.9: 0.9 accuracy is one class
    with pytest.raises(CollapseError, match="majority-class rate 0.900"):
        check_above_majority(0.9, skewed)


def test_the_hint_never_suggests_a_non_finite_learning_rate():
    assert lower_lr_hint(0.1) == " (e.g. lr=0.01)"
    assert lower_lr_hint(math.inf) == "" and lower_lr_hint(math.nan) == ""


def test_lstm_at_lr_1e4_is_collapsed_and_not_ranked(tmp_path):
    runs = tmp_path / "runs"
    out = runs / "lstm-diverged"
    with pytest.raises(CollapseError, match="diverged|learned nothing"):
        overrides = ["lr=1e4", "threads=1", "epochs=1"]
        run_training("lstm", data="sample", preset="quick", overrides=overrides, out=out)
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "collapsed" and status["message"]
    assert load_run(out).status == "collapsed"
    assert [r.status for r in find_runs(runs)] == ["collapsed"]  # the report ranks complete only


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused_before_any_run(value):
    with pytest.raises(ConfigError, match=f"'lr' must be a finite number, got {value}"):
        apply_values(ClassicConfig(), {"lr": float(value)})
