"""The shared training loop on a stand-in model: it learns, records, stops early, groups
learning rates, and the collapse guard stops diverged or one-class runs."""

from __future__ import annotations

import pytest
import torch
from loop_standin import Constant, MeanPool, train

from sentibench.errors import CollapseError
from sentibench.runs import RunDir
from sentibench.train.guard import CollapseGuard, one_class_share
from sentibench.train.loop import LoopConfig, linear_warmup_decay, parameter_groups


def new_run(path) -> RunDir:
    run = RunDir(path)
    run.create()
    return run


def config(**changes) -> LoopConfig:
    values = dict(epochs=4, lr=0.05, threads=1, progress=False, seed=1)
    return LoopConfig(**{**values, **changes})


def test_learns_and_writes_one_history_row_per_epoch(tmp_path):
    torch.manual_seed(0)
    run = new_run(tmp_path / "run")
    result = train(MeanPool(), config(epochs=3), run)
    assert result.best_accuracy >= 0.95
    history = run.history()
    assert [row["epoch"] for row in history] == [1, 2, 3]
    for key in ("train_loss", "val_loss", "val_accuracy", "lr", "seconds", "reviews_per_s"):
        assert key in history[0]
    assert history[0]["train_loss"] > history[-1]["train_loss"]
    assert history[-1]["step"] == 30  # 160 examples / batch 16 * 3 epochs
    assert (run.checkpoint_dir / "state.json").is_file()
    assert "val accuracy" in run.log_path.read_text()


def test_best_epoch_weights_are_restored_and_early_stopping_ends_the_run():
    torch.manual_seed(0)
    model, best = MeanPool(), {}

    def sabotage(row):  # after epoch 2, flip the classifier: epoch 3 gets (much) worse
        if row["epoch"] == 2:
            best.update({k: v.clone() for k, v in model.state_dict().items()})
            with torch.no_grad():
                model.out.weight.neg_()
                model.out.bias.neg_()

    result = train(model, config(epochs=6, patience=1, lr=0.01), on_epoch_end=sabotage)
    accuracies = [row["val_accuracy"] for row in result.history]
    assert len(accuracies) == 3 and accuracies[2] < accuracies[1]
    assert (result.best_epoch, result.epochs_run, result.stopped_early) == (2, 3, True)
    assert all(torch.equal(v, best[k]) for k, v in result.model.state_dict().items())


def test_without_validation_every_epoch_runs_and_the_last_is_kept(tmp_path):
    torch.manual_seed(0)
    model, second = MeanPool(), {}

    def sabotage(row):  # after epoch 2, flip the classifier: with validation, epoch 2 is kept
        if row["epoch"] == 2:
            second.update({k: v.clone() for k, v in model.state_dict().items()})
            with torch.no_grad():
                model.out.weight.neg_()
                model.out.bias.neg_()

    run = new_run(tmp_path / "run")
    result = train(
        model, config(epochs=3, patience=1, require_learning=False), run, sabotage, validate=False
    )
    assert (result.best_epoch, result.epochs_run, result.stopped_early) == (3, 3, False)
    assert result.best_accuracy is None
    # kept: the flipped classifier as epoch 3 left it, not epoch 2's
    kept = result.model.state_dict()["out.weight"].flatten()
    assert torch.dot(kept, second["out.weight"].flatten()) < 0
    history = run.history()
    assert [row["val_accuracy"] for row in history] == [None, None, None]
    assert history[1]["train_accuracy"] >= 0.9 > history[2]["train_accuracy"]
    assert 0.5 <= history[1]["train_one_class_share"] < 0.9  # 160 balanced examples
    assert "no validation split: all 3 epochs" in run.log_path.read_text()


def test_without_validation_one_class_training_predictions_are_a_collapse():
    with pytest.raises(CollapseError, match="one class for 100.0% of the training reviews"):
        train(Constant(), config(lr=1e-4, collapse_patience=2), validate=False)


def test_gradient_accumulation_halves_the_optimizer_steps():
    torch.manual_seed(0)
    result = train(MeanPool(), config(epochs=1, grad_accum=2))
    assert result.history[-1]["step"] == 5


def test_parameter_groups_give_the_embedding_its_own_rate_and_spare_biases_decay():
    groups = parameter_groups(MeanPool(), 1e-3, 0.01, {"embedding": 1e-4})
    by_rate = {(g["lr"], g["weight_decay"]): sum(p.numel() for p in g["params"]) for g in groups}
    assert by_rate == {(1e-4, 0.01): 30 * 8, (1e-3, 0.01): 16, (1e-3, 0.0): 2}


def test_warmup_then_linear_decay():
    factor = linear_warmup_decay(2, 10)
    assert [round(factor(s), 3) for s in (0, 1, 2, 6, 10)] == [0.0, 0.5, 1.0, 0.5, 0.0]


def test_huge_learning_rate_triggers_the_collapse_guard(tmp_path):
    torch.manual_seed(0)
    with pytest.raises(CollapseError, match=r"loss became nan at step \d+ .*lower learning rate"):
        train(MeanPool(), config(lr=1e30, clip_norm=0.0), new_run(tmp_path / "run"))


def test_one_class_predictions_are_a_collapse_after_the_patience_epochs(tmp_path):
    run = new_run(tmp_path / "run")
    with pytest.raises(CollapseError, match="predicts one class for 100.0% .* after 2 epoch"):
        train(Constant(), config(lr=1e-4, collapse_patience=2), run)
    assert len(run.history()) == 2  # the collapsed epoch is still in the curves
    with pytest.raises(CollapseError, match="predicts one class"):  # a 1-epoch run too
        train(Constant(), config(epochs=1, lr=1e-4, collapse_patience=2))


def test_guard_rules():
    guard = CollapseGuard(collapse_patience=2)
    guard.check_one_class(1.0, epoch=1)  # allowed to start one-sided
    guard.check_one_class(0.97, epoch=3)
    with pytest.raises(CollapseError):
        guard.check_one_class(0.98, epoch=2)
    with pytest.raises(CollapseError, match="step 7 with learning rate 0.01"):
        guard.check_loss(float("inf"), step=7, lr=0.01)
    assert one_class_share(torch.tensor([1, 1, 1, 0]).numpy()) == 0.75
