"""Collapse guard: stop a run that diverged or learned to predict one class.

The original project published two 0.5 rows this way: an LSTM whose loss went NaN under Adam
with lr 0.05, and a capsule net that predicted one class. Here both end the run with a
CollapseError whose one sentence says what happened and what to try; the runner marks the run
`collapsed`, and collapsed runs are never ranked. At the end of training two more checks catch
a model that diverged without a NaN (lstm at lr=1e4: train loss 48,915 -> 10,487, test 0.50):
a last-epoch training loss far above chance level (ln k, the cross-entropy of a uniform guess
over k classes), and a kept model whose validation accuracy is not above the majority-class
rate by its 95% Wilson interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sentibench.errors import CollapseError
from sentibench.metrics import wilson_interval

# Share of validation predictions in the majority class from which a model counts as
# predicting one class: on a balanced split, 98% means it has all but given up on one class.
ONE_CLASS_SHARE = 0.98
# A final training loss above this many times chance level (ln k) is divergence: a model that
# learned nothing sits at ln k, any model that learned something below it.
DIVERGED_LOSS_FACTOR = 2.0


def lower_lr_hint(lr: float) -> str:
    """A learning rate to suggest: a tenth of a finite one; none for nan/inf (refused anyway)."""
    return f" (e.g. lr={lr / 10:.3g})" if math.isfinite(lr) and lr > 0 else ""


def check_diverged_loss(train_loss: float | None, classes: int = 2) -> None:
    """Raise CollapseError if the last epoch's mean training loss is far above ln(classes)."""
    chance = math.log(classes)
    if train_loss is not None and train_loss > DIVERGED_LOSS_FACTOR * chance:
        raise CollapseError(
            f"Training diverged: the last epoch's training loss is {train_loss:.4g}, far above "
            f"chance level ({chance:.3f} = ln {classes}, a uniform guess); try a lower learning "
            "rate or gradient clipping (clip_norm=1.0)."
        )


def check_above_majority(accuracy: float, labels: np.ndarray) -> None:
    """Raise CollapseError unless validation `accuracy` is above the majority-class rate of
    `labels` by its 95% Wilson interval (the model must have learned something)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return
    majority = float(np.bincount(labels).max() / labels.size)
    low, high = wilson_interval(round(accuracy * labels.size), labels.size)
    if low <= majority:
        raise CollapseError(
            f"The kept model's validation accuracy {accuracy:.3f} (95% interval {low:.3f}-"
            f"{high:.3f}, {labels.size} reviews) is not above the majority-class rate "
            f"{majority:.3f}: it learned nothing; try a lower learning rate, more epochs or "
            "another seed."
        )


def check_loss(loss: float, step: int, lr: float) -> None:
    """Raise CollapseError if the training loss is NaN or infinite."""
    if not math.isfinite(loss):
        raise CollapseError(
            f"Training diverged: the loss became {loss} at step {step} with learning rate "
            f"{lr:.3g}; try a lower learning rate{lower_lr_hint(lr)} or gradient clipping "
            "(clip_norm=1.0)."
        )


def one_class_share(predictions: np.ndarray) -> float:
    """Share of predictions (label ids 0..k-1) that fall in the most frequent class."""
    predictions = np.asarray(predictions, dtype=np.int64)
    if predictions.size == 0:
        return 0.0
    return float(np.bincount(predictions).max() / predictions.size)


def check_not_one_class(name: str, predicted_share: float, true_share: float, split: str) -> None:
    """Raise CollapseError if `predicted_share` of the `split` reviews (>= ONE_CLASS_SHARE) go to
    one class while the data has others (its largest class holds `true_share` < 1)."""
    if predicted_share >= ONE_CLASS_SHARE and true_share < 1.0:
        raise CollapseError(
            f"{name} predicts one class for {predicted_share:.1%} "
            f"of the {split} reviews; it has collapsed (try a lower learning rate)."
        )


@dataclass
class CollapseGuard:
    """Checks each step's loss and the one-class share of the kept model's validation
    predictions.

    `collapse_patience` epochs may predict one class (a net can start that way); from then on,
    and at the end of training whatever the epoch, the model that will be kept (the best so
    far) must not put >= ONE_CLASS_SHARE of the validation reviews in one class. A model that
    was fine and degrades later is not a collapse: early stopping keeps its best epoch.
    """

    collapse_patience: int = 2

    def check_loss(self, loss: float, step: int, lr: float) -> None:
        check_loss(loss, step, lr)

    def check_final(
        self,
        train_loss: float | None,
        accuracy: float | None,
        labels: np.ndarray | None,
        classes: int = 2,
    ) -> None:
        """At the end of training: the divergence checks (see the module doc); `accuracy` and
        `labels` are the kept model's validation ones, None in a refit without validation;
        `classes` is the model's number of outputs (chance loss ln classes)."""
        check_diverged_loss(train_loss, classes)
        if accuracy is not None and labels is not None:
            check_above_majority(accuracy, labels)

    def check_one_class(
        self, share: float, epoch: int, final: bool = False, reviews: str = "validation"
    ) -> None:
        """`reviews` names the predictions the share is of: "validation", or "training" in a
        refit without validation."""
        if epoch < self.collapse_patience and not final:
            return
        if share >= ONE_CLASS_SHARE:
            raise CollapseError(
                f"The model predicts one class for {share:.1%} of the {reviews} reviews after "
                f"{epoch} epoch(s), so it has collapsed; try a lower learning rate, gradient "
                "clipping or another seed."
            )
