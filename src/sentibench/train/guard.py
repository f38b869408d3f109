"""Collapse guard: stop a run that diverged or learned to predict one class.

The seed published two 0.5 rows this way: an LSTM whose loss went NaN under Adam with lr 0.05,
and a capsule net that predicted one class. Here both end the run with a CollapseError whose
one sentence says what happened and what to try; the runner marks the run `collapsed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sentibench.errors import CollapseError

# Share of validation predictions in the majority class from which a model counts as
# predicting one class: on a balanced split, 98% means it has all but given up on one class.
ONE_CLASS_SHARE = 0.98


def check_loss(loss: float, step: int, lr: float) -> None:
    """Raise CollapseError if the training loss is NaN or infinite."""
    if not math.isfinite(loss):
        raise CollapseError(
            f"Training diverged: the loss became {loss} at step {step} with learning rate "
            f"{lr:.3g}; try a lower learning rate (e.g. lr={lr / 10:.3g}) or gradient clipping "
            "(clip_norm=1.0)."
        )


def one_class_share(predictions: np.ndarray) -> float:
    """Share of predictions (0/1 labels) that fall in the more frequent class."""
    predictions = np.asarray(predictions)
    if predictions.size == 0:
        return 0.0
    positive = float(predictions.mean())
    return max(positive, 1.0 - positive)


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
